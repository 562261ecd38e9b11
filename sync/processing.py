"""Deciding who leaves a barrier: one transaction at a time per barrier.

`process_barrier` runs inside the caller's transaction: the arriving participant's own request
(so the last arrival releases its group at once), the beat task, or an admin action. It
1. takes the barrier's advisory lock (sync.locks: blocking only for a transaction's first lock),
2. locks the open waiting rows in id order,
3. lets the barrier decide (GroupBarrier: whole group here? Grouper: form groups...),
4. applies max_wait_time with the declared policy,
5. writes the releases: `released_at` is set once, `WHERE released_at IS NULL` (the marker is
   checked first, so releasing twice is impossible), group changes, and failures to apply.

It never locks another participant's row (their own requests lock them first, so that could
deadlock): participants to fail go to the PendingFailure outbox, applied right after commit;
`on_release` changes to `participant.var` are stored on the wait row and applied by the
participant's own request as they move on.
"""

import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from experiments.models import Participant
from experiments.timeline.elements import ExperimentError
from experiments.timeline.injection import call_with_args

from .locks import lock_barrier, try_lock_barriers
from .models import BarrierWait, PendingFailure, SyncGroup, SyncGroupMember

if TYPE_CHECKING:
    from .elements import Barrier, GroupBarrier, Grouper

logger = logging.getLogger(__name__)
Outcome = BarrierWait.Outcome
WORKING = Participant.Status.WORKING
#: SyncGroup.end_reason of a group that fell below its minimum size for good.
GROUP_BELOW_MINIMUM = "below minimum size"


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
    from .elements import GroupBarrier

    if isinstance(barrier, GroupBarrier):
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
    from .elements import GroupBarrier

    grouped = isinstance(barrier, GroupBarrier)
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
        from experiments.loading import get_experiment

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
        rows.order_by("id").select_for_update(of=("self",), no_key=True)
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


def reprocess_after_commit(barrier_id: str, group_id: int | None | str = "all") -> None:
    from .services import barrier_process

    transaction.on_commit(partial(barrier_process, barrier_id=barrier_id, group_id=group_id,
                                  trigger="retry"))


# --- plain barriers -----------------------------------------------------------------------

def decide_barrier(barrier: "Barrier", ctx: Context) -> None:
    pending = ctx.pending()
    participants = ctx.participants([w.participant_id for w in pending])
    chosen = barrier.choose_who_to_release(participants) or []
    by_participant = {w.participant_id: w for w in pending}
    for participant in chosen:
        waiter = by_participant.get(getattr(participant, "pk", None))
        if waiter is None:
            raise ExperimentError(
                f"choose_who_to_release of barrier '{barrier.id}' returned {participant!r}, "
                "who is not waiting there"
            )
        ctx.release(waiter, Outcome.RELEASED)
    apply_timeouts(ctx)


def apply_timeouts(ctx: Context) -> None:
    """max_wait_time: "proceed" releases anyway, anything else fails the waiter."""
    for waiter in ctx.pending():
        if waiter.deadline is None or waiter.deadline > ctx.now:
            continue
        if waiter.on_timeout == "proceed":
            ctx.release(waiter, Outcome.PROCEED)
        else:
            ctx.release(waiter, Outcome.TIMEOUT)
            ctx.fail(waiter.participant_id, PendingFailure.Kind.TIMEOUT,
                     f"timed out at barrier '{ctx.barrier.id}'", ["sync_timeout"], waiter.wait_id)


# --- group barriers -----------------------------------------------------------------------

