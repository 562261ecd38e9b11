"""Every write to trials, nodes and networks.

Concurrency.
- Static allocation is optimistic: read a least-used eligible node (ties at random), then
  count the trial on it with a conditional `UPDATE ... SET n_trials = n_trials + 1 WHERE
  n_trials = <the count read>`. If another transaction counted a trial on that node in between
  (committed, or in flight: the UPDATE waits for it), the update matches no row, is rolled back
  to a savepoint (releasing the row lock it took) and the allocator reads again. A node is thus
  only ever incremented from the minimum committed count, so counts never differ by more than
  one, while participants on different nodes proceed in parallel. Allocators that keep losing
  (few nodes, many participants) also queue on the maker lock. An allocator holds at most one
  node lock (its win) and never waits after winning, so allocators cannot deadlock.
- Chains (allocation on heads, growth, pruning) and failure handling run under the maker's
  transaction-scoped advisory lock (`trial_maker_lock`), plus a row lock on the network when a
  chain grows; heads and counts are read fresh under them, so a chain grows exactly once.
- Lock order is always participant row → trial maker → network/node rows, so these paths cannot
  deadlock each other.
"""

import copy
import logging
import random
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from assets.selectors import holder_assets_pending
from assets.services import holders_register_pending

from ..timeline.elements import ExperimentError
from . import selectors
from .models import Network, Node, Trial

logger = logging.getLogger(__name__)

#: First key of the two-key advisory locks taken here ("CHTR"); other apps use other namespaces.
LOCK_NAMESPACE = 0x43485452
#: A node's async_on_deploy is tried this many times before the node is failed.
MAX_ASYNC_ATTEMPTS = 5
REMOVED_AT_DEPLOY = "no longer in the experiment (removed at deploy)"
#: Optimistic allocation: after this many lost races, queue on the maker lock; give up after the max.
LOCK_AFTER_ATTEMPTS = 5
MAX_ALLOCATION_ATTEMPTS = 1000


