"""Dashboard exports: an ExportJob row, a Celery task that runs it, the zip in artifact storage.

The job row is written in the request's transaction and the task published on commit, errors
caught (a broker outage never breaks the page); a beat sweeper re-publishes jobs left pending.
Progress is written through a second database connection, because the export's own connection
sits in its read-only snapshot transaction.
"""

import logging
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.db import connections, transaction
from django.utils import timezone

from ..assets_hook import ASSET_MODES
from ..models import ExportJob
from ..storage import artifact_storage
from .export import ExportOptionError, export_create

log = logging.getLogger(__name__)

#: A running job not finished after this long is taken to be dead (its worker was killed).
STALE_AFTER = timedelta(hours=2)
MAX_ATTEMPTS = 3


def _publish(job_id) -> None:
    from ..tasks import export_job_run

    try:
        export_job_run.apply_async(args=[str(job_id)], ignore_result=True)
    except Exception:  # the sweeper publishes it later
        log.warning("could not publish export job %s; the sweeper will retry", job_id, exc_info=True)


def export_job_create(*, anonymize: bool, assets: str, include_source: bool = True,
                      requested_by: str = "") -> ExportJob:
    if assets not in ASSET_MODES:
        raise ExportOptionError(f"assets must be one of {', '.join(ASSET_MODES)}")
    with transaction.atomic():
        job = ExportJob.objects.create(anonymize=anonymize, assets=assets,
                                       include_source=include_source,
                                       requested_by=requested_by[:150])
        transaction.on_commit(lambda: _publish(job.pk))
    return job


def export_jobs_requeue(*, older_than: float = 30.0) -> int:
    """Beat sweeper: publish again jobs still pending (their publish was lost)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    ids = list(ExportJob.objects.filter(status=ExportJob.Status.PENDING, created_at__lt=cutoff)
               .values_list("id", flat=True)[:100])
    for job_id in ids:
        _publish(job_id)
    return len(ids)


def _claim(job_id) -> bool:
    now = timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return False
        runnable = job.status == ExportJob.Status.PENDING or (
            job.status == ExportJob.Status.RUNNING and job.started_at
            and job.started_at < now - STALE_AFTER)
        if not runnable:
            return False
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.error, job.finished_at = ExportJob.Status.FAILED, "too many attempts", now
            job.save(update_fields=["status", "error", "finished_at"])
            return False
        job.status, job.started_at, job.attempts = ExportJob.Status.RUNNING, now, job.attempts + 1
        job.stage, job.progress = "starting", 0.0
        job.save(update_fields=["status", "started_at", "attempts", "stage", "progress"])
    return True


class _JobProgress:
    """tqdm-like bars whose state goes to the job row (throttled) over a side connection."""

    STAGES = ("database", "analysis sheets", "logs", "assets")

    def __init__(self, job_id) -> None:
        self.job_id = str(job_id)
        self.conn = connections.create_connection("default")
        self.conn.inc_thread_sharing()  # the export writes data/ sheets from a second thread
        self.lock = threading.Lock()
        self.last = 0.0
        self.fraction = 0.0

    def write(self, stage: str, fraction: float, force: bool = False) -> None:
        # Stages run side by side (lanes), so the bar only ever moves forward.
        fraction = self.fraction = max(fraction, self.fraction)
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        with self.lock, self.conn.cursor() as cursor:
            cursor.execute(f"UPDATE {ExportJob._meta.db_table} SET stage = %s, progress = %s "
                           "WHERE id = %s", [stage[:255], round(min(max(fraction, 0.0), 0.99), 4),
                                             self.job_id])

    def __call__(self, description: str, total: int) -> "_Bar":
        return _Bar(self, description, total)

    def close(self) -> None:
        self.conn.dec_thread_sharing()
        self.conn.close()


class _Bar:
    def __init__(self, owner: _JobProgress, description: str, total: int) -> None:
        self.owner, self.description, self.total, self.n = owner, description, total, 0
        stages = owner.STAGES
        self.index = stages.index(description) if description in stages else len(stages) - 1
        owner.write(description, self.index / len(stages), force=True)

    def update(self, n: int = 1) -> None:
        self.n += n
        within = min(self.n / self.total, 1.0) if self.total else 0.0
        self.owner.write(self.description, (self.index + within) / len(self.owner.STAGES))

    def close(self) -> None:
        pass


def export_job_run(*, job_id) -> ExportJob | None:
    """Run one job (idempotent: a job already done or running elsewhere is left alone)."""
    if not _claim(job_id):
        return None
    job = ExportJob.objects.get(pk=job_id)
    progress = _JobProgress(job.pk)
    try:
        with tempfile.TemporaryDirectory(prefix="chorus-export-job-") as tmp:
            result = export_create(path=Path(tmp) / f"export-{job.pk}", assets=job.assets,
                                   anonymize=job.anonymize, source=job.include_source, zip=True,
                                   progress=progress)
            progress.write("saving", 0.99, force=True)
            stamp = job.created_at.strftime("%Y%m%d-%H%M%S")
            suffix = "-anonymous" if job.anonymize else ""
            with open(result.path, "rb") as stream:
                name = artifact_storage().save(f"exports/export-{stamp}{suffix}-{str(job.pk)[:8]}.zip",
                                               File(stream))
            size = result.path.stat().st_size
        job.status, job.artifact, job.size = ExportJob.Status.DONE, name, size
        job.row_counts, job.stage, job.progress = result.manifest["row_counts"], "done", 1.0
    except Exception as exc:
        log.exception("export job %s failed", job.pk)
        job.status, job.error, job.stage = ExportJob.Status.FAILED, str(exc)[:5000], "failed"
    finally:
        progress.close()
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "artifact", "size", "row_counts", "stage", "progress",
                            "error", "finished_at"])
    return job
