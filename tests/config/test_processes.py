"""A real Celery worker (and beat) runs tasks against the real database: embedded (SQLite and
kombu's filesystem broker, no servers) and on PostgreSQL + Redis."""

import sqlite3
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config import celery_app
from experiments import services
from experiments.models import Participant
from experiments.tasks import participants_mark_abandoned
from tests.processes import celery, manage, process_env, wait_until, worker_args

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


def test_embedded_default_worker_and_beat_run_tasks_on_sqlite_with_no_servers(tmp_path):
    var = tmp_path / "var"
    env = process_env(CHORUS_VAR_DIR=str(var), PARTICIPANT_ABANDON_AFTER="60",
                      EXPERIMENT=str(settings.BASE_DIR / "demos" / "hello_world"))
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env
    manage(env, "deploy")                                   # migrates the SQLite database
    database = var / "chorus.sqlite3"
    assert database.is_file()

    def status(pk: int) -> str:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return db.execute("SELECT status FROM experiments_participant WHERE id = ?", [pk]).fetchone()[0]

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


@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_runs_a_task_against_postgresql(tmp_path):
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = process_env(DATABASE_URL=database_url, REDIS_URL=settings.CELERY_BROKER_URL,
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
