"""Admin: sync groups and waiting participants, with the close / release / fail actions."""

import pytest

from experiments import services
from experiments.models import Participant
from sync.models import BarrierWait, SyncGroup

from .helpers import label, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("admin", password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_admin_needs_staff(client, sync_experiment):
    sync_experiment("grouping")
    response = client.get("/admin/sync/syncgroup/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_lists_groups_and_waits_and_runs_actions(staff, sync_experiment):
    sync_experiment("grouping")
    people = [services.participant_create(worker_id=f"w{i}") for i in range(4)]
    for p in people[:3]:
        submit(p)
    submit(people[3])                        # alone at the grouper
    group = SyncGroup.objects.get()
    page = staff.get("/admin/sync/syncgroup/").content.decode()
    assert "triad" in page and f">{group.pk}<" in page
    detail = staff.get(f"/admin/sync/syncgroup/{group.pk}/change/").content.decode()
    for p in people[:3]:
        assert f"Participant {p.pk}" in detail
    waits = staff.get("/admin/sync/barrierwait/?state=waiting").content.decode()
    assert "triad_grouper" in waits and "(waiting)" in waits

    lone = BarrierWait.objects.get(participant=people[3], released_at__isnull=True)
    staff.post("/admin/sync/barrierwait/", {"action": "release_waits", "_selected_action": [lone.pk]})
    lone.refresh_from_db()
    assert lone.outcome == "admin" and lone.released_by == "admin"

    for p in people[:3]:
        if label(p).startswith("sync_wait"):
            submit(p)
    submit(people[0])                        # waits at the GroupBarrier
    waiting = BarrierWait.objects.get(participant=people[0], barrier_id="triad_sync")
    staff.post("/admin/sync/barrierwait/", {"action": "fail_waiting", "_selected_action": [waiting.pk]})
    failed = Participant.objects.get(pk=people[0].pk)
    assert failed.failed and failed.page_label == "end_unsuccessful"

    staff.post("/admin/sync/syncgroup/", {"action": "close_groups", "_selected_action": [group.pk]})
    group.refresh_from_db()
    assert not group.active and group.end_reason == "closed by an admin"
