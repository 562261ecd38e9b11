"""Real concurrent arrivals on PostgreSQL from real threads (each its own connection)."""

from collections import Counter

import pytest

from experiments import services
from experiments.models import Participant
from sync.models import BarrierWait, PendingFailure, SyncGroup, SyncGroupMember
from sync.services import sync_tick

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


def test_members_failing_while_their_partners_arrive_concurrently(sync_experiment):
    """10 trios (min_group_size=2): in each, two members arrive at the GroupBarrier while the
    third is failed, all 30 at once. Whatever the order, the two go on, each released once."""
    sync_experiment("custom")
    people = [services.participant_create(worker_id=f"t{i}", entry_params={"path": "trio"})
              for i in range(30)]
    for p in people:
        submit(p)
    for p in people:
        if label(p) != "trio_grouped":
            submit(p)
    groups = list(SyncGroup.objects.filter(group_type="trio"))
    assert len(groups) == 10
    jobs = []
    for group in groups:
        leaver, *stayers = sorted(p.pk for p in group.participants)
        jobs.append(("fail", leaver))
        jobs.extend(("arrive", pid) for pid in stayers)

    def act(job):
        kind, pid = job
        if kind == "fail":
            services.participant_fail(participant_id=pid, reason="closed the tab")
        else:
            submit(Participant.objects.get(pk=pid))

    run_in_threads(act, jobs, threads=30)
    stayers = [pid for kind, pid in jobs if kind == "arrive"]
    waits = BarrierWait.objects.filter(barrier_id="trio_sync")
    assert waits.count() == 20 and not waits.filter(released_at__isnull=True).exists()
    assert set(waits.values_list("outcome", flat=True)) == {"released"}
    for pid in stayers:
        p = Participant.objects.get(pk=pid)
        if p.page_label != "trio_done":
            submit(p)                                     # was waiting: its page moves on
        p = Participant.objects.get(pk=pid)
        assert p.page_label == "trio_done" and not p.failed
    for group in SyncGroup.objects.filter(group_type="trio"):
        assert group.active and group.n_active_participants == 2
        assert group.leader_id in stayers


def test_members_failing_concurrently_end_groups_below_minimum_for_everyone(sync_experiment):
    """As above with min_group_size = 3: every group ends, ALL its members are failed, every
    wait released exactly once — whatever the interleaving, and without deadlocks."""
    sync_experiment("grouping")
    people = [services.participant_create(worker_id=f"g{i}") for i in range(30)]
    run_in_threads(submit, people, threads=15)
    for p in people:
        if label(p) != "grouped":
            submit(p)
    jobs = []
    for group in SyncGroup.objects.filter(group_type="triad"):
        leaver, *stayers = sorted(p.pk for p in group.participants)
        jobs.append(("fail", leaver))
        jobs.extend(("arrive", pid) for pid in stayers)

    def act(job):
        kind, pid = job
        if kind == "fail":
            services.participant_fail(participant_id=pid, reason="closed the tab")
        else:
            try:
                submit(Participant.objects.get(pk=pid))
            except services.StalePage:
                pass                          # failed by its group meanwhile: the page changed

    run_in_threads(act, jobs, threads=30)
    sync_tick()                               # the backstop (nothing should be left for it)
    assert not BarrierWait.objects.filter(released_at__isnull=True).exists()
    assert not SyncGroup.objects.filter(active=True).exists()
    assert Participant.objects.filter(failed=False).count() == 0
    for wait in BarrierWait.objects.filter(barrier_id="triad_sync"):
        assert wait.outcome in ("group_failed", "left")
    assert PendingFailure.objects.filter(applied_at__isnull=True).count() == 0
