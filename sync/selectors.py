"""Reads: a participant's barriers and groups, the waiting page's status."""

from typing import Any

from django.db import connection

from experiments.loading import get_experiment
from experiments.models import Participant

from .instructions import program_barriers
from .models import BarrierWait, SyncGroup


def participant_active_barriers(participant: Participant) -> dict[str, BarrierWait]:
    """Barrier id -> the participant's open (not yet released) wait there."""
    return {w.barrier_id: w for w in BarrierWait.objects.filter(
        participant_id=participant.pk, released_at__isnull=True).order_by("id")}


def participant_active_sync_groups(participant: Participant) -> dict[str, SyncGroup]:
    """group_type -> the active group the participant currently belongs to."""
    groups = SyncGroup.objects.filter(
        active=True, memberships__participant_id=participant.pk, memberships__left_at__isnull=True,
    ).order_by("id")
    return {g.group_type: g for g in groups}


def participant_sync_groups(participant: Participant) -> list[SyncGroup]:
    """Every group the participant has belonged to, oldest first."""
    return list(SyncGroup.objects.filter(memberships__participant_id=participant.pk).order_by("id"))


def barrier_waiting_participants(barrier_id: str) -> list[Participant]:
    """Participants waiting at a barrier now (working, not failed), in order of arrival."""
    return list(Participant.objects.filter(
        barrier_waits__barrier_id=barrier_id, barrier_waits__released_at__isnull=True,
        failed=False, status=Participant.Status.WORKING,
    ).order_by("barrier_waits__id"))


_STATUS_SQL = """
SELECT w.barrier_id, w.released_at, w.outcome, w.arrived_at, w.deadline, w.group_id,
       g.n_active_participants,
       (SELECT count(*) FROM {wait} o
        WHERE o.barrier_id = w.barrier_id AND o.released_at IS NULL
          AND (w.group_id IS NULL OR o.group_id = w.group_id)) AS n_here
FROM {wait} w LEFT JOIN {group} g ON g.id = w.group_id
WHERE w.id = %s AND w.participant_id = %s
"""


def wait_status(participant: Participant) -> dict[str, Any]:
    """What the waiting page shows and needs: how many are here, and whether to move on.

    One query (besides loading the participant): the wait row, its group and a count over the
    partial index of open waits.
    """
    base: dict[str, Any] = {"page_uuid": str(participant.page_uuid) if participant.page_uuid else None}
    entries = (participant.timeline_state or {}).get("sync") or {}
    if not entries:
        return {**base, "waiting": False, "released": False}
    entry = list(entries.values())[-1]
    sql = _STATUS_SQL.format(wait=BarrierWait._meta.db_table, group=SyncGroup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [entry.get("wait"), participant.pk])
        row = cursor.fetchone()
    if row is None:
        return {**base, "waiting": False, "released": False}
    barrier_id, released_at, outcome, arrived_at, deadline, group_id, group_size, n_here = row
    barrier = program_barriers(get_experiment().program).get(barrier_id)
    if barrier is not None:
        expected, message = barrier.status_message(n_here=n_here, group_id=group_id, group_size=group_size)
    else:
        expected, message = None, f"{n_here} participant{'s' if n_here != 1 else ''} waiting"
    released = released_at is not None
    if released:
        message = "Ready: moving on…"
    return {
        **base,
        "waiting": not released,
        "released": released,
        "outcome": outcome or None,
        "barrier": barrier_id,
        "n_here": n_here,
        "n_expected": expected,
        "message": message,
        "arrived_at": arrived_at.isoformat(),
        "deadline": deadline.isoformat() if deadline else None,
    }


def waiting_summary() -> list[dict[str, Any]]:
    """Per barrier: how many wait and the longest wait so far (for admins)."""
    from django.db.models import Count, Min

    return list(BarrierWait.objects.filter(released_at__isnull=True).values("barrier_id")
                .annotate(n=Count("id"), since=Min("arrived_at")).order_by("barrier_id"))
