"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def sync_tick() -> int:
    """Beat (every SYNC_TICK_INTERVAL s): process barriers with waiters, enforce max_wait_time."""
    return len(services.sync_tick().barriers)
