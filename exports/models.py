"""Bookkeeping of exports: dashboard export jobs and database snapshots.

These tables describe exports, not the experiment, so exports leave them out (exports.tables).
"""

import uuid

from django.db import models


class ExportJob(models.Model):
    """An export started from the dashboard; a Celery worker runs it and stores the zip."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    anonymize = models.BooleanField(default=False)
    assets = models.CharField(max_length=16, default="experiment")
    include_source = models.BooleanField(default=True)
    requested_by = models.CharField(max_length=150, blank=True)
    stage = models.CharField(max_length=255, blank=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    #: Name of the zip in artifact storage.
    artifact = models.CharField(max_length=512, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    row_counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Export {self.created_at:%Y-%m-%d %H:%M} ({self.status})"


class Snapshot(models.Model):
    """A zip of the database/ tables in artifact storage, taken by the beat task."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    artifact = models.CharField(max_length=512)
    size = models.BigIntegerField(default=0)
    #: Cheap change fingerprint of the exported tables when the snapshot was taken.
    fingerprint = models.CharField(max_length=64)
    row_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Snapshot {self.created_at:%Y-%m-%d %H:%M:%S}"