def trial_maker_lock(*, trial_maker_id: str) -> None:
    """Hold the trial maker's lock until the current transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("trial_maker_lock must be taken inside a transaction")
    key = zlib.crc32(trial_maker_id.encode()) - 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])


def _atomic():
    # Inside the submit transaction already: no savepoint (two extra queries per call).
    return transaction.atomic(savepoint=False)


def _copy_definition(definition: Any) -> dict[str, Any]:
    return copy.deepcopy(definition) if definition is not None else {}


# --- trials -------------------------------------------------------------------------------------

def trial_create(*, maker, participant, experiment, node: Node, number: int, network: Network | None = None,
                 repeat_of: Trial | None = None, counted: bool = False) -> Trial:
    """Create a trial on `node` and count it on the node (unless the caller has: `counted`).

    The caller makes the count race-free (a conditional update, or the maker lock)."""
    trial_class = type(repeat_of) if repeat_of is not None else maker.trial_class
    trial = trial_class(
        trial_maker_id=maker.id, node=node, network=network, participant=participant, number=number,
        block=node.block, is_repeat_trial=repeat_of is not None, repeat_of=repeat_of,
    )
    if repeat_of is not None:
        trial.definition = _copy_definition(repeat_of.definition)
        trial.vars = _copy_definition(repeat_of.vars)
    else:
        definition = trial.finalize_definition(_copy_definition(node.definition), experiment, participant)
        if not isinstance(definition, dict):
            raise ExperimentError(f"{trial_class.__name__}.finalize_definition must return the definition (a dict)")
        trial.definition = definition
    trial.save(force_insert=True)
    holders_register_pending([trial])  # assets added in finalize_definition
    if repeat_of is None and not counted:
        Node.objects.filter(pk=node.pk).update(n_trials=F("n_trials") + 1)
        node.n_trials += 1
    return trial


def static_trial_allocate(*, maker, participant, experiment, blocks: list[str], number: int) -> Trial | None:
    """Give the participant a least-used eligible node of the earliest remaining block
    (optimistically: see the module docstring)."""
    with _atomic():
        for block in blocks:
            for attempt in range(MAX_ALLOCATION_ATTEMPTS):
                if attempt == LOCK_AFTER_ATTEMPTS:
                    trial_maker_lock(trial_maker_id=maker.id)
                node = selectors.static_node_candidate(
                    trial_maker_id=maker.id, participant_id=participant.pk, block=block,
                    allow_repeated_nodes=maker.allow_repeated_nodes, pivot=random.randrange(2**31),
                    balance=getattr(maker, "balance_across_nodes", True),
                )
                if node is None:
                    break  # this block has nothing left for the participant: try the next one
                if _node_count_if_unchanged(node):
                    node.n_trials += 1
                    return trial_create(maker=maker, participant=participant, experiment=experiment, node=node,
                                        number=number, counted=True)
            else:
                raise RuntimeError(f"could not allocate a trial in '{maker.id}' after {MAX_ALLOCATION_ATTEMPTS} "
                                   "attempts")
        return None


def _node_count_if_unchanged(node: Node) -> bool:
    """Add one to the node's count if it is still the count read; False if another allocation
    got there first. A lost race is rolled back to a savepoint: PostgreSQL keeps the row lock an
    UPDATE took while waiting even when the row then no longer matches, and allocators holding
    such stale locks while waiting for each other would deadlock."""
    with transaction.atomic():
        updated = Node.objects.filter(pk=node.pk, n_trials=node.n_trials).update(n_trials=F("n_trials") + 1)
        if not updated:
            transaction.set_rollback(True)
    return bool(updated)


def chain_trial_allocate(*, maker, participant, experiment, number: int) -> Trial | None:
    """Give the participant a trial on the head of a chain with room."""
    with _atomic():
        trial_maker_lock(trial_maker_id=maker.id)
        network = selectors.chain_network_candidate(maker=maker, participant_id=participant.pk)
        if network is None:
            return None
        trial = trial_create(maker=maker, participant=participant, experiment=experiment, node=network.head,
                             network=network, number=number)
        return trial


def sync_trial_create(*, maker, participant, experiment, node_id: int, network_id: int | None,
                      number: int) -> Trial:
    """A synced maker: a follower's trial on the node its group's leader was allocated. Counted
    on the node like any trial, also when the follower had that node before (the group plays
    the same stimulus); not counted on a node failed meanwhile (its count no longer matters)."""
    with _atomic():
        node = Node.objects.get(pk=node_id)
        network = Network.objects.get(pk=network_id) if network_id is not None else None
        return trial_create(maker=maker, participant=participant, experiment=experiment, node=node,
                            number=number, network=network, counted=node.failed)


def repeat_trial_create(*, maker, participant, experiment, number: int) -> Trial | None:
    """Repeat one of the participant's finalized trials (same node and definition)."""
    with _atomic():
        source = selectors.repeat_trial_source(trial_maker_id=maker.id, participant_id=participant.pk)
        if source is None:
            return None
        return trial_create(maker=maker, participant=participant, experiment=experiment, node=source.node,
                            network=source.network, number=number, repeat_of=source)


def trial_finalize(*, maker, trial: Trial, participant, experiment, answer: Any) -> None:
    """Store the answer, score and time taken; then let the maker react (chains grow).

    A trial failed meanwhile (its chain was pruned) still keeps its answer: accepted answers
    are never lost. `failed` is not written here, so a concurrent failure is not overwritten.
    """
    now = timezone.now()
    trial.answer = answer
    trial.time_taken = max(0.0, (now - trial.created_at).total_seconds()) if trial.created_at else None
    trial.score = maker.score(trial=trial, answer=answer, participant=participant, experiment=experiment)
    if holder_assets_pending(trial):
        # --- assets: e.g. the recording just made; finalized once the last is stored (hook below)
        trial.vars["awaiting_assets"] = True
        trial.save(update_fields=["answer", "time_taken", "score", "vars", "updated_at"])
        return
    trial.vars.pop("awaiting_assets", None)
    trial.finalized, trial.finalized_at = True, now
    trial.save(update_fields=["answer", "time_taken", "score", "finalized", "finalized_at", "vars", "updated_at"])
    maker.on_trial_finalized(trial=trial, participant=participant, experiment=experiment)


