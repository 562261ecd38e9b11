"""The waiting page in headless Chromium: polls without reloading, moves on once released."""

import pytest
from django.db import connection
from playwright.sync_api import sync_playwright

from experiments import services
from experiments.models import Participant

from .helpers import submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page():
    # Playwright's sync API runs the test in a greenlet, where Django opens a second
    # connection; close both so the test database can be dropped at the end.
    connection.close()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        tab = browser.new_page()
        try:
            yield tab
        finally:
            tab.goto("about:blank")          # stop the polling before the server goes away
            browser.close()
            connection.close()


def test_waiting_page_polls_without_reloading_and_moves_on_when_released(live_server, page, sync_experiment):
    sync_experiment("timeouts")
    status_calls: list[str] = []
    page.on("request", lambda r: status_calls.append(r.url) if r.url.endswith("/sync/status") else None)
    page.goto(f"{live_server.url}/start/?worker_id=browser")
    page.click("#next")                                          # welcome -> the pair grouper
    page.wait_for_selector("#sync-status:has-text('1 of 2 participants needed are here')")
    page.evaluate("window.__sameDocument = true")
    page.wait_for_function("Number(document.getElementById('page').dataset.syncPolls || 0) >= 3",
                           timeout=20000)
    assert page.evaluate("window.__sameDocument") is True        # polled 3 times, never reloaded
    assert len(status_calls) >= 3
    me = Participant.objects.get(worker_id="browser")
    assert me.page_label == "sync_wait:pair_grouper"

    partner = services.participant_create(worker_id="partner")
    submit(partner)                                              # the partner's arrival releases both
    page.wait_for_selector("text=You have a partner", timeout=20000)
    assert Participant.objects.get(pk=me.pk).page_label == "paired"
