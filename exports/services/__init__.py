"""Every write of the exports app (exports, snapshots, restores, dashboard jobs)."""

from .export import ExportError, ExportOptionError, ExportResult, export_create
from .jobs import export_job_create, export_job_run, export_jobs_requeue
from .restore import (
    RestoreError,
    RestoreOptionError,
    RestoreResult,
    database_restore,
    snapshot_latest,
    snapshot_restore_latest,
)
from .snapshot import snapshot_take, snapshots_prune

__all__ = [
    "ExportError", "ExportOptionError", "ExportResult", "RestoreError", "RestoreOptionError",
    "RestoreResult", "database_restore", "export_create", "export_job_create", "export_job_run",
    "export_jobs_requeue", "snapshot_latest", "snapshot_restore_latest", "snapshot_take",
    "snapshots_prune",
]
