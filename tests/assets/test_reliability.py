"""Nothing accepted is lost: real Celery workers (subprocesses) on this run's PostgreSQL and Redis,
moto's S3 server over HTTP, a gunicorn web process.

"Redis down" is simulated by starting the web process with its broker URL pointing at a closed
port on 127.0.0.1 (the real Redis keeps serving the other tests); "S3 down" by pointing the
worker at a port where moto's server is not running yet.
"""

import os
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from assets.kinds import ExperimentAsset
from assets.models import Asset
from assets.services import asset_redeposit, assets_register_declared, deposits_requeue_stuck
from experiments.loading import get_experiment
from experiments.locks import Space, lock_key
from tests.processes import database_url

from .conftest import (
    EXPERIMENTS,
    ROOT,
    SESSION_BUCKET,
    MotoServer,
    free_port,
    inbox_files,
    s3_client,
    tool,
    wait_until,
)

WAV = (EXPERIMENTS / "local" / "bot.wav").read_bytes()


def new_asset(tmp_path: Path, name: str = "x.wav") -> Asset:
    source = tmp_path / name
    source.write_bytes(WAV)
    return ExperimentAsset(local_key=name, input_path=source, parent=("node", "1")).deposit(async_=True)


def status_of(asset: Asset) -> str:
    return Asset.objects.values_list("status", flat=True).get(pk=asset.pk)


@pytest.fixture
def journal(use_experiment, asset_dirs, tmp_path, monkeypatch):
    root = tmp_path / "journal"
    monkeypatch.setenv("CHORUS_JOURNAL_ROOT", str(root))
    use_experiment(EXPERIMENTS / "journal")
    return root


def journal_lines(root: Path) -> list[str]:
    log = root / "journal.log"
    return log.read_text().split() if log.exists() else []


@pytest.mark.django_db(transaction=True)
def test_a_worker_child_killed_mid_deposit_is_redelivered_and_deposits_once(journal, start_worker, tmp_path, settings):
    started = tmp_path / "store-started"
    worker = start_worker(EXPERIMENTS / "journal", CHORUS_JOURNAL_ROOT=str(journal),
                          CHORUS_JOURNAL_DELAY="2", CHORUS_JOURNAL_STARTED=str(started))
    asset = new_asset(tmp_path)
    wait_until(started.exists, message="the worker to start storing")
    child = int(started.read_text())
    assert child in worker.child_pids()
    os.kill(child, signal.SIGKILL)  # dies inside store(), before anything is written
    wait_until(lambda: status_of(asset) == "deposited", timeout=60, message="redelivered deposit")
    asset.refresh_from_db()
    assert journal_lines(journal) == [asset.storage_key]  # stored exactly once
    assert asset.attempts == 2 and asset.sha256 and asset.size == len(WAV)
    assert inbox_files(settings) == []
    assert (journal / asset.storage_key.replace("/", "__")).read_bytes() == WAV


@pytest.mark.django_db(transaction=True)
def test_a_whole_worker_killed_mid_deposit_comes_back_after_the_visibility_timeout(
        journal, start_worker, tmp_path, settings):
    started = tmp_path / "store-started"
    env = {"CHORUS_JOURNAL_ROOT": str(journal), "CHORUS_JOURNAL_STARTED": str(started),
           "CELERY_VISIBILITY_TIMEOUT": "2", "CELERY_UNACKED_RESTORE_INTERVAL": "1"}
    first = start_worker(EXPERIMENTS / "journal", CHORUS_JOURNAL_DELAY="30", **env)
    asset = new_asset(tmp_path)
    wait_until(started.exists, message="the worker to start storing")
    os.killpg(first.process.pid, signal.SIGKILL)  # the machine dies: no ack, no reject
    first.process.wait(10)
    assert status_of(asset) == "depositing"
    start_worker(EXPERIMENTS / "journal", CHORUS_JOURNAL_DELAY="0", **env)
    wait_until(lambda: status_of(asset) == "deposited", timeout=90, message="restored message")
    asset.refresh_from_db()
    assert journal_lines(journal) == [asset.storage_key] and asset.attempts == 2
    assert inbox_files(settings) == []


