"""Real concurrent arrivals on PostgreSQL from real threads (each its own connection)."""

from collections import Counter

import pytest

from experiments import services
from experiments.models import Participant
from sync.models import BarrierWait, SyncGroup, SyncGroupMember

from .helpers import label, run_in_threads, submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_60_arrivals_at_once_form_20_disjoint_triads_each_released_once(sync_experiment):
    sync_experiment("grouping")
    participants = [services.participant_create(worker_id=f"w{i}") for i in range(60)]
    # 60 arrivals from 30 threads started together (each thread holds a connection; the
    # server's connection limit is shared with other test runs).
    run_in_threads(submit, participants, threads=30)

    groups = list(SyncGroup.objects.filter(group_type="triad"))
    assert len(groups) == 20
    members = list(SyncGroupMember.objects.values_list("group_id", "participant_id"))
    assert len(members) == 60
    per_participant = Counter(pid for _, pid in members)
    assert set(per_participant) == {p.pk for p in participants}
    assert set(per_participant.values()) == {1}, "someone is in two groups"
    assert sorted(Counter(gid for gid, _ in members).values()) == [3] * 20
    for group in groups:
        assert group.leader_id in {pid for gid, pid in members if gid == group.pk}
        assert group.active and group.n_active_participants == 3
    waits = list(BarrierWait.objects.filter(barrier_id="triad_grouper"))
    assert len(waits) == 60, "one arrival per participant"
    assert all(w.released_at is not None and w.outcome == "released" for w in waits)
    # Everyone released exactly once, and has moved past the grouper by their own request.
    assert BarrierWait.objects.filter(released_at__isnull=True).count() == 0
    # Those who arrived last were released in their own request: they never saw a waiting page.
    labels = Counter(label(p) for p in participants)
    assert labels["grouped"] >= 20 and set(labels) <= {"grouped", "sync_wait:triad_grouper"}


def test_concurrent_arrivals_at_a_group_barrier_release_each_group_once(sync_experiment):
    sync_experiment("grouping")
    participants = [services.participant_create(worker_id=f"w{i}") for i in range(12)]
    run_in_threads(submit, participants, threads=12)          # form 4 triads
    for p in participants:                                      # waiting ones move on
        if label(p) != "grouped":
            submit(p)
    assert Counter(label(p) for p in participants) == {"grouped": 12}
    run_in_threads(submit, participants, threads=12)          # all arrive at the GroupBarrier at once
    waits = BarrierWait.objects.filter(barrier_id="triad_sync")
    assert waits.count() == 12 and not waits.filter(released_at__isnull=True).exists()
    for group in SyncGroup.objects.all():
        assert group.vars["releases"] == 1, "on_release ran once per group"
    for p in participants:
        if label(p) != "together":
            submit(p)
    for p in Participant.objects.all():
        assert p.page_label == "together"
        partners = set(p.vars["partners"])
        group = p.active_sync_groups["triad"]
        assert partners == {m.pk for m in group.participants} - {p.pk}
        assert p.vars["leader"] == group.leader_id
