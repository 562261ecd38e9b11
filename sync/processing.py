"""Deciding who leaves a barrier: one transaction at a time per barrier.

`process_barrier` runs inside the caller's transaction: the arriving participant's own request
(so the last arrival releases its group at once), the beat task, or an admin action. It
1. takes the barrier's advisory lock (sync.locks: blocking only for a transaction's first lock),
2. locks the open waiting rows in id order,
3. lets the barrier decide (`barrier.decide(ctx)`, see sync.decisions: GroupBarrier: whole
   group here? Grouper: form groups...),
4. applies max_wait_time with the declared policy,
5. writes the releases: `released_at` is set once, `WHERE released_at IS NULL` (the marker is
   checked first, so releasing twice is impossible), group changes, and failures to apply.

It never locks another participant's row (their own requests lock them first, so that could
deadlock): participants to fail go to the PendingFailure outbox, applied right after commit;
`on_release` changes to `participant.var` are stored on the wait row and applied by the
participant's own request as they move on.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from experiments.loading import get_experiment
from experiments.locks import lock_rows
from experiments.models import Participant

from .instructions import program_barriers
from .locks import lock_barrier, try_lock_barriers
from .models import BarrierWait, PendingFailure, SyncGroup
from .outbox import pending_failures_apply

if TYPE_CHECKING:
    from .elements import Barrier


logger = logging.getLogger(__name__)


Outcome = BarrierWait.Outcome


WORKING = Participant.Status.WORKING


#: SyncGroup.end_reason of a group that fell below its minimum size for good.
GROUP_BELOW_MINIMUM = "below minimum size"


#: barrier_process: every group waiting at a GroupBarrier.
ALL_GROUPS = "all"


@dataclass
class Waiter:
    wait_id: int
    participant_id: int
    group_id: int | None
    arrived_at: datetime
    deadline: datetime | None
    on_timeout: str


class Context:
    """What one processing pass knows and has decided; written out by `_flush`."""

    def __init__(self, barrier: "Barrier", *, trigger: str, live: Participant | None,
                 blocking: bool, experiment: Any) -> None:
        self.barrier, self.trigger, self.live, self.blocking = barrier, trigger, live, blocking
        self.experiment = experiment
        self.now = timezone.now()
        self.waiters: list[Waiter] = []
        self.releases: dict[int, str] = {}
        self.prewritten: set[int] = set()  # releases already written by a set-based statement
        self.failures: list[tuple[int, str, str, list[str], int | None]] = []
        self.var_updates: dict[int, dict[str, Any]] = {}
        self.dirty_groups: dict[int, SyncGroup] = {}
        self.deferred_groups: set[int] = set()  # group rows that were busy: redo after commit
        self._participants: dict[int, Participant] = {}
        if live is not None:
            self._participants[live.pk] = live

    # --- reading ---------------------------------------------------------------------------
    def pending(self) -> list[Waiter]:
        return [w for w in self.waiters if w.wait_id not in self.releases]

    def participants(self, ids: Iterable[int]) -> list[Participant]:
        """Participant objects in the order given; the arriving participant is the live object."""
        ids = list(ids)
        missing = [i for i in ids if i not in self._participants]
        if missing:
            for participant in Participant.objects.filter(pk__in=missing):
                self._participants[participant.pk] = participant
        return [self._participants[i] for i in ids if i in self._participants]

    def is_active(self, participant_id: int, failed: bool, status: str) -> bool:
        if self.live is not None and participant_id == self.live.pk:
            failed, status = self.live.failed, self.live.status
        return not failed and status == WORKING

    # --- deciding --------------------------------------------------------------------------
    def release(self, waiter: Waiter, outcome: str) -> None:
        self.releases.setdefault(waiter.wait_id, outcome)

    def fail(self, participant_id: int, kind: str, reason: str, tags: list[str],
             wait_id: int | None = None) -> None:
        self.failures.append((participant_id, kind, reason, tags, wait_id))

    def wait_of(self, participant_id: int) -> Waiter | None:
        return next((w for w in self.waiters if w.participant_id == participant_id), None)


def lock_name(barrier: "Barrier", group_id: int | None) -> str:
    """What one transaction at a time may process. A GroupBarrier decides group by group, so it
    is locked per (barrier, group): 100 pairs meeting at one barrier do not queue behind each
    other. Other barriers (groupers decide over everyone waiting) are locked as a whole."""
    if barrier.grouped:
        return f"{barrier.id}@{group_id if group_id is not None else '-'}"
    return barrier.id


def process_barrier(barrier: "Barrier", *, trigger: str, live: Participant | None = None,
                    experiment: Any = None, group_id: int | None = None,
                    locked: tuple[bool, bool] | None = None,
                    group_ids: list[int | None] | None = None) -> Context | None:
    """Process `barrier` in the current transaction — for a GroupBarrier, the waiters of one
    group (`group_id`; None: those without a group), or of every group in `group_ids` that no
    other transaction is processing (the beat). Returns None if nothing could be locked; a
    single busy scope is processed again after commit. `locked`: lock_barrier's answer, if the
    caller already took the lock."""
    grouped = barrier.grouped
    if grouped and group_ids is not None:
        taken = try_lock_barriers([lock_name(barrier, g) for g in group_ids])
        scope = [g for g, ok in zip(group_ids, taken, strict=True) if ok]
        if not scope:
            return None
        first = False  # we hold several locks: group rows are only tried (SKIP LOCKED)
    else:
        acquired, first = locked or lock_barrier(lock_name(barrier, group_id))
        if not acquired:
            reprocess_after_commit(barrier.id, group_id)
            return None
        scope = [group_id]
    if experiment is None:
        experiment = get_experiment()
    ctx = Context(barrier, trigger=trigger, live=live, blocking=first, experiment=experiment)
    rows = BarrierWait.objects.filter(barrier_id=barrier.id, released_at__isnull=True)
    if grouped:
        ids = [g for g in scope if g is not None]
        where = Q(group_id__in=ids) if ids else Q(pk__in=[])
        if None in scope:
            where |= Q(group__isnull=True)
        rows = rows.filter(where)
    rows = (
        lock_rows(rows, no_key=True)
        .values_list("id", "participant_id", "group_id", "arrived_at", "deadline", "on_timeout",
                     "participant__failed", "participant__status")
    )
    for wait_id, pid, wait_group, arrived_at, deadline, on_timeout, failed, status in rows:
        waiter = Waiter(wait_id, pid, wait_group, arrived_at, deadline, on_timeout)
        if ctx.is_active(pid, failed, status):
            ctx.waiters.append(waiter)
        else:
            ctx.releases[wait_id] = Outcome.LEFT  # failed or gone while waiting
    if ctx.waiters:
        barrier.decide(ctx)
    _flush(ctx)
    return ctx


def barrier_process(*, barrier_id: str, trigger: str = "beat", group_id: int | None | str = ALL_GROUPS) -> bool:
    """Process one barrier by id, in its own transaction(s): a GroupBarrier group by group (or
    only `group_id`). False if the barrier is unknown to the current experiment (its waiters
    are left alone and reported)."""
    experiment = get_experiment()
    barrier = program_barriers(experiment.program).get(barrier_id)
    if barrier is None:
        logger.warning("participants wait at barrier %r, which the experiment does not define", barrier_id)
        return False
    with transaction.atomic():
        if barrier.grouped and group_id == ALL_GROUPS:
            # Every group waiting here, in one transaction; a group someone else is processing
            # right now is left to them.
            scopes = list(BarrierWait.objects.filter(barrier_id=barrier_id, released_at__isnull=True)
                          .order_by("group_id").values_list("group_id", flat=True).distinct())
            process_barrier(barrier, trigger=trigger, experiment=experiment, group_ids=scopes)
        else:
            process_barrier(barrier, trigger=trigger, experiment=experiment,
                            group_id=None if group_id == ALL_GROUPS else group_id)
    return True


def reprocess_after_commit(barrier_id: str, group_id: int | None | str = ALL_GROUPS) -> None:
    transaction.on_commit(partial(barrier_process, barrier_id=barrier_id, group_id=group_id,
                                  trigger="retry"))


def _flush(ctx: Context) -> None:
    by_outcome: dict[str, list[int]] = {}
    for wait_id, outcome in ctx.releases.items():
        by_outcome.setdefault(outcome, []).append(wait_id)
    for outcome, ids in by_outcome.items():
        ids = [i for i in ids if i not in ctx.prewritten]
        if not ids:
            continue
        BarrierWait.objects.filter(pk__in=ids, released_at__isnull=True).update(
            released_at=ctx.now, released_by=ctx.trigger, outcome=outcome)
    if ctx.var_updates:
        rows = [BarrierWait(pk=wait_id, var_updates=updates) for wait_id, updates in ctx.var_updates.items()]
        BarrierWait.objects.bulk_update(rows, ["var_updates"])
    for group in ctx.dirty_groups.values():
        group.save(update_fields=["active", "end_time", "end_reason", "leader", "n_active_participants",
                                  "min_group_size", "join_existing_groups", "vars"])
    if ctx.failures:
        created = PendingFailure.objects.bulk_create([
            PendingFailure(participant_id=pid, kind=kind, reason=reason[:255], tags=tags, wait_id=wait_id,
                           created_at=ctx.now)
            for pid, kind, reason, tags, wait_id in ctx.failures
        ])
        ids = [f.pk for f in created]
        transaction.on_commit(partial(pending_failures_apply, ids=ids))
    for group_id in sorted(ctx.deferred_groups):
        reprocess_after_commit(ctx.barrier.id, group_id)
    if ctx.releases:
        logger.info("barrier %s: released %d (%s)", ctx.barrier.id, len(ctx.releases), ctx.trigger)
