from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"


@pytest.fixture
def sync_experiment(use_experiment):
    """Serve one of tests/sync/experiments/<name> for the test."""

    def use(name: str) -> None:
        use_experiment(EXPERIMENTS / name)

    return use
