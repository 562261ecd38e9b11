"""Celery tasks: thin wrappers that call a service.

Deposits use acks_late + reject_on_worker_lost, so a worker killed mid-deposit gives the
message back; the deposit itself is idempotent and counts attempts in the row.
"""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def asset_deposit(asset_id: int) -> str:
    outcome = services.asset_deposit(asset_id=asset_id)
    if outcome.retry_in is not None:
        services.deposit_enqueue(asset_id, countdown=outcome.retry_in)
    return outcome.status


@shared_task(ignore_result=True)
def deposits_backstop() -> int:
    """Beat: re-enqueue deposits stuck in pending (advisory-locked; scheduled with `expires`)."""
    requeued = services.deposits_requeue_stuck()
    services.inbox_sweep()
    return requeued
