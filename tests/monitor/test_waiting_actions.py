"""Waiting rooms' actions: release a stuck waiter (they go on) or fail them, from the monitor."""

import pytest
from django.urls import reverse

from experiments import services
from experiments.models import Participant
from sync.models import BarrierWait
from tests.sync.conftest import EXPERIMENTS
from tests.sync.helpers import label, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def stuck(use_experiment):
    """Two participants of the triad experiment waiting at its grouper: nobody else comes."""
    use_experiment(EXPERIMENTS / "grouping")
    people = [submit(services.participant_create(worker_id=f"stuck{i}")) for i in range(2)]
    waits = [BarrierWait.objects.get(participant=p, barrier_id="triad_grouper", released_at__isnull=True)
             for p in people]
    return people, waits


def act(client, wait: BarrierWait, action: str):
    return client.post(reverse("monitor-wait-action", args=[wait.pk]), {"action": action}, follow=True)


def test_a_stuck_waiter_released_from_the_monitor_moves_on(admin_client, stuck):
    (alice, bob), (alice_wait, bob_wait) = stuck
    html = admin_client.get("/admin/monitor/").content.decode()
    assert reverse("monitor-wait-action", args=[alice_wait.pk]) in html

    reply = act(admin_client, alice_wait, "release")
    assert reply.redirect_chain == [("/admin/monitor/", 302)]
    assert "Released: the participant goes on." in reply.content.decode()
    alice_wait.refresh_from_db()
    assert alice_wait.outcome == "admin" and alice_wait.released_by == "admin"
    before = label(alice)
    alice = submit(alice)  # the waiting page's next submit moves them on
    assert label(alice) != before and not label(alice).startswith("sync_wait")
    assert not alice.failed
    # Bob is still waiting; releasing Alice again is refused and changes nothing.
    assert BarrierWait.objects.get(pk=bob_wait.pk).released_at is None
    again = act(admin_client, alice_wait, "release")
    assert "no longer waiting there" in again.content.decode()
    assert BarrierWait.objects.get(pk=alice_wait.pk).released_by == "admin"


def test_a_stuck_waiter_failed_from_the_monitor_sees_the_failure_page(admin_client, stuck):
    (alice, bob), (alice_wait, bob_wait) = stuck
    reply = act(admin_client, bob_wait, "fail")
    assert "Failed: the participant sees the failure page." in reply.content.decode()
    bob = Participant.objects.get(pk=bob.pk)
    assert bob.failed and bob.failed_reason == "failed from the monitor while waiting by admin"
    assert "sync_admin" in bob.failure_tags
    assert not Participant.objects.get(pk=alice.pk).failed
    snap = admin_client.get(reverse("monitor-data")).json()
    assert [e["id"] for e in snap["errors"]["recent"]] == [bob.pk]


def test_bad_wait_actions_change_nothing(client, admin_client, stuck):
    (alice, _), (alice_wait, _) = stuck
    url = reverse("monitor-wait-action", args=[alice_wait.pk])
    reply = admin_client.post(url, {"action": "kick"})
    assert reply.status_code == 400 and "use one of release, fail" in reply.content.decode()
    assert admin_client.get(url).status_code == 405
    reply = client.post(url, {"action": "release"})  # anonymous
    assert reply.status_code == 302 and reply.url.startswith(reverse("admin:login"))
    gone = admin_client.post(reverse("monitor-wait-action", args=[alice_wait.pk + 1000]),
                             {"action": "fail"}, follow=True)
    assert "no longer waiting there" in gone.content.decode()
    assert BarrierWait.objects.get(pk=alice_wait.pk).released_at is None
    assert not Participant.objects.filter(failed=True).exists()
