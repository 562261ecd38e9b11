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
