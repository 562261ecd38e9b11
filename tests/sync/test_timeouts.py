"""max_wait_time is enforced on the server by the beat task, with the declared policy.

No test sleeps: a wait's deadline is moved into the past, then the tick runs (as the beat would
call it every second)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from experiments import services
from experiments.models import Participant
from experiments.selectors import page_payload
from sync.models import BarrierWait, PendingFailure, SyncGroupMember
from sync.selectors import wait_status
from sync.services import sync_tick

from .helpers import label, submit

pytestmark = pytest.mark.django_db(transaction=True)


def expire(participant: Participant, barrier_id: str) -> None:
    updated = BarrierWait.objects.filter(participant=participant, barrier_id=barrier_id,
                                         released_at__isnull=True).update(
        deadline=timezone.now() - timedelta(seconds=1))
    assert updated == 1, f"{participant} is not waiting at {barrier_id}"


def make_pair(policy: str) -> tuple[Participant, Participant]:
    a = services.participant_create(worker_id="a", entry_params={"policy": policy})
    b = services.participant_create(worker_id="b", entry_params={"policy": policy})
    submit(a)
    submit(b)          # completes the pair: released in its own request
    submit(a)          # a's waiting page, submitted once its status says released
    assert label(a) == label(b) == "paired"
    return Participant.objects.get(pk=a.pk), Participant.objects.get(pk=b.pk)


def fresh(p: Participant) -> Participant:
    return Participant.objects.get(pk=p.pk)


def test_nothing_happens_before_the_deadline(sync_experiment):
    sync_experiment("timeouts")
    a, b = make_pair("fail")
    submit(a)
    sync_tick()
    assert label(a) == "sync_wait:meet_fail" and not fresh(a).failed
    assert wait_status(fresh(a))["waiting"] is True


def test_fail_policy_fails_the_waiter_with_a_clear_page_and_their_partner_on_arrival(sync_experiment):
    sync_experiment("timeouts")
    a, b = make_pair("fail")
    submit(a)                                   # a waits at meet_fail; b has left (tab closed)
    waiting_page_uuid = str(fresh(a).page_uuid)
    expire(a, "meet_fail")
    result = sync_tick()
    assert "meet_fail" in result.barriers
    a = fresh(a)
    assert a.failed and a.failure_tags == ["sync_timeout"] and "meet_fail" in a.failed_reason
    assert a.page_label == "sync_timeout"
    payload = page_payload(a)
    assert payload["terminal"] and "did not arrive in time" in payload["prompt"]["text"]
    # The waiting page's next poll sees it is no longer current and reloads.
    assert wait_status(a)["page_uuid"] != waiting_page_uuid
    assert BarrierWait.objects.get(participant=a, barrier_id="meet_fail").outcome == "timeout"
    assert not PendingFailure.objects.filter(applied_at__isnull=True).exists()
    # b comes back: the pair can never be complete again, so b is released and failed at once,
    # with the page that says why.
    submit(b)
    b = fresh(b)
    assert b.failed and b.page_label == "sync_group_failed"
    assert "left the experiment" in page_payload(b)["prompt"]["text"]
    assert not b.active_sync_groups  # the group was closed


def test_proceed_policy_releases_the_waiter_who_goes_on(sync_experiment):
    sync_experiment("timeouts")
    a, b = make_pair("proceed")
    submit(a)
    expire(a, "meet_proceed")
    sync_tick()
    assert wait_status(fresh(a))["released"] is True
    assert BarrierWait.objects.get(participant=a, barrier_id="meet_proceed").outcome == "proceed"
    submit(a)
    assert label(a) == "met" and not fresh(a).failed
    assert not fresh(b).failed


def test_kick_policy_removes_the_absent_partner_and_the_rest_go_on(sync_experiment):
    sync_experiment("timeouts")
    a, b = make_pair("kick")
    submit(a)
    expire(a, "meet_kick")
    sync_tick()
    b = fresh(b)
    assert b.failed and b.failure_tags == ["sync_kicked"]
    assert b.page_label == "end_unsuccessful"    # b was not at a barrier: the generic end page
    membership = SyncGroupMember.objects.get(participant=b)
    assert membership.left_at is not None and membership.left_reason.startswith("kicked")
    submit(a)
    assert label(a) == "met"
    group = fresh(a).active_sync_groups["pair"]
    assert [p.pk for p in group.participants] == [a.pk] and group.min_group_size == 1
    assert group.leader_id == a.pk
    submit(a)                                    # the next GroupBarrier: a alone is the group
    assert label(a) == "again_done" and not fresh(a).failed


def test_a_lone_participant_times_out_at_the_grouper(sync_experiment):
    sync_experiment("timeouts")
    c = services.participant_create(worker_id="c")
    submit(c)
    assert label(c) == "sync_wait:pair_grouper"
    expire(c, "pair_grouper")
    sync_tick()
    c = fresh(c)
    assert c.failed and c.page_label == "sync_timeout"
    assert not c.active_barriers and not c.sync_groups


def test_a_tick_with_nobody_waiting_is_one_query(sync_experiment, django_assert_max_num_queries):
    sync_experiment("timeouts")
    with django_assert_max_num_queries(1):
        result = sync_tick()
    assert result.barriers == [] and not result.skipped
