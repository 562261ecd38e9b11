"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(ignore_result=True)
def participants_mark_abandoned() -> int:
    """Beat: participants idle longer than PARTICIPANT_ABANDON_AFTER become `abandoned`."""
    return services.participants_mark_abandoned(idle_seconds=settings.PARTICIPANT_ABANDON_AFTER)


# --- Trials (experiments/trials/tasks.py): imported so the worker registers them ---
from .trials.tasks import node_async_on_deploy, nodes_async_deploy_sweep, trials_release_abandoned  # noqa: E402,F401,E501
