"""The waiting page's status endpoint and the page itself."""

import pytest

from experiments import services
from sync.models import BarrierWait

from .helpers import label, submit

pytestmark = pytest.mark.django_db


def url(token: str) -> str:
    return f"/api/p/{token}/sync/status"


def test_status_counts_who_is_here_and_says_when_released(client, sync_experiment,
                                                          django_assert_max_num_queries):
    sync_experiment("grouping")
    a, b, c = (services.participant_create(worker_id=w) for w in "abc")
    for p in (a, b, c):
        submit(p)
    for p in (a, b):
        submit(p)                                         # a, b leave the grouper's wait page
    submit(a)
    submit(b)                                             # a, b wait at the GroupBarrier
    assert label(a) == "sync_wait:triad_sync"
    with django_assert_max_num_queries(2):
        body = client.get(url(a.token)).json()
    assert body["waiting"] is True and body["released"] is False
    assert body["n_here"] == 2 and body["n_expected"] == 3
    assert body["message"] == "2 of 3 in your group are here"
    assert body["page_uuid"] == str(a.__class__.objects.get(pk=a.pk).page_uuid)
    submit(c)                                             # the last arrival releases everyone
    assert label(c) == "together"
    with django_assert_max_num_queries(2):
        body = client.get(url(a.token)).json()
    assert body["released"] is True and body["outcome"] == "released"
    assert label(a) == "sync_wait:triad_sync"              # a moves on by its own submit
    submit(a)
    assert label(a) == "together"
    body = client.get(url(a.token)).json()
    assert body == {"page_uuid": body["page_uuid"], "waiting": False, "released": False}


def test_status_at_a_grouper_counts_towards_the_batch(client, sync_experiment):
    sync_experiment("grouping")
    a = services.participant_create(worker_id="a")
    submit(a)
    body = client.get(url(a.token)).json()
    assert body["message"] == "1 of 3 participants needed are here"


def test_status_bad_input(client, sync_experiment, django_assert_max_num_queries):
    sync_experiment("grouping")
    a = services.participant_create(worker_id="a")
    before = BarrierWait.objects.count()
    assert client.get(url("no-such-token")).status_code == 404
    with django_assert_max_num_queries(0):
        response = client.get(url("x" * 5000))
    assert response.status_code == 404 and response.json() == {"error": "unknown participant token"}
    assert client.get(url("%00%27%22")).status_code == 404
    assert client.post(url(a.token), data="{}", content_type="application/json").status_code == 405
    assert client.delete(url(a.token)).status_code == 405
    response = client.get(url(a.token) + "?page_uuid=nonsense&x=" + "y" * 1000)
    assert response.status_code == 200 and response.json()["waiting"] is False
    assert response["Cache-Control"].startswith("max-age=0")
    assert BarrierWait.objects.count() == before


def test_waiting_page_renders_the_polling_control(client, sync_experiment):
    sync_experiment("grouping")
    a = services.participant_create(worker_id="a")
    submit(a)
    html = client.get(f"/p/{a.token}/").content.decode()
    assert 'data-control="sync_wait"' in html
    assert f'data-status-url="/api/p/{a.token}/sync/status"' in html
    assert "sync/wait.js" in html and "chorus/page.js" in html
    assert html.index("sync/wait.js") < html.index("chorus/page.js")
