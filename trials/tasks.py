"""Celery tasks of trial makers: thin, load by id and call a service."""

from celery import shared_task

from . import services


@shared_task(bind=True, ignore_result=True, acks_late=True, max_retries=None)
def node_async_on_deploy(self, node_id: int) -> bool:
    """Run a node's async_on_deploy; retry with backoff (the attempt count is on the row)."""
    try:
        return services.node_async_deploy(node_id=node_id)
    except Exception as exc:
        if services.node_async_deploy_failed(node_id=node_id, error=f"{type(exc).__name__}: {exc}"):
            return False
        raise self.retry(exc=exc, countdown=min(60, 2 ** self.request.retries)) from exc


@shared_task(ignore_result=True)
def nodes_async_deploy_sweep() -> int:
    """Beat backstop: re-enqueue nodes whose async_on_deploy was never run (lost publish)."""
    return services.nodes_async_deploy_sweep()


@shared_task(ignore_result=True)
def trials_release_abandoned() -> int:
    """Beat: fail unfinished trials of abandoned participants so their nodes take new trials."""
    return services.trials_release_abandoned()