def _lock_groups(ids: Iterable[int], ctx: Context) -> dict[int, SyncGroup]:
    """Group rows locked in id order: waiting for them only in a transaction's first lock."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    query = SyncGroup.objects.filter(pk__in=ids).order_by("id").select_for_update(
        of=("self",), no_key=True, skip_locked=not ctx.blocking)
    groups = {g.pk: g for g in query}
    # Busy (or deleted): processed again after commit, waiting for the row then.
    ctx.deferred_groups.update(set(ids) - set(groups))
    return groups


def _active_members(group_ids: Iterable[int], ctx: Context) -> dict[int, list[int]]:
    """Active member ids (working, not failed, not removed) per group, in joining order."""
    members: dict[int, list[int]] = {}
    rows = (SyncGroupMember.objects.filter(group_id__in=list(group_ids), left_at__isnull=True)
            .order_by("id").values_list("group_id", "participant_id", "participant__failed",
                                        "participant__status"))
    for group_id, pid, failed, status in rows:
        if ctx.is_active(pid, failed, status):
            members.setdefault(group_id, []).append(pid)
    return members


def _refresh_group(group: SyncGroup, active_ids: list[int], ctx: Context) -> None:
    changed = False
    if group.n_active_participants != len(active_ids):
        group.n_active_participants = len(active_ids)
        changed = True
    if active_ids and group.leader_id not in active_ids:
        group.leader_id = min(active_ids)  # the reference's check_leader: smallest id leads
        changed = True
    if changed:
        ctx.dirty_groups[group.pk] = group


def decide_group_barrier(barrier: "GroupBarrier", ctx: Context) -> None:
    pending = ctx.pending()
    for waiter in pending:
        if waiter.group_id is None:
            ctx.release(waiter, Outcome.NO_GROUP)
    groups = _lock_groups([w.group_id for w in pending if w.group_id], ctx)
    members = _active_members(groups, ctx)
    for group in groups.values():
        waiters = [w for w in pending if w.group_id == group.pk]
        if not group.active:
            failed = group.end_reason == GROUP_BELOW_MINIMUM
            for waiter in waiters:
                ctx.release(waiter, Outcome.GROUP_FAILED if failed else Outcome.GROUP_CLOSED)
                if failed:
                    ctx.fail(waiter.participant_id, PendingFailure.Kind.GROUP_FAILED,
                             "sync group below minimum size", ["sync_group_failed"], waiter.wait_id)
            continue
        active_ids = members.get(group.pk, [])
        _refresh_group(group, active_ids, ctx)
        here = {w.participant_id for w in waiters}
        if group.min_group_size and len(active_ids) < group.min_group_size:
            if not group.join_existing_groups:
                _fail_group(group, waiters, active_ids, ctx)
            continue  # else wait for top-ups (bounded by max_wait_time)
        if active_ids and here.issuperset(active_ids):
            _release_group(barrier, group, waiters, active_ids, ctx)
    # max_wait_time
    for waiter in ctx.pending():
        if waiter.deadline is None or waiter.deadline > ctx.now:
            continue
        group = groups.get(waiter.group_id) if waiter.group_id else None
        if waiter.on_timeout == "kick" and group is not None and group.active:
            _kick_absent(barrier, group, [w for w in ctx.pending() if w.group_id == group.pk],
                         members.get(group.pk, []), ctx)
    apply_timeouts(ctx)


def _fail_group(group: SyncGroup, waiters: list[Waiter], active_ids: list[int], ctx: Context) -> None:
    """Below its minimum size with no top-ups possible: the group ends and ALL its members are
    released and failed (the reference failed them but could release only the waiting one)."""
    group.close()
    group.end_reason = GROUP_BELOW_MINIMUM
    ctx.dirty_groups[group.pk] = group
    waits = {w.participant_id: w.wait_id for w in waiters}
    for waiter in waiters:
        ctx.release(waiter, Outcome.GROUP_FAILED)
    for pid in active_ids:
        ctx.fail(pid, PendingFailure.Kind.GROUP_FAILED, "sync group below minimum size",
                 ["sync_group_failed"], waits.get(pid))


def _kick_absent(barrier: "GroupBarrier", group: SyncGroup, waiters: list[Waiter],
                 active_ids: list[int], ctx: Context) -> None:
    """on_timeout="kick": members not here leave the group (and are failed); those here go on,
    the group's minimum size lowered to what is left."""
    here = {w.participant_id for w in waiters}
    absent = [pid for pid in active_ids if pid not in here]
    if absent:
        SyncGroupMember.objects.filter(group=group, participant_id__in=absent).update(
            left_at=ctx.now, left_reason="kicked: did not arrive in time")
        for pid in absent:
            ctx.fail(pid, PendingFailure.Kind.KICKED,
                     f"removed from sync group: did not reach barrier '{barrier.id}' in time",
                     ["sync_kicked"])
    remaining = [pid for pid in active_ids if pid in here]
    if not remaining:
        return
    if group.min_group_size and group.min_group_size > len(remaining):
        group.min_group_size = len(remaining)
    _refresh_group(group, remaining, ctx)
    ctx.dirty_groups[group.pk] = group
    _release_group(barrier, group, waiters, remaining, ctx)


