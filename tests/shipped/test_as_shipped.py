"""Chorus as it ships: the README's commands run the way a user types them, on both engines.

Each test runs once on the embedded default (no DATABASE_URL / REDIS_URL: a private PostgreSQL
server under a fresh CHORUS_VAR_DIR and kombu's filesystem broker, what a new user gets) and once
on the system PostgreSQL + Redis (what a deployment gets):
- every demo in demos/ passes `manage.py test_experiment` (which starts its own worker and beat);
- `./run demo` serves a study: bots over HTTP (`manage.py bots --url`) complete hello_world and
  rock_paper_scissors through it, Chromium clicks through hello_world, and Ctrl-C stops it all.
Every command is a real subprocess started from the checkout as a user would start it.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
import requests
from playwright.sync_api import expect

from config.embedded_postgres import embedded_postgres_stop
from scripts.localhost import free_port, wait_for_port
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from tests.browser.test_hello_world import assert_end_page, take_hello_world
from tests.processes import ROOT, process_env, processes_of

DEMOS = sorted(p.name for p in (ROOT / "demos").iterdir() if (p / "experiment.py").exists())
#: The "system" leg's servers: a PostgreSQL server (a superuser that may create databases) and a
#: Redis database of their own, as a deployment has them (./run test starts both on this machine).
SYSTEM_POSTGRES = os.environ.get("CHORUS_SHIPPED_POSTGRES", "postgres://postgres@127.0.0.1:5432")
SYSTEM_REDIS = os.environ.get("CHORUS_SHIPPED_REDIS", "redis://127.0.0.1:6379/8")
BACKENDS = ["embedded", "system"]


@dataclass
class Backend:
    """Where one experiment's processes keep their data: the environment every command gets."""

    name: str
    env: dict[str, str]
    var: Path

    def manage(self, *args: str, experiment: str = "hello_world",
               timeout: float = 300) -> subprocess.CompletedProcess:
        env = {**self.env, "EXPERIMENT": str(ROOT / "demos" / experiment)}
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)


def _var_dir() -> Path:
    # Not under pytest's tmp_path: run as root, the embedded server runs as its own user, who must
    # traverse every parent folder, and pytest makes its temporary root 0700.
    return Path(tempfile.mkdtemp(prefix="chorus-shipped-"))


@pytest.fixture
def backend(request) -> Iterator[Backend]:
    """A fresh place for one experiment: a new embedded server, or a new system database."""
    kind = request.param
    var = _var_dir()
    env = process_env(CHORUS_VAR_DIR=str(var))
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    database = None
    if kind == "system":
        database = f"chorus_shipped_{os.getpid()}"
        with psycopg.connect(f"{SYSTEM_POSTGRES}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            db.execute(f'CREATE DATABASE "{database}"')
        redis.Redis.from_url(SYSTEM_REDIS).flushdb()
        env.update(DATABASE_URL=f"{SYSTEM_POSTGRES}/{database}", REDIS_URL=SYSTEM_REDIS)
    try:
        yield Backend(kind, env, var)
    finally:
        if kind == "embedded":
            embedded_postgres_stop(var / "postgres")
        else:
            with psycopg.connect(f"{SYSTEM_POSTGRES}/postgres", autocommit=True) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            redis.Redis.from_url(SYSTEM_REDIS).flushdb()
        shutil.rmtree(var, ignore_errors=True)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("demo", DEMOS)
def test_every_demo_passes_test_experiment(backend, demo):
    result = backend.manage("test_experiment", experiment=demo)
    assert result.returncode == 0, f"{demo} on {backend.name}:\n{result.stdout}\n{result.stderr}"
    assert "PASS" in result.stdout


class Demo:
    """`./run demo --experiment demos/NAME --port PORT`, typed in a terminal; Ctrl-C stops it."""

    def __init__(self, backend: Backend, experiment: str) -> None:
        self.backend = backend
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = backend.var / f"demo-{experiment}.log"
        with open(self.log, "wb") as out:
            # Its own session, as a terminal gives it: Ctrl-C goes to the whole foreground group.
            self.process = subprocess.Popen(
                ["./run", "demo", "--experiment", f"demos/{experiment}", "--port", str(self.port)],
                env=backend.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        try:
            wait_for_port(self.port, timeout=240)
        except RuntimeError:
            self.stop()
            raise AssertionError(f"./run demo did not serve:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def bots(self, n: int, parallel: int, experiment: str) -> subprocess.CompletedProcess:
        return self.backend.manage("bots", "--n", str(n), "--parallel", str(parallel),
                                   "--url", self.url, "--no-progress", experiment=experiment)

    def stop(self) -> int:
        """Ctrl-C: SIGINT to the foreground process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"Ctrl-C did not stop ./run demo:\n{self.output()}") from None


def assert_stopped_cleanly(demo: Demo) -> None:
    left = [" ".join(p.cmdline()[:3]) for p in processes_of(demo.backend.var)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"./run demo left processes behind after Ctrl-C: {left}"
    with pytest.raises(requests.ConnectionError):
        requests.get(demo.url, timeout=5)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_run_demo_serves_hello_world_to_bots_and_a_browser(backend, playwright):
    demo = Demo(backend, "hello_world")
    try:
        result = demo.bots(3, 3, "hello_world")
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{demo.output()}"
        assert "3 completed, 0 failed" in result.stdout, result.stdout

        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**DESKTOP).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{demo.url}/start/?worker_id=shipped-browser")
            take_hello_world(page, tap=False, each_page=lambda page: None)
            assert_end_page(page)
            expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
            assert errors == [], errors
        finally:
            browser.close()
    finally:
        status = demo.stop()
    assert status == 0, demo.output()
    assert_stopped_cleanly(demo)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_run_demo_serves_rock_paper_scissors_to_pairs_of_bots(backend):
    demo = Demo(backend, "rock_paper_scissors")
    try:
        result = demo.bots(4, 4, "rock_paper_scissors")
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{demo.output()}"
        assert "4 completed, 0 failed" in result.stdout, result.stdout
    finally:
        status = demo.stop()
    assert status == 0, demo.output()
    assert_stopped_cleanly(demo)
