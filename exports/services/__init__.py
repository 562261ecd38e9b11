"""Every write of the exports app (exports, snapshots, restores, dashboard jobs)."""

from .export import ExportError, ExportOptionError, ExportResult, export_create
from .jobs import export_job_create, export_job_run, export_jobs_requeue
from .restore import RestoreError, RestoreResult, database_restore
from .snapshot import snapshot_take, snapshots_prune

__all__ = [
    "ExportError", "ExportOptionError", "ExportResult", "RestoreError", "RestoreResult",
    "database_restore", "export_create", "export_job_create", "export_job_run",
    "export_jobs_requeue", "snapshot_take", "snapshots_prune",
]
