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

    submit(a)
    submit(a)                                          # waits at the GroupBarrier
    assert list(Participant.objects.get(pk=a.pk).active_barriers) == ["triad_sync"]

    leader = group.leader_id
    services.participant_fail(participant_id=leader, reason="left")
    group = SyncGroup.objects.get(pk=group.pk)
    assert not group.active and group.end_reason == "below minimum size"   # no top-ups: ended
    assert group.leader_id != leader                  # check_leader ran before it ended
    group.refresh_members()
    assert group.active_participants == []            # ALL members were failed, not one

    fresh = SimpleSyncGroup(group_type="x")
    fresh.participants.append(a)                      # an unsaved group is filled like a list
    assert fresh.participants == [a]
    assert [g.pk for g in Participant.objects.get(pk=a.pk).sync_groups] == [group.pk]


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
