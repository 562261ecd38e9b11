"""The SyncGroup API and the participant's views of it."""

import pytest

from experiments import services
from experiments.models import Participant
from sync.models import SimpleSyncGroup, SyncGroup

from .helpers import label, submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_group_api(sync_experiment):
    sync_experiment("grouping")
    people = [services.participant_create(worker_id=w) for w in "abc"]
    for p in people:
        submit(p)
    a = Participant.objects.get(pk=people[0].pk)
    assert label(a) == "sync_wait:triad_grouper"
    assert a.active_barriers == {}                    # released, not yet moved on
    group = a.active_sync_groups["triad"]
    assert isinstance(group, SimpleSyncGroup)         # rows load back as their class
    assert SyncGroup.get_active_group(a, "triad") == group
    assert group.initial_group_size == group.min_group_size == group.max_group_size == 3
    assert sorted(p.pk for p in group.participants) == sorted(p.pk for p in people)
    assert len(group.active_participants) == 3 and group.n_active_participants == 3
    assert len(group.active_followers) == 2 and group.leader not in group.active_followers

    leader = group.leader_id
    waiter = next(p for p in people if p.pk != leader)
    if label(waiter) != "grouped":
        submit(waiter)
    submit(waiter)                                     # waits at the GroupBarrier
    assert list(Participant.objects.get(pk=waiter.pk).active_barriers) == ["triad_sync"]

    services.participant_fail(participant_id=leader, reason="left")
    group = SyncGroup.objects.get(pk=group.pk)
    assert not group.active and group.end_reason == "below minimum size"   # no top-ups: ended
    assert group.leader_id != leader                  # check_leader ran before it ended
    group.refresh_members()
    assert group.active_participants == []            # ALL members were failed, not one

    fresh = SimpleSyncGroup(group_type="x")
    fresh.participants.append(a)                      # an unsaved group is filled like a list
    assert fresh.participants == [a]
    assert [g.pk for g in Participant.objects.get(pk=waiter.pk).sync_groups] == [group.pk]


def test_check_leader_and_numbers_follow_active_members(sync_experiment):
    sync_experiment("custom")                         # trio: min_group_size=2 (survives one loss)
    people = [services.participant_create(worker_id=w, entry_params={"path": "trio"}) for w in "abc"]
    for p in people:
        submit(p)
    group = SyncGroup.objects.get()
    old_leader = group.leader_id
    Participant.objects.filter(pk=old_leader).update(status="returned")   # left without a hook
    group.refresh_members()
    group.check_numbers()
    group.check_leader()
    assert group.n_active_participants == 2
    assert group.leader_id == min(p.pk for p in people if p.pk != old_leader)
    group.close()
    group.save()
    assert "trio" not in Participant.objects.get(pk=group.leader_id).active_sync_groups


def test_fix_time_credit_caps_the_credit_of_a_wait_at_its_estimate(sync_experiment):
    sync_experiment("custom")                         # trio_sync has fix_time_credit=True
    people = [services.participant_create(worker_id=w, entry_params={"path": "trio"}) for w in "abc"]
    for p in people:
        submit(p)
    for p in people:
        if label(p) != "trio_grouped":
            submit(p)
    before = {p.pk: Participant.objects.get(pk=p.pk).time_credit for p in people}
    for p in people:
        submit(p)                                     # trio_grouped (1 s) -> arrive at trio_sync
    for _ in range(3):
        for p in people:
            if label(p) == "sync_wait:trio_sync":
                submit(p)                             # waiting pages, however many, earn no more
    for p in people:
        p = Participant.objects.get(pk=p.pk)
        assert p.page_label == "trio_done"
        assert p.time_credit == pytest.approx(before[p.pk] + 1 + 1.5)   # page + 3 x 0.5 estimate
