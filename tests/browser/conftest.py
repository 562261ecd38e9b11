"""Browser tests: Debian's headless Chromium driven by Playwright against pytest-django's live_server.

One browser for the whole session (starting Chromium is the slow part); each test gets a fresh
context (its own cookies, storage and viewport), so tests never see each other's state.
"""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
MOBILE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True,
          "device_scale_factor": 2}

expect.set_options(timeout=10_000)  # a loaded 2-core machine is slow; tests assert order, not speed


@pytest.fixture(scope="session")
def browser(playwright) -> Browser:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _new_page(browser: Browser, options: dict) -> Page:
    context = browser.new_context(**options)
    page = context.new_page()
    page.errors = []  # uncaught JavaScript errors: every test checks there were none
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


@pytest.fixture
def page(browser, live_server):
    page = _new_page(browser, DESKTOP)
    yield page
    page.context.close()
    assert page.errors == [], f"JavaScript errors on the page: {page.errors}"


@pytest.fixture
def mobile_page(browser, live_server):
    page = _new_page(browser, MOBILE)
    yield page
    page.context.close()
    assert page.errors == [], f"JavaScript errors on the page: {page.errors}"


@pytest.fixture
def start(live_server):
    """Open the study's entry link as a new participant; returns the participant's token."""

    def start(page: Page, worker_id: str) -> str:
        page.goto(f"{live_server.url}/start/?worker_id={worker_id}")
        expect(page).to_have_url(re.compile(r"/p/[\w-]+/$"))
        return page.url.rstrip("/").rsplit("/", 1)[-1]

    return start
