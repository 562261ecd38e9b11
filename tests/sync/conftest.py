from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"


@pytest.fixture
def sync_experiment(use_experiment):
    """Serve one of tests/sync/experiments/<name> for the test."""

    def use(name: str) -> None:
        use_experiment(EXPERIMENTS / name)

    return use


@pytest.fixture
def celery_worker_process(settings):
    """A real Celery worker (subprocess) on this run's Redis db and test database. Call
    `start()` once the test has chosen its experiment; `wait_for(condition)` polls until the
    condition holds (or the timeout passes)."""
    import os
    import subprocess
    import sys
    import time

    from tests.processes import database_url

    root = Path(__file__).resolve().parents[2]
    state: dict = {}

    class Worker:
        def start(self) -> None:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "tests.sync.worker_settings",
                "DATABASE_URL": database_url(),
                "REDIS_URL": settings.CELERY_BROKER_URL,
                "EXPERIMENT": str(settings.EXPERIMENT),
            }
            state["process"] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
                 "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

        def wait_for(self, condition, timeout: float = 60.0) -> bool:
            process = state["process"]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise AssertionError(f"the celery worker exited with {process.returncode}")
                if condition():
                    return True
                time.sleep(0.1)
            return False

    yield Worker()
    process = state.get("process")
    if process is not None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
