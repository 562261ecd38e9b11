"""Chorus runs from a production install: a fresh virtualenv holding exactly what the Dockerfile
installs (no test extras), under `config.production`, with the docker-compose services' commands.

The test virtualenv has pytest, moto and Playwright, which pull in packages Chorus itself may
need without declaring them (kombu's Redis transport imports `packaging`): a production install
missing one starts a worker that dies at once, and every deposit logs "could not enqueue". Here
every module of the apps is imported in the fresh install, and its worker, beat and gunicorn
deposit an asset and serve a participant page, its CSS and JS, and an admin page.

The virtualenv is built once per session, in the background while earlier tests run
(tests/config/conftest.py); pip's cache is reused, and on a fresh machine pip downloads the pinned
packages. Docker does not run here, so the image's steps are mirrored: its `pip install` command,
run in this checkout, and docker-compose's service commands, run from that virtualenv.
"""

import os
import re
import secrets
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from assets.kinds import ExperimentAsset
from assets.models import Asset
from scripts.localhost import free_port, wait_for_port
from tests.config.live import (
    admin_get,
    assert_static_files_served,
    create_staff,
    database_url,
    inherited_env,
    running,
    static_urls,
    wait_for,
)
from tests.config.test_docker_compose import CHORUS, command

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = secrets.token_urlsafe(16)

#: Imports every module of the apps (their management commands, tasks, migrations, admin...) and
#: what the settings name for the processes to load later: the broker's transport, every storage
#: back-end, gunicorn's worker class. Prints the number of modules; exits non-zero on a failure.
IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import django
django.setup()
from django.conf import settings
from django.utils.module_loading import import_string
from kombu.transport import resolve_transport
failed, imported = {}, 0
for app in ("config", "experiments", "assets", "sync", "trials", "exports", "monitor"):
    names = [app] + [m.name for m in pkgutil.walk_packages(importlib.import_module(app).__path__,
                                                           prefix=app + ".")]
    for name in names:
        try:
            importlib.import_module(name)
            imported += 1
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
scheme = settings.CELERY_BROKER_URL.split(":", 1)[0]
extra = {f"the {scheme} broker transport": lambda: resolve_transport(scheme)}
for path in [s["BACKEND"] for s in settings.STORAGES.values()] + [
        "gunicorn.workers.sync.SyncWorker", "celery.concurrency.prefork.TaskPool", "celery.beat.Service"]:
    extra[path] = lambda path=path: import_string(path)
for name, load in extra.items():
    try:
        load()
        imported += 1
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(imported)
for name, error in failed.items():
    print(f"{name}: {error}", file=sys.stderr)
sys.exit(1 if failed else 0)
"""


def production_env(var: Path, **extra: str) -> dict[str, str]:
    """What the image and docker-compose give a Chorus container, pointed at this run's servers.

    SECURE_SSL_REDIRECT is off because no TLS proxy stands in front of gunicorn here."""
    env = inherited_env(
        PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="config.production",
        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false", DATABASE_URL=database_url(),
        REDIS_URL=settings.CELERY_BROKER_URL, CHORUS_VAR_DIR=str(var), CONN_MAX_AGE="0",
        EXPERIMENT=str(ROOT / "demos" / "hello_world"),
        ASSET_INBOX_DIR=str(settings.ASSET_INBOX_DIR), ASSET_LOCAL_ROOT=str(settings.ASSET_LOCAL_ROOT),
    )
    env.update(extra)
    return env


def test_every_module_of_the_apps_imports_in_the_production_install(production_venv, tmp_path):
    env = production_env(tmp_path / "var", DATABASE_URL="postgres://chorus@127.0.0.1:5432/chorus",
                         REDIS_URL="redis://127.0.0.1:6379/0", ARTIFACTS_S3_BUCKET="artifacts",
                         ASSET_INBOX_DIR=str(tmp_path / "inbox"),
                         ASSET_LOCAL_ROOT=str(tmp_path / "assets"))
    result = subprocess.run([str(production_venv / "python"), "-c", IMPORT_EVERYTHING], env=env,
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) > 100   # every app's modules, not an empty walk


def test_the_production_install_is_not_the_test_virtualenv(production_venv):
    """The check above is only worth something if the install lacks the test extras."""
    result = subprocess.run([str(production_venv / "python"), "-c", "import pytest"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "No module named 'pytest'" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_worker_beat_and_web_of_the_production_install_deposit_and_serve(
        production_venv, settings, tmp_path):
    settings.ASSET_INBOX_DIR = tmp_path / "inbox"
    settings.ASSET_LOCAL_ROOT = tmp_path / "assets"
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()   # no task of an earlier test
    var, port = tmp_path / "var", free_port()
    env = production_env(var)

    def service(name: str) -> list[str]:
        """The docker-compose service's command, run from the fresh venv on this machine."""
        argv = [a.replace("/app/var", str(var)).replace("0.0.0.0:8000", f"127.0.0.1:{port}")
                for a in command(CHORUS[name])]
        return [str(production_venv / "python") if argv[0] == "python" else
                str(production_venv / argv[0]), *argv[1:]]

    # The image collects static files at build time; compose's deploy step skips that.
    result = subprocess.run([str(production_venv / "python"), "manage.py", "collectstatic",
                             "--noinput", "-v", "0"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (var / "beat").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(service("deploy"), env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat", "web")}
    with ExitStack() as stack:
        processes = [stack.enter_context(running(service(name), env, log))
                     for name, log in logs.items()]

        def wait(condition, what: str) -> None:
            wait_for(condition, processes=processes, logs=list(logs.values()), what=what)

        wait(lambda: b" ready." in logs["worker"].read_bytes(), "the worker starting")
        # A deposit goes through Redis to the worker, which stores the bytes.
        source = tmp_path / "tone.wav"
        source.write_bytes(b"RIFF" + os.urandom(64))
        asset = ExperimentAsset(local_key="tone", input_path=source, parent=("node", "1")).deposit(async_=True)
        wait(lambda: Asset.objects.get(pk=asset.pk).status == "deposited", "the deposit")
        asset.refresh_from_db()
        assert Path(settings.ASSET_LOCAL_ROOT, asset.storage_key).read_bytes() == source.read_bytes()
        # Beat publishes its schedule (the sync tick every second) and the worker runs it.
        wait(lambda: b"sync.tasks.sync_tick" in logs["worker"].read_bytes(), "a beat task on the worker")

        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        page = requests.get(f"{base}/start/", params={"worker_id": "production-install"}, timeout=30)
        assert page.status_code == 200 and re.search(r"/p/[^/]+/$", page.url), page.text[:2000]
        assert_static_files_served(page.text, page.url, hashed=True)

        # A staff member logs in through the admin's own form and lists participants.
        create_staff(str(production_venv / "python"), env, PASSWORD)
        admin = admin_get(base, "/admin/experiments/participant/", PASSWORD)
        assert admin.status_code == 200, admin.text[:2000]
        assert "production-install" in admin.text
        for url in static_urls(admin.text, admin.url):
            assert requests.get(url, timeout=30).status_code == 200, url

        assert all(p.poll() is None for p in processes), "a process exited"
