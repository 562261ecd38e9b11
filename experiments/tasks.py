"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(ignore_result=True)
def participants_mark_abandoned() -> int:
    """Beat: participants idle longer than PARTICIPANT_ABANDON_AFTER become `abandoned`."""
    return services.participants_mark_abandoned(idle_seconds=settings.PARTICIPANT_ABANDON_AFTER)

