"""The live monitor in Chromium: it follows participants as they move, without a reload."""

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, live_server) -> None:
    User.objects.create_superuser("researcher", password="pw-monitor")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/monitor/")
    page.fill("#id_username", "researcher")
    page.fill("#id_password", "pw-monitor")
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/admin/monitor/")


def test_the_monitor_updates_without_reload_while_a_participant_moves_on(
        page, browser, live_server, start):
    log_in(page, live_server)
    expect(page.locator("#funnel [data-count=started]")).to_have_text("0")
    page.evaluate("window.notReloaded = true")  # gone if the page reloads

    # A participant enters and answers the consent page in a browser of their own.
    participant = browser.new_context().new_page()
    start(participant, "mover")
    consent_row = page.locator('#funnel tr[data-label="consent"] td.n')
    expect(page.locator("#funnel [data-count=started]")).to_have_text("1")
    expect(consent_row).to_have_text("1")
    participant.get_by_role("button", name=re.compile("next", re.I)).click()
    expect(participant.locator("input, textarea").first).to_be_visible()

    expect(consent_row).to_have_text("0")
    expect(page.locator('#funnel tr[data-label="name"] td.n')).to_have_text("1")
    expect(page.locator("#participants td.page")).to_have_text(["name"])
    assert page.evaluate("window.notReloaded") is True
    participant.context.close()