def trials_finalize_when_assets_stored(asset) -> None:
    """Deposit hook (runs on the worker): finalize the trials that were waiting for this asset,
    once none of their assets is pending. Idempotent; each trial row is locked while checked."""
    from assets.models import AssetLink

    trial_ids = set(AssetLink.objects.filter(asset=asset, holder_kind="trial").values_list("holder_id", flat=True))
    if asset.parent_kind == "trial":
        trial_ids.add(asset.parent_id)
    if not trial_ids:
        return
    from ..loading import get_experiment

    experiment = get_experiment()
    for trial_id in sorted(int(i) for i in trial_ids if str(i).isdigit()):
        with transaction.atomic():
            trial = Trial.objects.select_for_update(of=("self",)).filter(pk=trial_id).first()
            if (trial is None or trial.finalized or trial.failed or not trial.vars.get("awaiting_assets")
                    or holder_assets_pending(trial)):
                continue
            maker = experiment.program.modules.get(trial.trial_maker_id)
            trial.vars.pop("awaiting_assets", None)
            trial.finalized, trial.finalized_at = True, timezone.now()
            trial.save(update_fields=["finalized", "finalized_at", "vars", "updated_at"])
            if maker is not None:
                maker.on_trial_finalized(trial=trial, participant=trial.participant, experiment=experiment)



def participant_trials_fail(*, maker, participant, reason: str, include_finalized: bool = False) -> int:
    """Fail the participant's trials in this maker (unfinished ones; with `include_finalized`,
    all) and give their places back: node counts go down, chains grown from them are pruned."""
    with _atomic():
        trial_maker_lock(trial_maker_id=maker.id)
        queryset = Trial.objects.filter(trial_maker_id=maker.id, participant_id=participant.pk, failed=False)
        if not include_finalized:
            queryset = queryset.filter(finalized=False)
        trials = list(queryset.select_related("node"))
        if not trials:
            return 0
        Trial.objects.filter(pk__in=[t.pk for t in trials]).update(
            failed=True, failed_reason=reason[:1024], failed_at=timezone.now())
        counted = [t for t in trials if not t.is_repeat_trial and not t.node.failed]
        if maker.is_chain:
            _chain_release(maker=maker, trials=counted)
        else:
            _nodes_decrement(Counter(t.node_id for t in counted))
        return len(trials)


def trials_release_abandoned(*, limit: int = 500) -> int:
    """Beat: unfinished trials of abandoned participants fail, giving their places back (a chain
    head held by someone who left would otherwise wait for ever). Returns trials released."""
    from ..loading import get_experiment
    from ..models import Participant

    abandoned = Participant.Status.ABANDONED
    experiment = get_experiment()
    pairs = list(Trial.objects.filter(finalized=False, failed=False, participant__status=abandoned)
                 .values_list("participant_id", "trial_maker_id").distinct()[:limit])
    released = 0
    for participant_id, trial_maker_id in pairs:
        maker = experiment.program.modules.get(trial_maker_id)
        if not hasattr(maker, "trial_class"):
            continue  # a trial maker no longer in the experiment
        with transaction.atomic():  # lock order: participant row, then the maker (as a submit does)
            participant = Participant.objects.select_for_update(of=("self",), no_key=True).get(pk=participant_id)
            if participant.status == abandoned:
                released += participant_trials_fail(maker=maker, participant=participant,
                                                    reason="participant abandoned the experiment")
    return released


def _nodes_decrement(counts: Counter) -> None:
    by_amount: dict[int, list[int]] = defaultdict(list)
    for node_id, amount in counts.items():
        by_amount[amount].append(node_id)
    for amount, node_ids in by_amount.items():
        Node.objects.filter(pk__in=node_ids).update(n_trials=F("n_trials") - amount)


def _chain_release(*, maker, trials: list[Trial]) -> None:
    """Failed trials on chains: a head gets its place back; with propagate_failure, a chain
    grown from a failed trial is cut back to that trial's node, which then takes a new trial."""
    by_network: dict[int, list[Trial]] = defaultdict(list)
    for trial in trials:
        if trial.network_id is not None:
            by_network[trial.network_id].append(trial)
    if not by_network:
        return
    networks = Network.objects.select_for_update().in_bulk(list(by_network))
    decrements: Counter = Counter()
    for network_id, network_trials in by_network.items():
        network = networks.get(network_id)
        if network is None or network.failed:
            continue
        earliest = min(network_trials, key=lambda t: t.node.degree)
        if network.head_id == earliest.node_id:
            decrements.update(t.node_id for t in network_trials if t.node_id == network.head_id)
        elif maker.propagate_failure:
            node_chain_cut(network=network, node=earliest.node,
                           reason=f"grown from trial {earliest.pk}, which failed")
            decrements.update(t.node_id for t in network_trials if t.node_id == earliest.node_id)
    _nodes_decrement(decrements)