def _release_group(barrier: "GroupBarrier", group: SyncGroup, waiters: list[Waiter],
                   active_ids: list[int], ctx: Context) -> None:
    for waiter in waiters:
        ctx.release(waiter, Outcome.RELEASED)
    if barrier.on_release is None:
        return
    participants = ctx.participants(active_ids)
    group.__dict__["_participants_cache"] = participants
    before = {p.pk: (copy.deepcopy(p.vars), p.failed) for p in participants
              if ctx.live is None or p.pk != ctx.live.pk}
    call_with_args(barrier.on_release, {"group": group, "participants": participants,
                                        "experiment": ctx.experiment, "barrier": barrier})
    group.__dict__.pop("_participants_cache", None)
    ctx.dirty_groups[group.pk] = group  # on_release may change vars, close it, stop top-ups
    waits = {w.participant_id: w.wait_id for w in waiters}
    for participant in participants:
        if participant.pk not in before:
            continue  # the arriving participant: their own request saves them
        old_vars, old_failed = before[participant.pk]
        updates = _var_diff(old_vars, participant.vars)
        if updates and participant.pk in waits:
            ctx.var_updates[waits[participant.pk]] = updates
        if participant.failed and not old_failed:
            ctx.fail(participant.pk, PendingFailure.Kind.GROUP_FAILED,
                     participant.failed_reason or "failed in on_release", list(participant.failure_tags),
                     waits.get(participant.pk))


def _var_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    changed = {k: v for k, v in new.items() if k not in old or old[k] != v}
    removed = [k for k in old if k not in new]
    if not changed and not removed:
        return None
    return {"set": changed, "unset": removed}


# --- groupers -----------------------------------------------------------------------------

