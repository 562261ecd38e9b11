"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(ignore_result=True)
def export_job_run(job_id: str) -> None:
    """Run a dashboard export (acks late: a worker killed midway gets it redelivered)."""
    services.export_job_run(job_id=job_id)


@shared_task(ignore_result=True)
def export_jobs_requeue() -> int:
    """Beat: publish again dashboard exports whose first publish was lost."""
    return services.export_jobs_requeue()


@shared_task(ignore_result=True)
def snapshot_take() -> bool:
    """Beat, every SNAPSHOT_INTERVAL: snapshot the database if it changed (advisory-locked)."""
    if not settings.SNAPSHOT_ENABLED:
        return False
    return services.snapshot_take() is not None