def node_chain_cut(*, network: Network, node: Node, reason: str) -> list[int]:
    """Fail every alive node after `node` in its chain (and their trials); `node` becomes head."""
    later = list(Node.objects.filter(network_id=network.pk, degree__gt=node.degree, failed=False)
                 .values_list("pk", flat=True))
    now = timezone.now()
    if later:
        Node.objects.filter(pk__in=later).update(failed=True, failed_reason=reason[:1024], failed_at=now)
        Trial.objects.filter(node_id__in=later, failed=False).update(
            failed=True, failed_reason=f"its node failed: {reason}"[:1024], failed_at=now)
    network.head, network.n_nodes, network.full = node, node.degree + 1, False
    network.save(update_fields=["head", "n_nodes", "full", "updated_at"])
    return later


# --- nodes and networks -------------------------------------------------------------------------

def _node_from_template(template: Node, cls: type[Node] | None = None, **fields: Any) -> Node:
    node = (cls or type(template))(
        definition=_copy_definition(template.definition), block=template.block or "default",
        seed=copy.deepcopy(template.seed), vars=_copy_definition(template.vars), **fields,
    )
    if template.assets:
        node.add_assets(dict(template.assets))
    node.ready = not node.has_async_on_deploy()
    return node


def static_nodes_deploy(*, maker, progress: Callable[[str, int], Any] | None = None) -> dict[str, int]:
    """Create the maker's nodes that are not in the database yet (idempotent).

    Nodes are identified by `key` (a hash of class, block and definition), so a redeploy creates
    only new ones; nodes dropped from the experiment stop being allocated (failed with a reason)
    and come back if they return.
    """
    with _atomic():
        trial_maker_lock(trial_maker_id=maker.id)
        keys = maker.node_keys()
        existing = set(Node.objects.filter(trial_maker_id=maker.id).exclude(key="").values_list("key", flat=True))
        missing = [(key, template) for key, template in zip(keys, maker.nodes, strict=True) if key not in existing]
        bar = progress(f"nodes of {maker.id}", len(missing)) if progress else None
        batch_size = 500
        for start in range(0, len(missing), batch_size):
            batch = [_node_from_template(template, trial_maker_id=maker.id, key=key)
                     for key, template in missing[start:start + batch_size]]
            Node.objects.bulk_create(batch)
            holders_register_pending(batch)  # the nodes' declared assets, by local key
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        if missing:
            with connection.cursor() as cursor:  # fresh statistics: allocation plans as an anti-join
                cursor.execute("ANALYZE experiments_node")
        current = set(keys)
        removed = Node.objects.filter(trial_maker_id=maker.id, failed=False).exclude(key="").exclude(
            key__in=current).update(failed=True, failed_reason=REMOVED_AT_DEPLOY, failed_at=timezone.now())
        restored = Node.objects.filter(trial_maker_id=maker.id, failed=True, failed_reason=REMOVED_AT_DEPLOY,
                                       key__in=current).update(failed=False, failed_reason="", failed_at=None)
        nodes_async_deploy_schedule(trial_maker_id=maker.id)
        return {"created": len(missing), "removed": removed, "restored": restored}


def chain_network_create(*, maker, experiment, participant, position: int, start_node: Node | None) -> Network:
    """One chain with its start node (from a template, or from `create_initial_seed`)."""
    network = maker.network_class(trial_maker_id=maker.id, participant=participant, position=position)
    network.save(force_insert=True)
    fields = {"trial_maker_id": maker.id, "network": network, "degree": 0}
    if start_node is not None:
        node = _node_from_template(start_node, cls=type(start_node), **fields)
    else:
        node = maker.node_class(**fields)
        node.seed = node.create_initial_seed(experiment, participant)
        node.definition = node.create_definition_from_seed(node.seed, experiment, participant)
        node.ready = not node.has_async_on_deploy()
    node.save(force_insert=True)
    holders_register_pending([node])
    network.head, network.n_nodes = node, 1
    network.full = False  # its start node takes trials (max_nodes_per_chain >= 1)
    network.save(update_fields=["head", "n_nodes", "full", "updated_at"])
    if not node.ready:
        nodes_async_deploy_schedule(node_ids=[node.pk])
    return network