def decide_grouper(grouper: "Grouper", ctx: Context) -> None:
    from .elements import SimpleGrouper
    from .grouping import group_waiters_sql

    if getattr(grouper, "join_existing_groups", False):
        _top_up(grouper, ctx)
    pending = ctx.pending()
    if pending and isinstance(grouper, SimpleGrouper) and grouper.uses_fast_path():
        if len(pending) >= grouper.batch_size:
            size = grouper.initial_group_size
            chosen = pending[: len(pending) // size * size]
            group_waiters_sql(grouper, chosen, ctx)
            for waiter in chosen:
                ctx.release(waiter, Outcome.RELEASED)
                ctx.prewritten.add(waiter.wait_id)
    elif pending:
        participants = ctx.participants([w.participant_id for w in pending])
        if grouper.ready_to_group(participants):
            _persist_groups(grouper, grouper.group(participants), pending, ctx)
    if getattr(grouper, "join_existing_groups", False) and ctx.pending():
        _top_up(grouper, ctx)   # those left over may fit in the groups just formed
    apply_timeouts(ctx)


def _open_group(grouper: "Grouper", ctx: Context, exclude: set[int]) -> SyncGroup | None:
    """An active group of this type that accepts members and has room: smallest, then oldest.
    Its row is locked: waited for in a transaction's first lock, else skipped if busy."""
    query = (SyncGroup.objects.filter(group_type=grouper.group_type, active=True, join_existing_groups=True)
             .exclude(pk__in=exclude).annotate(n_now=_n_active_members())
             .filter(Q(max_group_size__isnull=True) | Q(n_now__lt=F("max_group_size")))
             .order_by("n_now", "id")
             .select_for_update(of=("self",), no_key=True, skip_locked=not ctx.blocking))
    return query.first()


def _n_active_members():
    return Coalesce(Subquery(
        SyncGroupMember.objects.filter(group=OuterRef("pk"), left_at__isnull=True,
                                       participant__failed=False, participant__status=WORKING)
        .values("group").annotate(n=Count("id")).values("n")[:1]
    ), Value(0))


def _top_up(grouper: "Grouper", ctx: Context) -> None:
    """join_existing_groups: waiters join open groups (the reference did this only on arrival,
    and could pick a closed group)."""
    for waiter in ctx.pending():
        tried: set[int] = set()
        while True:
            group = _open_group(grouper, ctx, tried)
            if group is None:
                return
            # Counted again now that the row is ours: others may have joined while we waited.
            n_now = SyncGroup.objects.filter(pk=group.pk).annotate(n=_n_active_members()).values_list("n", flat=True)[0]
            if group.max_group_size is None or n_now < group.max_group_size:
                break
            tried.add(group.pk)
        SyncGroupMember.objects.create(group=group, participant_id=waiter.participant_id,
                                       joined_at=ctx.now, joined_by="joined")
        group.n_active_participants = n_now + 1
        if group.leader_id is None:
            group.leader_id = waiter.participant_id
        ctx.dirty_groups[group.pk] = group
        ctx.release(waiter, Outcome.RELEASED)


def _persist_groups(grouper: "Grouper", groups: Any, pending: list[Waiter], ctx: Context) -> None:
    """Save the groups a researcher's `group()` returned, in a few set-based statements."""
    if not isinstance(groups, list) or not all(isinstance(g, SyncGroup) for g in groups):
        raise ExperimentError("group() must return a list of SyncGroups.")
    waiting = {w.participant_id: w for w in pending}
    seen: set[int] = set()
    for group in groups:
        if group.pk is not None:
            raise ExperimentError("group() must return new (unsaved) SyncGroups")
        members = group.participants
        if not members:
            raise ExperimentError("group() returned a SyncGroup without participants")
        for participant in members:
            if participant.pk not in waiting:
                raise ExperimentError(f"group() put {participant} in a group, but they are not waiting at '{grouper.id}'")
            if participant.pk in seen:
                raise ExperimentError(f"group() put {participant} in two groups")
            seen.add(participant.pk)
        if group.leader_id is None:
            group.leader = grouper.select_leader(list(members))
        group.group_type = group.group_type or grouper.group_type
        group.group_class = type(group).__name__
        group.formed_by = grouper.id
        group.n_active_participants = len(members)
        group.created_at = ctx.now
    if not groups:
        return
    pending_members = [list(g.participants) for g in groups]
    SyncGroup.objects.bulk_create(groups)
    SyncGroupMember.objects.bulk_create([
        SyncGroupMember(group=group, participant_id=p.pk, joined_at=ctx.now)
        for group, members in zip(groups, pending_members, strict=True) for p in members
    ])
    for group in groups:
        group.__dict__.pop("_pending_participants", None)
    for pid in seen:
        ctx.release(waiting[pid], Outcome.RELEASED)


# --- writing ------------------------------------------------------------------------------

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
        from .services import pending_failures_apply

        ids = [f.pk for f in created]
        transaction.on_commit(partial(pending_failures_apply, ids=ids))
    for group_id in sorted(ctx.deferred_groups):
        reprocess_after_commit(ctx.barrier.id, group_id)
    if ctx.releases:
        logger.info("barrier %s: released %d (%s)", ctx.barrier.id, len(ctx.releases), ctx.trigger)
