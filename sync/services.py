"""Every write of the sync app: arriving, leaving, the beat tick, failures, admin actions.

Lock order everywhere: a participant's own row (their request), then barrier advisory locks
(sync.locks), then group rows (id order), then waiting rows (id order). Nothing here locks
another participant's row while it holds a sync lock: failures go through the PendingFailure
outbox and are applied in their own transactions after commit.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from experiments.loading import get_experiment
from experiments.locks import lock_row, lock_rows
from experiments.models import Participant
from experiments.services import participant_fail

from .instructions import Arrive, program_barriers
from .locks import lock_barrier, release_tick_lock, try_tick_lock
from .models import BarrierWait, PendingFailure, SyncGroup, SyncGroupMember
from .outbox import pending_failures_apply
from .processing import (
    GROUP_BELOW_MINIMUM,
    barrier_process,
    lock_name,
    process_barrier,
    reprocess_after_commit,
)

if TYPE_CHECKING:
    from experiments.timeline.program import Runner

    from .elements import Barrier

logger = logging.getLogger(__name__)
Outcome = BarrierWait.Outcome


# --- the participant's own request ----------------------------------------------------------

def barrier_arrive(*, barrier: "Barrier", runner: "Runner", position: int) -> BarrierWait:
    """Record the arrival and process the barrier in the same transaction (the participant's
    own request, their row already locked): the last arrival releases its group at once."""
    participant = runner.participant
    barrier.receive_participant(participant)
    group_id = None
    if barrier.grouped:
        # The participant's current group of this type — or the one that just failed under
        # them (they are released and failed with it, not waved through as group-less).
        latest = (SyncGroupMember.objects.filter(
            participant=participant, left_at__isnull=True, group__group_type=barrier.group_type,
        ).order_by("-group_id").values_list("group_id", "group__active", "group__end_reason").first())
        if latest and (latest[1] or latest[2] == GROUP_BELOW_MINIMUM):
            group_id = latest[0]
        else:
            runner.log("sync_no_group", barrier.id, barrier.group_type)
    now = timezone.now()
    entries = runner.state.setdefault("sync", {})
    with transaction.atomic(savepoint=False):
        locked = lock_barrier(lock_name(barrier, group_id))
        acquired = locked[0]
        wait = None
        if barrier.id in entries:
            # An earlier visit here was never checked out (cannot happen in normal flow).
            stale = BarrierWait.objects.filter(participant=participant, barrier_id=barrier.id,
                                               released_at__isnull=True)
            wait = stale.first() if not acquired else None
            if acquired:
                stale.update(released_at=now, released_by="arrival", outcome=Outcome.LEFT)
        if wait is None:
            wait = BarrierWait.objects.create(
                participant=participant, barrier_id=barrier.id, barrier_class=type(barrier).__name__,
                position=position, group_id=group_id, arrived_at=now,
                deadline=now + timedelta(seconds=barrier.max_wait_time) if barrier.max_wait_time else None,
                on_timeout=barrier.on_timeout,
            )
        entries[barrier.id] = {"wait": wait.pk, "credit": participant.time_credit}
        if acquired:
            ctx = process_barrier(barrier, trigger="arrival", live=participant,
                                  experiment=runner.experiment, group_id=group_id, locked=locked)
            if ctx is not None and wait.pk in ctx.releases:
                # Released in this very transaction: the check that follows needs no query.
                runner.extra.setdefault("sync_released", {})[wait.pk] = {
                    "released_at": ctx.now, "outcome": ctx.releases[wait.pk], "var_updates": None,
                    "arrived_at": wait.arrived_at}
        else:
            reprocess_after_commit(barrier.id, group_id)
    return wait


def barrier_check(*, barrier: "Barrier", arrive: Arrive, runner: "Runner", position: int) -> int:
    """Where a participant at a barrier goes next: on (released), an end page (failed by a
    timeout or by their group), or the waiting logic (still waiting)."""
    participant = runner.participant
    entries = runner.state.setdefault("sync", {})
    entry = entries.get(barrier.id)
    arrive_position = arrive.check - 1
    row = None
    if entry is not None:
        row = runner.extra.get("sync_released", {}).get(entry["wait"]) or (BarrierWait.objects.filter(pk=entry["wait"], participant=participant)
               .values("released_at", "outcome", "var_updates", "arrived_at").first())
    if row is None:
        entries.pop(barrier.id, None)
        return arrive_position  # no record of the arrival (state lost): arrive again
    if row["released_at"] is None:
        return position + 1
    del entries[barrier.id]
    if not entries:
        runner.state.pop("sync", None)
    updates = row["var_updates"] or {}
    participant.vars.update(updates.get("set") or {})
    for key in updates.get("unset") or []:
        participant.vars.pop(key, None)
    if barrier.fix_time_credit:
        participant.time_credit = float(entry.get("credit", participant.time_credit)) + barrier.estimate()
    outcome = row["outcome"]
    waited = (row["released_at"] - row["arrived_at"]).total_seconds()
    runner.log("sync_release", barrier.id, {"outcome": outcome, "waited": round(waited, 3)})
    if outcome == Outcome.TIMEOUT:
        participant.fail(f"timed out at barrier '{barrier.id}'", tags=["sync_timeout"])
        return arrive.timeout_page
    if outcome == Outcome.GROUP_FAILED:
        participant.fail("sync group below minimum size", tags=["sync_group_failed"])
        return arrive.group_failed_page
    return arrive.exit


# --- a participant who failed ---------------------------------------------------------------

def participant_left(*, participant_id: int) -> None:
    """A participant failed (any path): once that commits, refresh their groups and re-check
    every barrier where they or their group mates wait (the others may now be complete, or
    below minimum size). Runs after commit so the failure is visible; the beat is the backstop."""
    transaction.on_commit(lambda: _after_participant_left(participant_id))


def _after_participant_left(participant_id: int) -> None:
    group_ids = list(SyncGroupMember.objects.filter(
        participant_id=participant_id, left_at__isnull=True, group__active=True,
    ).values_list("group_id", flat=True))
    member_ids = set(SyncGroupMember.objects.filter(group_id__in=group_ids, left_at__isnull=True)
                     .values_list("participant_id", flat=True)) | {participant_id}
    scopes = sorted(set(BarrierWait.objects.filter(
        participant_id__in=member_ids, released_at__isnull=True).values_list("barrier_id", "group_id")),
        key=lambda scope: (scope[0], scope[1] or 0))
    if group_ids:
        with transaction.atomic():
            for group in lock_rows(SyncGroup.objects.filter(pk__in=group_ids), no_key=True):
                _refresh_numbers(group)
    for barrier_id, group_id in scopes:
        try:
            barrier_process(barrier_id=barrier_id, group_id=group_id, trigger="failure")
        except Exception:  # the beat retries; one bad barrier must not hide the others
            logger.exception("processing barrier %r after a failure", barrier_id)


def _refresh_numbers(group: SyncGroup) -> None:
    active = list(SyncGroupMember.objects.filter(
        group=group, left_at__isnull=True, participant__failed=False,
        participant__status=Participant.Status.WORKING,
    ).order_by("participant_id").values_list("participant_id", flat=True))
    group.n_active_participants = len(active)
    if active and group.leader_id not in active:
        group.leader_id = active[0]
    group.save(update_fields=["n_active_participants", "leader"])


# --- the beat -----------------------------------------------------------------------------------

@dataclass
class TickResult:
    barriers: list[str] = field(default_factory=list)
    failures_applied: int = 0
    skipped: bool = False


def sync_tick() -> TickResult:
    """Beat backstop (every SYNC_TICK_INTERVAL s): process every barrier that has waiters —
    releases that could not happen on arrival, max_wait_time — and apply pending failures.
    One query when nobody waits. Overlapping ticks are prevented by a session advisory lock."""
    wait_table, failure_table = BarrierWait._meta.db_table, PendingFailure._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT array_agg(DISTINCT barrier_id) FROM {wait_table} WHERE released_at IS NULL), "
            f"EXISTS (SELECT 1 FROM {failure_table} WHERE applied_at IS NULL)"
        )
        barrier_ids, has_failures = cursor.fetchone()
    barrier_ids = sorted(barrier_ids or [])
    result = TickResult(barriers=barrier_ids)
    if not barrier_ids and not has_failures:
        return result
    if not try_tick_lock():
        result.skipped = True
        return result
    try:
        for barrier_id in barrier_ids:
            try:
                barrier_process(barrier_id=barrier_id, trigger="beat")
            except Exception:
                logger.exception("sync tick: processing barrier %r failed", barrier_id)
        result.failures_applied = pending_failures_apply()
    finally:
        release_tick_lock()
    return result


# --- admin actions ----------------------------------------------------------------------------

def sync_group_close(*, group_id: int, reason: str = "closed by an admin") -> bool:
    """Close a group; members waiting at its barriers are released (they go on without it)."""
    with transaction.atomic():
        group = lock_row(SyncGroup, group_id, no_key=True)
        if group is None or not group.active:
            return False
        group.close()
        group.end_reason = reason[:255]
        group.save(update_fields=["active", "end_time", "end_reason"])
        for barrier_id in set(BarrierWait.objects.filter(group_id=group_id, released_at__isnull=True)
                              .values_list("barrier_id", flat=True)):
            reprocess_after_commit(barrier_id, group_id)
    return True


def barrier_wait_release(*, wait_id: int, by: str = "admin") -> bool:
    """Release one waiting participant now (they go on). Idempotent."""
    with transaction.atomic():
        wait = BarrierWait.objects.filter(pk=wait_id).only("barrier_id", "group_id").first()
        if wait is None:
            return False
        barrier = program_barriers(get_experiment().program).get(wait.barrier_id)
        lock_barrier(lock_name(barrier, wait.group_id) if barrier is not None else wait.barrier_id)
        return bool(BarrierWait.objects.filter(pk=wait_id, released_at__isnull=True).update(
            released_at=timezone.now(), released_by=by, outcome=Outcome.ADMIN))


def barrier_wait_fail(*, wait_id: int, reason: str = "failed by an admin while waiting") -> bool:
    """Fail a waiting participant (they see the failure page); their group is re-checked."""
    wait = BarrierWait.objects.filter(pk=wait_id).only("participant_id").first()
    if wait is None:
        return False
    return participant_fail(participant_id=wait.participant_id, reason=reason, tags=["sync_admin"])
