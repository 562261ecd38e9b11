"""Nodes' `async_on_deploy`, run on a Celery worker: scheduled after commit (an outbox: the
rows are the record), retried with a counted attempt per run, swept by the beat.

No row locks: counts and readiness are single conditional UPDATEs. The sweeper takes a
transaction-scoped advisory lock so overlapping beats do not double-enqueue.
"""

import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from experiments.loading import get_experiment, in_experiment_folder
from experiments.locks import Space, try_xact_lock

from ..models import Node

logger = logging.getLogger(__name__)


#: A node's async_on_deploy is tried this many times before the node is failed.
MAX_ASYNC_ATTEMPTS = 5


def nodes_async_deploy_schedule(*, trial_maker_id: str | None = None, node_ids: Iterable[int] | None = None) -> None:
    """After commit, enqueue async_on_deploy for not-ready nodes (an outbox: the rows are the
    record, the beat sweeper re-enqueues whatever a lost publish left behind)."""
    if node_ids is None:
        node_ids = list(Node.objects.filter(trial_maker_id=trial_maker_id, ready=False, failed=False)
                        .values_list("pk", flat=True))
    node_ids = list(node_ids)
    if node_ids:
        transaction.on_commit(lambda: nodes_async_deploy_enqueue(node_ids=node_ids))


def nodes_async_deploy_enqueue(*, node_ids: list[int]) -> int:
    """Publish one task per node; stop at the first broker error (the sweeper retries later)."""
    from ..tasks import node_async_on_deploy

    sent = 0
    for node_id in node_ids:
        try:
            node_async_on_deploy.apply_async((node_id,), ignore_result=True)
        except Exception:  # broker down: never fail the request; the rows stay not ready
            logger.warning("could not enqueue async_on_deploy for node %s; the sweeper will retry", node_id,
                           exc_info=True)
            break
        sent += 1
    return sent


def node_async_deploy(*, node_id: int) -> bool:
    """Run a node's async_on_deploy and mark it ready. Returns False if there was nothing to do.

    The hook runs outside any transaction (it may be slow); the attempt is counted first, and
    errors are recorded on the row. Raises what the hook raised (the task retries).
    """
    get_experiment()  # researcher node classes are registered when the experiment is imported
    node = Node.objects.filter(pk=node_id).first()
    if node is None or node.ready or node.failed:
        return False
    Node.objects.filter(pk=node_id).update(async_attempts=F("async_attempts") + 1)
    try:
        with in_experiment_folder():  # relative paths name files next to experiment.py, as in PsyNet
            node.async_on_deploy()
    except Exception as exc:
        Node.objects.filter(pk=node_id).update(async_error=f"{type(exc).__name__}: {exc}"[:10_000])
        raise
    Node.objects.filter(pk=node_id, ready=False).update(ready=True, async_deployed_at=timezone.now(), async_error="")
    return True


def node_async_deploy_failed(*, node_id: int, error: str) -> bool:
    """An attempt failed. After MAX_ASYNC_ATTEMPTS the node is failed (participants stop waiting
    for it) and True is returned: do not retry."""
    return bool(Node.objects.filter(pk=node_id, ready=False, async_attempts__gte=MAX_ASYNC_ATTEMPTS).update(
        failed=True, failed_reason=f"async_on_deploy failed: {error}"[:1024], failed_at=timezone.now()))


def nodes_async_deploy_sweep(*, older_than_seconds: float = 60.0) -> int:
    """Beat backstop: re-enqueue nodes still not ready a while after creation."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    with transaction.atomic():
        if not try_xact_lock(Space.TRIAL_JOBS, "async_deploy_sweep"):
            return 0
        node_ids = list(Node.objects.filter(ready=False, failed=False, created_at__lt=cutoff,
                                            async_attempts__lt=MAX_ASYNC_ATTEMPTS).values_list("pk", flat=True)[:1000])
    return nodes_async_deploy_enqueue(node_ids=node_ids) if node_ids else 0