def chain_networks_deploy(*, maker, experiment) -> int:
    """Create the missing shared chains of an 'across' maker (idempotent)."""
    with _atomic():
        trial_maker_lock(trial_maker_id=maker.id)
        existing = set(Network.objects.filter(trial_maker_id=maker.id, participant__isnull=True)
                       .values_list("position", flat=True))
        templates = maker.start_nodes_for(experiment=experiment, participant=None)
        created = 0
        for position in range(maker.chains_per_experiment):
            if position not in existing:
                chain_network_create(maker=maker, experiment=experiment, participant=None, position=position,
                                     start_node=templates[position] if templates else None)
                created += 1
        nodes_async_deploy_schedule(trial_maker_id=maker.id)
        return created


def chain_networks_create_for_participant(*, maker, experiment, participant) -> int:
    """Create a 'within' maker's chains for one participant (idempotent)."""
    with _atomic():
        existing = set(Network.objects.filter(trial_maker_id=maker.id, participant_id=participant.pk)
                       .values_list("position", flat=True))
        templates = maker.start_nodes_for(experiment=experiment, participant=participant)
        created = 0
        for position in range(maker.chains_per_participant):
            if position not in existing:
                chain_network_create(maker=maker, experiment=experiment, participant=participant, position=position,
                                     start_node=templates[position] if templates else None)
                created += 1
        return created


def chain_grow(*, maker, trial: Trial, participant, experiment) -> Node | None:
    """If `trial` completed its node's quota, create the next node of the chain, exactly once.

    Runs under the maker lock and a row lock on the network; the head and the count of the
    node's finalized trials are read fresh under them, so concurrent submits cannot fork.
    """
    if trial.is_repeat_trial or trial.network_id is None:
        return None
    with _atomic():
        trial_maker_lock(trial_maker_id=maker.id)
        network = (Network.objects.select_for_update(of=("self",)).select_related("head")
                   .filter(pk=trial.network_id).first())
        if network is None or network.failed or network.head_id != trial.node_id:
            return None
        node = network.head
        if node.failed:
            return None
        trials = list(Trial.objects.filter(node=node, finalized=True, failed=False, is_repeat_trial=False)
                      .order_by("id"))
        if len(trials) < maker.trials_per_node:
            return None
        seed = node.summarize_trials(trials, experiment, participant)
        child = maker.node_class(trial_maker_id=maker.id, network=network, parent=node, degree=node.degree + 1,
                                 block=node.block, seed=seed)
        definition = child.create_definition_from_seed(seed, experiment, participant)
        if not isinstance(definition, dict):
            raise ExperimentError(f"{type(child).__name__}.create_definition_from_seed must return a dict")
        child.definition = definition
        child.ready = not child.has_async_on_deploy()
        child.save(force_insert=True)
        holders_register_pending([child])
        network.head, network.n_nodes = child, child.degree + 1
        # PsyNet's count: max_nodes_per_chain nodes take trials; the node grown from the last of
        # them keeps the chain's end state and takes none.
        network.full = maker.max_nodes_per_chain is not None and network.n_nodes > maker.max_nodes_per_chain
        network.save(update_fields=["head", "n_nodes", "full", "updated_at"])
        if not child.ready:
            nodes_async_deploy_schedule(node_ids=[child.pk])
        return child


# --- async_on_deploy ----------------------------------------------------------------------------

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
    from .tasks import node_async_on_deploy

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
    from ..loading import get_experiment

    get_experiment()  # researcher node classes are registered when the experiment is imported
    node = Node.objects.filter(pk=node_id).first()
    if node is None or node.ready or node.failed:
        return False
    Node.objects.filter(pk=node_id).update(async_attempts=F("async_attempts") + 1)
    from experiments.loading import in_experiment_folder

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
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, 0)", [LOCK_NAMESPACE])
            if not cursor.fetchone()[0]:
                return 0
        node_ids = list(Node.objects.filter(ready=False, failed=False, created_at__lt=cutoff,
                                            async_attempts__lt=MAX_ASYNC_ATTEMPTS).values_list("pk", flat=True)[:1000])
    return nodes_async_deploy_enqueue(node_ids=node_ids) if node_ids else 0
