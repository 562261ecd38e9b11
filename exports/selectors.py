"""Reads of the exports app."""

from django.db.models import QuerySet

from .models import ExportJob, Snapshot


def export_jobs_recent(limit: int = 50) -> QuerySet[ExportJob]:
    return ExportJob.objects.order_by("-created_at")[:limit]


def export_job_by_id(job_id) -> ExportJob | None:
    return ExportJob.objects.filter(pk=job_id).first()


def snapshots_recent(limit: int = 20) -> QuerySet[Snapshot]:
    return Snapshot.objects.order_by("-created_at", "-id")[:limit]
