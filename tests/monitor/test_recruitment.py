"""Study controls: open, pause or close recruitment from the monitor."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from experiments.models import Participant
from monitor.models import Recruitment
from monitor.selectors import recruitment_state

pytestmark = pytest.mark.django_db

RECRUITMENT = "/admin/monitor/recruitment"


def enter(client: Client, worker_id: str):
    return client.get("/start/", {"worker_id": worker_id})


def test_closing_recruitment_refuses_new_entrants_while_existing_participants_go_on(admin_client):
    visitor = Client()
    reply = enter(visitor, "before")
    assert reply.status_code == 302
    token = reply["Location"].rstrip("/").rsplit("/", 1)[-1]

    reply = admin_client.post(RECRUITMENT, {"state": "closed"})
    assert reply.status_code == 302 and reply.url == "/admin/monitor/"
    assert recruitment_state() == "closed"
    row = Recruitment.objects.get()
    assert row.changed_by == "admin" and row.changed_at is not None

    refused = enter(Client(), "after")
    assert refused.status_code == 403
    assert "no longer recruiting" in refused.content.decode()
    assert not Participant.objects.filter(worker_id="after").exists()
    assert Participant.objects.count() == 1

    # The participant who started before goes on: their page and their submits work.
    assert visitor.get(f"/p/{token}/").status_code == 200
    page = visitor.get(f"/api/p/{token}/page").json()
    moved = visitor.post(f"/api/p/{token}/response", {"page_uuid": page["page_uuid"]},
                         content_type="application/json")
    assert moved.status_code == 200 and moved.json()["label"] != page["label"]

    # Paused: come back later (503); reopened: entrants get in again.
    admin_client.post(RECRUITMENT, {"state": "paused"})
    paused = enter(Client(), "paused")
    assert paused.status_code == 503 and "try again later" in paused.content.decode()
    assert not Participant.objects.filter(worker_id="paused").exists()
    admin_client.post(RECRUITMENT, {"state": "open"})
    assert enter(Client(), "reopened").status_code == 302
    assert Participant.objects.filter(worker_id="reopened").exists()


def test_the_monitor_shows_the_state_and_its_buttons(admin_client):
    html = admin_client.get("/admin/monitor/").content.decode()
    assert 'id="recruitment-state" class="recruitment-open">open<' in html
    admin_client.post(RECRUITMENT, {"state": "paused"})
    html = admin_client.get("/admin/monitor/").content.decode()
    assert ">paused<" in html and "Recruitment is now paused." in html


def test_an_unknown_state_is_refused_with_the_fix_and_changes_nothing(admin_client):
    reply = admin_client.post(RECRUITMENT, {"state": "shut"})
    assert reply.status_code == 400
    assert "use one of open, paused, closed" in reply.content.decode()
    assert recruitment_state() == "open" and not Recruitment.objects.exists()
    assert admin_client.get(RECRUITMENT).status_code == 405


def test_only_staff_change_recruitment_and_csrf_is_checked(client):
    reply = client.post(RECRUITMENT, {"state": "closed"})
    assert reply.status_code == 302 and reply.url.startswith(reverse("admin:login"))
    User.objects.create_user("not-staff", password="pw", is_staff=False)
    client.login(username="not-staff", password="pw")
    reply = client.post(RECRUITMENT, {"state": "closed"})
    assert reply.status_code == 302 and reply.url.startswith(reverse("admin:login"))

    staff = Client(enforce_csrf_checks=True)
    staff.force_login(User.objects.create_superuser("boss", password="pw"))
    assert staff.post(RECRUITMENT, {"state": "closed"}).status_code == 403  # no CSRF token
    assert recruitment_state() == "open"
