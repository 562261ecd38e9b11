"""A Celery worker and beat started for the length of a command, as a deployment runs them.

`manage.py test_experiment` uses this so that what needs a worker (nodes' `async_on_deploy`,
deposits) or beat (barriers' `max_wait_time`, grouper top-ups, sweepers) happens under bots as it
does live. The children are real `celery -A config worker|beat` processes given this process's
actual database (from `connection.settings_dict`: under pytest that is the test database, not
DATABASE_URL's), broker (Redis, or the embedded filesystem broker's folders under VAR_DIR),
asset folders and experiment, so they work on the same rows.

Each child runs in its own session (process group): Ctrl-C in a terminal reaches only this
process, which stops them; so does SIGTERM while they run (turned into SystemExit here), and any
error. Stopping is SIGTERM to the group, then SIGKILL after a grace period. Idempotent: stopping
twice is harmless.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connection

#: What a child inherits from this process's environment: everything except what we set.
OVERRIDDEN = ("DATABASE_URL", "REDIS_URL", "EXPERIMENT", "CHORUS_VAR_DIR", "ASSET_INBOX_DIR",
              "ASSET_LOCAL_ROOT", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")
#: Seconds to wait for the worker and beat to say they are up, and for them to stop.
START_TIMEOUT = 90.0
STOP_GRACE = 10.0
#: What each process logs once it is up (Celery's own INFO lines).
READY_MARKS = {"worker": "ready.", "beat": "beat: Starting..."}


class WorkerStartError(RuntimeError):
    """A worker or beat exited, or did not come up in time; the message holds its log's tail."""


def database_url(db: dict[str, Any] | None = None) -> str:
    """A DATABASE_URL for the database this process actually uses (the test database under
    pytest), from Django's connection settings. A socket directory host is percent-encoded."""
    db = db or connection.settings_dict
    user = quote(str(db.get("USER") or ""), safe="")
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(db.get("HOST") or "")
    if host.startswith("/"):
        host = quote(host, safe="")
    elif ":" in host:
        host = f"[{host}]"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if isinstance(v, str | int)}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{quote(str(db['NAME']), safe='')}{query}"


def child_env(*, experiment_path: str) -> dict[str, str]:
    """The environment for a worker or beat that shares this process's database and broker."""
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDDEN}
    env.update(
        DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        PYTHONPATH=os.pathsep.join([str(settings.BASE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]),
        PYTHONUNBUFFERED="1",
        DATABASE_URL=database_url(),
        EXPERIMENT=experiment_path,
        CHORUS_VAR_DIR=str(settings.VAR_DIR),
        ASSET_INBOX_DIR=str(settings.ASSET_INBOX_DIR),
        ASSET_LOCAL_ROOT=str(settings.ASSET_LOCAL_ROOT),
    )
    broker = str(settings.CELERY_BROKER_URL)
    if broker.startswith(("redis://", "rediss://")):
        env["REDIS_URL"] = broker
    # Otherwise the embedded filesystem broker: its folders are under CHORUS_VAR_DIR, as here.
    return env


class Processes:
    """The running worker and beat: `status()` says whether each is alive, `logs` where they log
    (`<name>.log` and `<name>.pid` in `folder`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.popen: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as out:
            self.popen[name] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", *args], env=env,
                cwd=settings.BASE_DIR, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        (self.folder / f"{name}.pid").write_text(str(self.popen[name].pid))

    def tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.logs[name].read_text(errors="replace")
        except (KeyError, OSError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        end = time.monotonic() + timeout
        pending = set(self.popen)
        while pending:
            for name in sorted(pending):
                code = self.popen[name].poll()
                if code is not None:
                    raise WorkerStartError(f"the Celery {name} exited at start (code {code}):\n"
                                           f"{self.tail(name)}")
                if READY_MARKS[name] in self.logs[name].read_text(errors="replace"):
                    pending.discard(name)
            if pending and time.monotonic() > end:
                raise WorkerStartError(f"the Celery {', '.join(sorted(pending))} did not start within "
                                       f"{timeout:.0f} s; see {self.folder}")
            time.sleep(0.1)

    def status(self) -> dict[str, str]:
        """Per process: "running", or "exited with code N"."""
        out = {}
        for name, process in self.popen.items():
            code = process.poll()
            out[name] = "running" if code is None else f"exited with code {code}"
        return out

    def stop(self) -> None:
        for process in self.popen.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.popen.values():
            try:
                process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()


@contextmanager
def worker_and_beat(*, experiment_path: str, log_dir: Path | None = None) -> Iterator[Processes]:
    """Run a Celery worker and beat for the block; stopped at its end, on Ctrl-C, SIGTERM or error."""
    env = child_env(experiment_path=experiment_path)
    folder = Path(log_dir or tempfile.mkdtemp(prefix="chorus-workers-"))
    folder.mkdir(parents=True, exist_ok=True)
    processes = Processes(folder)
    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigterm(signum, frame):
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        processes.start("worker", ["worker", "--loglevel", "INFO", "--concurrency", "2",
                                   "--without-mingle", "--without-gossip", "--without-heartbeat",
                                   "--experiment", experiment_path], env)
        processes.start("beat", ["beat", "--loglevel", "INFO",
                                 "--schedule", str(folder / "beat-schedule"),
                                 "--experiment", experiment_path], env)
        processes.wait_ready()
        yield processes
    finally:
        processes.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

