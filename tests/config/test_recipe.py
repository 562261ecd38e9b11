"""The README's by-hand recipe works as written: its command block is read from README.md (so the
two cannot drift) and run, then a participant takes hello_world in Chromium through it.

The block's commands are run from this checkout with two substitutions only: `.venv/bin/` becomes
the bin/ of the virtualenv running the tests (`./run test` makes it `.venv/`), and the bind
address `0.0.0.0:8000` becomes 127.0.0.1 on a free port. `manage.py` commands run to completion
in order; the others (gunicorn, worker, beat) are the long-running processes, each started as in
its own terminal. The environment is what the README tells a user to export (DATABASE_URL and
REDIS_URL, pointed at this run's test database and Redis db, and for the production variant the
settings module, SECRET_KEY and ALLOWED_HOSTS; SECURE_SSL_REDIRECT=false as no TLS proxy is in
front), plus CHORUS_VAR_DIR in a temporary folder so the run leaves nothing in the checkout.
"""

import re
import secrets
import shlex
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from scripts.localhost import free_port, wait_for_port
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from tests.browser.test_hello_world import assert_end_page, assert_stored, take_hello_world
from tests.config.live import (
    admin_get,
    assert_static_files_served,
    create_staff,
    database_url,
    inherited_env,
    running,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = secrets.token_urlsafe(16)


def recipe() -> list[str]:
    """The command lines of the README's by-hand block (the bash block that runs `deploy`)."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Running on PostgreSQL and Redis\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README has no section 'Running on PostgreSQL and Redis'"
    blocks = re.findall(r"```bash\n(.*?)```", section.group(1), re.S)
    block = next((b for b in blocks if "manage.py deploy" in b), None)
    assert block, "the section should show the by-hand commands, starting with `manage.py deploy`"
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def as_run_here(line: str, port: int) -> list[str]:
    argv = shlex.split(line, comments=True)
    assert argv[0].startswith(".venv/bin/"), f"{line!r}: the recipe runs tools from .venv/bin/"
    argv[0] = str(BIN / argv[0].removeprefix(".venv/bin/"))
    return [a.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for a in argv]


def test_the_recipe_starts_every_process_of_a_deployment():
    lines = recipe()
    assert "manage.py deploy" in lines[0]                      # deploy runs first
    assert any("gunicorn" in line for line in lines)
    assert [line for line in lines if re.search(r"celery .*\bworker\b", line)]
    beats = [line for line in lines if re.search(r"celery .*\bbeat\b", line)]
    assert len(beats) == 1                                     # exactly one beat


@pytest.fixture
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.mark.parametrize("production", [False, True], ids=["default-settings", "config.production"])
@pytest.mark.django_db(transaction=True)
def test_a_participant_completes_hello_world_through_the_by_hand_recipe(
        production, tmp_path, browser):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()   # no task of an earlier test
    port, worker_id = free_port(), f"recipe-{'production' if production else 'default'}"
    env = inherited_env(DATABASE_URL=database_url(), REDIS_URL=settings.CELERY_BROKER_URL,
                        CHORUS_VAR_DIR=str(tmp_path / "var"))
    if production:
        env.update(DJANGO_SETTINGS_MODULE="config.production", SECRET_KEY=secrets.token_urlsafe(50),
                   ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false")

    logs: list[Path] = []
    with ExitStack() as stack:
        processes = []
        for n, line in enumerate(recipe()):
            argv = as_run_here(line, port)
            if "manage.py" in line:
                result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True,
                                        timeout=300)
                assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            else:
                logs.append(tmp_path / f"{n}-{Path(argv[0]).name}.log")
                processes.append(stack.enter_context(running(argv, env, logs[-1])))

        def wait(condition, what: str) -> None:
            wait_for(condition, processes=processes, logs=logs, what=what)

        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        page = requests.get(f"{base}/start/", params={"worker_id": "recipe-static"}, timeout=30)
        assert page.status_code == 200, page.text[:2000]
        assert_static_files_served(page.text, page.url, hashed=production)

        # A participant clicks through every page: "Next" only works when page.js is served.
        tab = browser.new_context(**DESKTOP).new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{base}/start/?worker_id={worker_id}")
        take_hello_world(tab, tap=False, each_page=lambda page: None)
        assert_end_page(tab)
        assert errors == []
        assert_stored(worker_id)

        if production:  # admin pages need the collected manifest; without it every one was a 500
            create_staff(str(BIN / "python"), env, PASSWORD)
            admin = admin_get(base, "/admin/experiments/participant/", PASSWORD)
            assert admin.status_code == 200 and worker_id in admin.text, admin.text[:2000]

        # Beat publishes its schedule (the sync tick every second) and the worker runs it.
        ran = re.compile(rb"Task sync\.tasks\.sync_tick\[[^\]]+\] received")
        wait(lambda: any(ran.search(log.read_bytes()) for log in logs), "a beat task on the worker")
        assert all(p.poll() is None for p in processes), "a process of the recipe exited"
    assert list((tmp_path / "var").glob("celerybeat-schedule*")), "beat keeps its state under var/"
