"""Giving a participant their next trial: static (optimistic, least-used node), chains (the
head of a chain with room, under the maker lock), synced followers, repeats.

Static allocation reads a least-used eligible node, then counts the trial on it with a
conditional `UPDATE ... WHERE n_trials = <the count read>`; a lost race rolls back to a
savepoint and reads again, and after LOCK_AFTER_ATTEMPTS losses the allocator queues on the
maker lock. An allocator holds at most one node lock and never waits after winning, so
allocators cannot deadlock. Idempotency is the caller's (the submit path runs once per page).
"""

import copy
import random
from typing import Any

from django.db import transaction
from django.db.models import F

from assets.services import holders_register_pending
from experiments.timeline.elements import ExperimentError

from .. import selectors
from ..models import Network, Node, Trial
from .locking import joined_transaction, trial_maker_lock

#: Returned by `prepare_trial` when trials will be available soon (show a wait page, retry).
WAIT = "wait"


#: Optimistic allocation: after this many lost races, queue on the maker lock; give up after the max.
LOCK_AFTER_ATTEMPTS = 5


MAX_ALLOCATION_ATTEMPTS = 1000


def copy_definition(definition: Any) -> dict[str, Any]:
    return copy.deepcopy(definition) if definition is not None else {}


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
        trial.definition = copy_definition(repeat_of.definition)
        trial.vars = copy_definition(repeat_of.vars)
    else:
        definition = trial.finalize_definition(copy_definition(node.definition), experiment, participant)
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
    with joined_transaction():
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
    with joined_transaction():
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
    with joined_transaction():
        node = Node.objects.get(pk=node_id)
        network = Network.objects.get(pk=network_id) if network_id is not None else None
        return trial_create(maker=maker, participant=participant, experiment=experiment, node=node,
                            number=number, network=network, counted=node.failed)


def repeat_trial_create(*, maker, participant, experiment, number: int) -> Trial | None:
    """Repeat one of the participant's finalized trials (same node and definition)."""
    with joined_transaction():
        source = selectors.repeat_trial_source(trial_maker_id=maker.id, participant_id=participant.pk)
        if source is None:
            return None
        return trial_create(maker=maker, participant=participant, experiment=experiment, node=source.node,
                            network=source.network, number=number, repeat_of=source)
