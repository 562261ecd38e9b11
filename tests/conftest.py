"""Shared fixtures. Tests run on PostgreSQL and Redis (config.settings_test)."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM is used beside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demos"


@pytest.fixture
def use_experiment(settings):
    """Serve the given experiment folder for the duration of a test."""

    def use(path) -> None:
        settings.EXPERIMENT = str(path)

    return use


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the whole session. Its sync API runs an event loop in this
    thread, so a second `sync_playwright()` started while the first is alive fails: every
    browser fixture launches from this one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