@pytest.mark.django_db(transaction=True)
def test_s3_down_retries_then_fails_with_the_error_and_a_later_redeposit_succeeds(
        use_experiment, asset_dirs, start_worker, tmp_path, settings):
    port = free_port()  # nothing listens here yet: the store is down
    endpoint = f"http://127.0.0.1:{port}"
    bucket = SESSION_BUCKET
    settings.AWS_S3_ENDPOINT_URL = endpoint
    use_experiment(EXPERIMENTS / "s3")
    start_worker(EXPERIMENTS / "s3", AWS_S3_ENDPOINT_URL=endpoint, CHORUS_TEST_BUCKET=bucket,
                 ASSET_DEPOSIT_MAX_ATTEMPTS="3", ASSET_DEPOSIT_RETRY_BASE="0.2",
                 ASSET_S3_MAX_ATTEMPTS="1", ASSET_S3_CONNECT_TIMEOUT="1")
    asset = new_asset(tmp_path)
    wait_until(lambda: status_of(asset) == "failed", timeout=60, message="the deposit to fail")
    asset.refresh_from_db()
    assert asset.attempts == 3 and "Could not connect" in asset.last_error
    assert [p.read_bytes() for p in inbox_files(settings)] == [WAV]  # still kept
    server = MotoServer(port).start()
    try:
        s3_client(endpoint).create_bucket(Bucket=bucket)
        asset_redeposit(asset_id=asset.pk)  # the admin action
        wait_until(lambda: status_of(asset) == "deposited", timeout=60, message="the re-deposit")
        asset.refresh_from_db()
        assert asset.last_error == "" and asset.attempts == 1
        body = s3_client(endpoint).get_object(Bucket=bucket, Key=f"exp/{asset.storage_key}")["Body"].read()
        assert body == WAV and inbox_files(settings) == []
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_a_recording_is_accepted_and_the_backstop_deposits_it_later(
        use_experiment, asset_dirs, start_worker, tmp_path, settings, redis_db):
    use_experiment(EXPERIMENTS / "local")
    assets_register_declared(experiment=get_experiment())  # what deploy does
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": database_url(),
           "REDIS_URL": f"redis://127.0.0.1:{free_port()}/6",  # Redis is "down" for the web process
           "EXPERIMENT": str(EXPERIMENTS / "local"), "CONN_MAX_AGE": "0",
           "ASSET_LOCAL_ROOT": str(settings.ASSET_LOCAL_ROOT),
           "ASSET_INBOX_DIR": str(settings.ASSET_INBOX_DIR), "ASSET_BACKSTOP_GRACE": "0"}
    log = open(tmp_path / "web.log", "wb")
    web = subprocess.Popen([*tool("gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
                           env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _up(base), message="the web process")
        session = requests.Session()
        page = session.get(f"{base}/start/?worker_id=redis-down", timeout=10)
        token = page.url.rstrip("/").rsplit("/", 1)[1]
        state = session.get(f"{base}/api/p/{token}/page", timeout=10).json()
        state = session.post(f"{base}/api/p/{token}/response", json={"page_uuid": state["page_uuid"]},
                             timeout=10).json()
        assert state["label"] == "imitation"
        answer = session.post(
            f"{base}/api/p/{token}/response", timeout=30,
            data={"payload": f'{{"page_uuid": "{state["page_uuid"]}", "answer": {{"duration_sec": 1}}}}'},
            files={"audio": ("audio", WAV, "audio/wav")})
        assert answer.status_code == 200, answer.text  # accepted although the broker is unreachable
        asset = Asset.objects.get(kind="recording")
        assert asset.participant.token == token
        assert asset.status == "pending" and asset.attempts == 0
        assert [p.read_bytes() for p in inbox_files(settings)] == [WAV]
        assert redis_db.llen("celery") == 0  # nothing was published
    finally:
        web.terminate()
        web.wait(10)
        log.close()
    # Redis is back: a worker runs, and the beat backstop re-publishes what is still pending.
    start_worker(EXPERIMENTS / "local", ASSET_BACKSTOP_GRACE="0")
    from assets.tasks import deposits_backstop

    deposits_backstop.apply_async(retry=False)
    wait_until(lambda: status_of(asset) == "deposited", timeout=60, message="the backstop's deposit")
    asset.refresh_from_db()
    assert Path(settings.ASSET_LOCAL_ROOT, asset.storage_key).read_bytes() == WAV
    assert inbox_files(settings) == []


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


@pytest.mark.django_db(transaction=True)
def test_the_backstop_runs_once_at_a_time_and_skips_rows_not_yet_due(use_experiment, asset_dirs,
                                                                     tmp_path, redis_db):
    use_experiment(EXPERIMENTS / "local")
    due = new_asset(tmp_path, "due.wav")
    later = new_asset(tmp_path, "later.wav")
    redis_db.flushdb()  # drop the on-commit publishes: pretend they were lost
    Asset.objects.filter(pk=due.pk).update(next_attempt_at=None)
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
                         autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [Space.ASSET_JOBS, lock_key("deposits_backstop")])
        assert deposits_requeue_stuck() == 0  # another beat run holds the lock
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [Space.ASSET_JOBS, lock_key("deposits_backstop")])
    assert deposits_requeue_stuck() == 1  # only the row that is due
    assert redis_db.llen("celery") == 1
    assert deposits_requeue_stuck() == 0  # re-published rows wait another grace period
    assert status_of(later) == "pending"


def test_backoff_grows_exponentially_with_jitter(settings):
    from assets.services import backoff_delay

    settings.ASSET_DEPOSIT_RETRY_BASE, settings.ASSET_DEPOSIT_RETRY_MAX = 2.0, 120.0
    for attempts, nominal in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 120)]:
        delays = {backoff_delay(attempts) for _ in range(50)}
        assert all(nominal / 2 <= d <= nominal for d in delays) and len(delays) > 1


@pytest.mark.django_db(transaction=True)
def test_a_trial_is_finalized_when_a_worker_has_stored_its_recording(use_experiment, asset_dirs,
                                                                    start_worker, settings):
    from experiments import services
    from experiments.deployment import deployment_create
    from experiments.models import Participant
    from experiments.selectors import current_page
    from trials.models import Trial

    demo = ROOT / "demos" / "static_audio"
    settings.ASSET_DEPLOY_MODE = "local"
    use_experiment(demo)
    deployment_create(experiment=get_experiment())
    start_worker(demo)
    bot = services.participant_create(worker_id="bot")
    Participant.objects.filter(pk=bot.pk).update(is_bot=True)
    bot.refresh_from_db()
    while not current_page(bot).terminal:
        page = current_page(bot)
        bot = services.response_submit(token=bot.token, page_uuid=bot.page_uuid,
                                       raw_answer=page.get_bot_response({"participant": bot})).participant
    trials = Trial.objects.filter(participant=bot)
    assert trials.count() == 3
    wait_until(lambda: all(t.finalized for t in trials.all()), timeout=60, message="finalized trials")
    assert all(t.assets["imitation"].status == "deposited" and "awaiting_assets" not in t.vars
               for t in trials.all())
