"""The live monitor at /admin/monitor/: staff only, true counts, constant cost per refresh."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from experiments import services
from experiments.loading import get_experiment
from experiments.models import Participant
from experiments.selectors import current_page
from experiments.timeline.program import ShowPage
from monitor.selectors import PAGE_SIZE
from sync.models import BarrierWait

pytestmark = pytest.mark.django_db

MONITOR_URLS = ["monitor", "monitor-live", "monitor-data"]


def take_pages(participant: Participant, n: int) -> Participant:
    """Answer `n` pages with the bot answer, through the same service as a browser."""
    for _ in range(n):
        page = current_page(participant)
        if page.terminal:
            break
        participant = services.response_submit(
            token=participant.token, page_uuid=participant.page_uuid,
            raw_answer=page.get_bot_response({"participant": participant}),
        ).participant
    return participant


def data(client, **params) -> dict:
    reply = client.get(reverse("monitor-data"), params)
    assert reply.status_code == 200, reply.content
    return reply.json()


@pytest.mark.parametrize("name", MONITOR_URLS)
def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(client, name):
    url = reverse(name)
    reply = client.get(url)
    assert reply.status_code == 302 and reply.url.startswith(reverse("admin:login"))

    User.objects.create_user("not-staff", password="pw", is_staff=False)
    client.login(username="not-staff", password="pw")
    reply = client.get(url)
    assert reply.status_code == 302 and reply.url.startswith(reverse("admin:login"))


def test_staff_see_the_monitor_styled_as_admin_and_linked_from_the_admin_index(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert 'href="/admin/monitor/"' in index
    page = admin_client.get("/admin/monitor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="site-name"' in html  # the admin's header: the page extends admin/base_site.html
    assert "/static/monitor/monitor.js" in html
    for section in ("funnel", "per-hour", "participants", "waiting-rooms", "errors", "controls"):
        assert f'id="{section}"' in html
    assert "http://testserver/start/?worker_id=WORKER_ID&amp;assignment_id=ASSIGNMENT_ID" in html
    # The study controls' "list" in the admin opens the monitor too.
    reply = admin_client.get(reverse("admin:monitor_recruitment_changelist"))
    assert reply.status_code == 302 and reply.url == "/admin/monitor/"


def test_the_funnel_and_the_counts_equal_the_database(admin_client):
    at_start = [services.participant_create(worker_id=f"s{i}") for i in range(3)]
    middle = [take_pages(services.participant_create(worker_id=f"m{i}"), 3) for i in range(4)]
    done = take_pages(services.participant_create(worker_id="done"), 50)
    assert done.complete
    services.participant_fail(participant_id=middle[0].pk, reason="attention check failed")
    services.participant_set_status(participant_id=at_start[0].pk, status="returned")
    services.participant_set_status(participant_id=at_start[1].pk, status="abandoned")
    bot = services.participant_create(worker_id="bot", is_bot=True)

    snap = data(admin_client)
    everyone = Participant.objects.all()
    assert snap["counts"] == {
        "started": everyone.count(),
        "working": everyone.filter(failed=False, complete=False, status="working").count(),
        "completed": everyone.filter(complete=True, failed=False).count(),
        "failed": everyone.filter(failed=True).count(),
        "returned": everyone.filter(status="returned", failed=False, complete=False).count(),
        "abandoned": everyone.filter(status="abandoned", failed=False, complete=False).count(),
    }
    assert snap["counts"] == {"started": 9, "working": 5, "completed": 1, "failed": 1,
                              "returned": 1, "abandoned": 1}

    program = get_experiment().program
    pages = [(i, ins.label) for i, ins in enumerate(program.instructions) if isinstance(ins, ShowPage)]
    # Every page of the compiled timeline, in timeline order, with its label.
    assert [(row["position"], row["label"]) for row in snap["funnel"]] == pages
    for row in snap["funnel"]:
        here = everyone.filter(position=row["position"])
        assert row["n"] == here.count()
        assert row["failed"] == here.filter(failed=True).count()
        assert row["completed"] == here.filter(complete=True).count()
        assert set(here.values_list("page_label", flat=True)) <= {row["label"]}
    assert sum(row["n"] for row in snap["funnel"]) == everyone.count()
    assert [row["n"] for row in snap["funnel"] if row["n"]] != [9]  # spread over several pages

    rows = {p["id"]: p for p in snap["participants"]["rows"]}
    assert rows[done.pk]["status"] == "completed" and rows[done.pk]["progress"] == 1.0
    assert rows[middle[0].pk]["status"] == "failed"
    assert rows[at_start[0].pk]["status"] == "returned"
    assert rows[bot.pk]["is_bot"] is True and rows[middle[1].pk]["is_bot"] is False
    assert rows[middle[1].pk]["page_label"] == Participant.objects.get(pk=middle[1].pk).page_label
    assert rows[middle[1].pk]["admin_url"] == f"/admin/experiments/participant/{middle[1].pk}/change/"
    assert rows[middle[1].pk]["worker_id"] == "m1"

    assert snap["errors"]["reasons"] == [{"reason": "attention check failed", "n": 1}]
    assert [e["id"] for e in snap["errors"]["recent"]] == [middle[0].pk]


def test_per_hour_counts_started_completed_and_failed_in_each_hour(admin_client):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    Participant.objects.bulk_create([Participant(worker_id=f"h{i}") for i in range(5)])
    ids = list(Participant.objects.order_by("id").values_list("id", flat=True))
    # Two started three hours ago, one of them completed two hours ago; one failed just now.
    Participant.objects.filter(id__in=ids[:2]).update(created_at=now - timedelta(hours=3))
    Participant.objects.filter(id=ids[0]).update(complete=True, completed_at=now - timedelta(hours=2))
    Participant.objects.filter(id=ids[4]).update(failed=True, failed_at=now)
    Participant.objects.filter(id=ids[3]).update(created_at=now - timedelta(hours=30))  # too old

    rows = {row["hour"]: row for row in data(admin_client)["per_hour"]}
    assert rows == {
        hour.isoformat(): {"hour": hour.isoformat(), "started": 2, "completed": 0, "failed": 1},
        (hour - timedelta(hours=2)).isoformat(): {"hour": (hour - timedelta(hours=2)).isoformat(),
                                                  "started": 0, "completed": 1, "failed": 0},
        (hour - timedelta(hours=3)).isoformat(): {"hour": (hour - timedelta(hours=3)).isoformat(),
                                                  "started": 2, "completed": 0, "failed": 0},
    }
    assert list(rows) == sorted(rows, reverse=True)


def test_the_participants_table_filters_by_status_and_pages(admin_client):
    Participant.objects.bulk_create(
        [Participant(worker_id=f"w{i}", failed=i % 3 == 0, failed_reason="x" if i % 3 == 0 else "")
         for i in range(PAGE_SIZE * 2 + 5)]
    )
    failed = data(admin_client, status="failed")["participants"]
    assert failed["count"] == Participant.objects.filter(failed=True).count() == 35
    assert {p["status"] for p in failed["rows"]} == {"failed"}
    everyone = data(admin_client, page=3)["participants"]
    assert everyone["count"] == PAGE_SIZE * 2 + 5 and everyone["num_pages"] == 3
    assert len(everyone["rows"]) == 5

    html = admin_client.get("/admin/monitor/", {"status": "failed"}).content.decode()
    assert html.count("status-failed") == 35 and "status-working" not in html

    # Search by part of a worker id, or by participant id; the page links keep the query.
    found = data(admin_client, q="w10")["participants"]
    assert sorted(p["worker_id"] for p in found["rows"]) == ["w10", "w100", "w101", "w102", "w103", "w104"]
    target = Participant.objects.get(worker_id="w7")
    assert [p["worker_id"] for p in data(admin_client, q=f"#{target.pk}")["participants"]["rows"]] == ["w7"]
    paged = data(admin_client, q="w", status="working", page=1)["participants"]
    assert paged["next"] == "?status=working&q=w&page=2" and paged["previous"] is None


@pytest.mark.parametrize("params, fix", [({"status": "happy"}, "use one of"),
                                         ({"page": "two"}, "whole number")])
def test_a_malformed_query_gets_a_400_naming_the_fix(admin_client, params, fix):
    for name in MONITOR_URLS:
        reply = admin_client.get(reverse(name), params)
        assert reply.status_code == 400 and fix in reply.content.decode()


def test_waiting_rooms_show_who_waits_and_for_how_long(admin_client, use_experiment):
    from tests.conftest import DEMOS

    use_experiment(DEMOS / "quorum")
    alone = take_pages(services.participant_create(worker_id="early"), 1)
    wait = BarrierWait.objects.get(participant=alone, released_at__isnull=True)
    rooms = {room["barrier_id"]: room for room in data(admin_client)["waiting_rooms"]}
    lobby = rooms[wait.barrier_id]
    assert lobby["kind"] == "grouper" and lobby["needed"] == 3 and lobby["max_wait_time"] == 300
    assert lobby["n_waiting"] == 1
    assert [w["participant_id"] for w in lobby["waiters"]] == [alone.pk]
    assert lobby["waiters"][0]["waited_seconds"] >= 0
    assert 0 < lobby["waiters"][0]["seconds_to_deadline"] <= 300
    assert all(room["n_waiting"] == 0 for key, room in rooms.items() if key != wait.barrier_id)
    html = admin_client.get("/admin/monitor/").content.decode()
    assert f"#{alone.pk} early" in html


def add_participants(n: int, offset: int = 0) -> None:
    """n participants spread over the timeline and every status, some of them waiting."""
    program_length = len(get_experiment().program)
    made = Participant.objects.bulk_create([
        Participant(worker_id=f"bulk{offset + i}", position=i % program_length, page_label="bulk",
                    failed=i % 7 == 0, failed_reason=f"reason {i % 3}" if i % 7 == 0 else "",
                    complete=i % 5 == 0, status="returned" if i % 11 == 0 else "working")
        for i in range(n)
    ])
    BarrierWait.objects.bulk_create([
        BarrierWait(participant=p, barrier_id=f"room{i % 3}", barrier_class="Barrier", position=0)
        for i, p in enumerate(made[::4])
    ])


#: Per refresh: the session and user (2), recruitment, counts, funnel, per hour, participants
#: count and page, waiting rooms (2), errors (2).
REFRESH_QUERIES = 12


@pytest.mark.parametrize("name", MONITOR_URLS)
def test_one_refresh_costs_the_same_queries_with_10_or_200_participants(
        admin_client, django_assert_max_num_queries, name):
    url = reverse(name)
    add_participants(10)
    with django_assert_max_num_queries(REFRESH_QUERIES) as small:
        assert admin_client.get(url).status_code == 200
    add_participants(190, offset=10)
    assert Participant.objects.count() == 200
    with django_assert_max_num_queries(REFRESH_QUERIES) as large:
        assert admin_client.get(url).status_code == 200
    assert len(small) == len(large)
