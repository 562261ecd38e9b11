"""Members who fail or leave while the others wait; admin actions; custom barriers."""

from collections import Counter

import pytest

from experiments import services
from experiments.models import Participant, Response
from sync.models import BarrierWait, SyncGroup
from sync.services import barrier_wait_release, sync_group_close, sync_tick

from .helpers import label, run_bot, run_in_threads, submit

pytestmark = pytest.mark.django_db(transaction=True)


def fresh(p: Participant) -> Participant:
    return Participant.objects.get(pk=p.pk)


def triad(entry_params=None) -> list[Participant]:
    people = [services.participant_create(worker_id=f"w{i}", entry_params=entry_params or {})
              for i in range(3)]
    for p in people:
        submit(p)
    for p in people:
        if label(p).startswith("sync_wait"):
            submit(p)
    return [fresh(p) for p in people]


def test_a_member_failing_while_the_others_wait_fails_the_whole_group(sync_experiment):
    sync_experiment("grouping")               # min_group_size = initial_group_size = 3
    a, b, c = triad()
    assert {label(p) for p in (a, b, c)} == {"grouped"}
    submit(a)
    submit(b)
    assert label(a) == label(b) == "sync_wait:triad_sync"
    services.participant_fail(participant_id=c.pk, reason="returned the task")   # e.g. an admin
    for p in (a, b):
        p = fresh(p)
        assert p.failed and p.failure_tags == ["sync_group_failed"]
        assert p.page_label == "sync_group_failed"
    group = SyncGroup.objects.get()
    assert not group.active and group.end_reason == "below minimum size"
    assert not BarrierWait.objects.filter(released_at__isnull=True).exists()


def test_a_member_failing_while_the_others_wait_releases_them_if_the_group_is_big_enough(sync_experiment):
    sync_experiment("custom")                 # trio: min_group_size=2
    a, b, c = triad({"path": "trio"})
    assert {label(p) for p in (a, b, c)} == {"trio_grouped"}
    submit(a)
    submit(b)
    group = SyncGroup.objects.get()
    old_leader = group.leader_id
    services.participant_fail(participant_id=old_leader, reason="left")
    remaining = [p for p in (a, b, c) if p.pk != old_leader]
    group.refresh_from_db()
    assert group.active and group.n_active_participants == 2
    assert group.leader_id == min(p.pk for p in remaining)     # the reference's check_leader
    for p in remaining:
        if label(p) == "trio_grouped":
            submit(p)     # arrives; the two left are the whole group now
    for p in remaining:
        if label(p).startswith("sync_wait"):
            submit(p)
    assert {label(p) for p in remaining} == {"trio_done"}
    assert not any(fresh(p).failed for p in remaining)


def test_admin_release_and_close(sync_experiment):
    sync_experiment("grouping")
    a, b, c = triad()
    submit(a)
    wait = BarrierWait.objects.get(participant=a, barrier_id="triad_sync")
    assert barrier_wait_release(wait_id=wait.pk) is True
    assert barrier_wait_release(wait_id=wait.pk) is False          # idempotent
    submit(a)
    assert label(a) == "together"
    submit(b)
    group = SyncGroup.objects.get()
    assert sync_group_close(group_id=group.pk) is True
    assert sync_group_close(group_id=group.pk) is False
    assert BarrierWait.objects.get(participant=b, barrier_id="triad_sync").outcome == "group_closed"
    submit(b)
    assert label(b) == "together" and not fresh(b).failed
    submit(c)                                   # no active group any more: passes straight on
    assert label(c) == "together"
    assert BarrierWait.objects.get(participant=c, barrier_id="triad_sync").outcome == "no_group"


def test_custom_barrier_with_filler_pages_and_custom_grouper(sync_experiment):
    sync_experiment("custom")
    people = [services.participant_create(worker_id=f"n{i}", entry_params={"number": str(i)})
              for i in range(4)]
    first, *others = people
    submit(first)
    assert label(first) == "filler"               # waiting logic: filler pages, not a wait page
    submit(first)
    submit(first)                                 # still alone: the filler comes again
    assert label(first) == "filler"
    assert Response.objects.filter(participant=first, page_label="filler").count() == 2
    submit(others[0])                             # two waiting: ReleaseInPairs lets both go
    assert label(others[0]) == "gate_done"
    submit(first)                                 # the next filler answer takes first out
    assert label(first) == "gate_done"
    for p in others[1:]:
        submit(p)
    submit(others[1])                             # released by others[2]; leaves at its next filler
    assert Counter(label(p) for p in people[2:]) == {"gate_done": 2}
    # ParityGrouper (researcher's ready_to_group/group) waits for four, then pairs by parity;
    # bots (threads, polling the status like the page does) take everyone to the end.
    finished = run_in_threads(lambda p: run_bot(p.token), people, threads=4)
    assert all(p.complete and not p.failed for p in finished)
    groups = list(SyncGroup.objects.filter(group_type="parity"))
    assert len(groups) == 2
    for group in groups:
        numbers = sorted(p.var.number for p in group.participants)
        assert numbers in ([0, 2], [1, 3])
        assert group.leader_id in {p.pk for p in group.participants}
        assert group.formed_by == "parity_grouper"
    outcomes = BarrierWait.objects.filter(barrier_id="parity_sync").values_list("outcome", flat=True)
    assert list(outcomes) == ["released"] * 4


def test_the_beat_releases_what_a_busy_lock_deferred(sync_experiment):
    """An arrival that found the barrier lock busy is finished by the next tick."""
    sync_experiment("grouping")
    people = [services.participant_create(worker_id=f"w{i}") for i in range(3)]
    for p in people[:2]:
        submit(p)
    # Simulate an arrival whose processing never ran: the third wait row recorded by hand.
    submit(people[2])
    BarrierWait.objects.filter(barrier_id="triad_grouper").update(released_at=None, outcome="")
    SyncGroup.objects.all().delete()
    result = sync_tick()
    assert result.barriers == ["triad_grouper"]
    assert SyncGroup.objects.count() == 1
    assert not BarrierWait.objects.filter(released_at__isnull=True).exists()
