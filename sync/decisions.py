"""What each kind of barrier decides, under the lock `sync.processing` took for it.

A barrier's `decide(ctx)` calls one of these: `decide_barrier` (plain barriers: the
researcher's `choose_who_to_release`, then timeouts), `decide_group_barrier` (whole groups,
group rows locked in id order, SKIP LOCKED unless this is the transaction's first sync lock),
`decide_grouper` (form groups or top up open ones). They only record decisions in the
context; `sync.processing` writes them. Deciding twice is harmless: a wait row is released
only once (`WHERE released_at IS NULL`).
"""

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from experiments.locks import lock_rows
from experiments.timeline.elements import ExperimentError
from experiments.timeline.injection import call_with_args

from .grouping import group_waiters_sql
from .models import PendingFailure, SyncGroup, SyncGroupMember
from .processing import GROUP_BELOW_MINIMUM, WORKING, Context, Outcome, Waiter

if TYPE_CHECKING:
    from .elements import Barrier, GroupBarrier, Grouper


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


def _lock_groups(ids: Iterable[int], ctx: Context) -> dict[int, SyncGroup]:
    """Group rows locked in id order: waiting for them only in a transaction's first lock."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    query = lock_rows(SyncGroup.objects.filter(pk__in=ids), no_key=True, skip_locked=not ctx.blocking)
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
    group.use_members(participants)
    before = {p.pk: (copy.deepcopy(p.vars), p.failed) for p in participants
              if ctx.live is None or p.pk != ctx.live.pk}
    call_with_args(barrier.on_release, {"group": group, "participants": participants,
                                        "experiment": ctx.experiment, "barrier": barrier})
    group.refresh_members()
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


def decide_grouper(grouper: "Grouper", ctx: Context) -> None:
    if getattr(grouper, "join_existing_groups", False):
        _top_up(grouper, ctx)
    pending = ctx.pending()
    if pending and grouper.uses_fast_path():
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
             .order_by("n_now", "id")  # the emptiest open group: one row, not an id-ordered set
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
        group.refresh_members()
    for pid in seen:
        ctx.release(waiting[pid], Outcome.RELEASED)
