"""Real processes for tests: a Celery worker or beat started the way a deployment starts them.

Each process gets an explicit environment (settings module, database, broker) and PYTHONPATH set
to this checkout, so it runs this code whatever else is installed in the virtualenv.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: What a child process inherits from the test's environment; everything else is explicit.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def process_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in INHERITED}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="config.settings")
    env.update(overrides)
    return env


def database_url(name: str | None = None) -> str:
    """The URL of the database the test runs on (or of database `name` on the same server), for
    a child process: the same URL `test_experiment` gives its worker (system PostgreSQL over TCP,
    or the embedded server, whose host is a socket folder)."""
    from django.db import connection

    from experiments.management.workers import database_url as url_of

    db = connection.settings_dict
    return url_of({**db, "NAME": name} if name else db)


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `manage.py ARGS` in a subprocess; raise with its output if it fails."""
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@contextmanager
def celery(env: dict[str, str], *args: str, log: Path,
           stop: signal.Signals = signal.SIGKILL) -> Iterator[subprocess.Popen]:
    """Run `celery -A config ARGS` for the duration of the block, logging to `log`.

    At the end its whole process group gets `stop`: SIGKILL by default, because a test waits for
    the work it needs before leaving the block and Celery's own shutdown takes seconds; pass
    SIGTERM to exercise a warm shutdown."""
    with open(log, "wb") as out:
        # Its own process group, so the stop signal reaches the pool's children too.
        process = subprocess.Popen([str(BIN / "celery"), "-A", "config", *args], env=env, cwd=ROOT,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            stop_group(process, stop)


def stop_group(process: subprocess.Popen, sig: signal.Signals, grace: float = 30) -> None:
    """Signal the process's group and wait; SIGKILL the group if it outlives `grace` seconds."""
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def worker_args() -> list[str]:
    """A real prefork worker with one child, skipping cluster chatter to start quickly."""
    return ["worker", "--loglevel", "INFO", "--concurrency", "1", "--without-mingle",
            "--without-gossip", "--without-heartbeat"]


def wait_until(condition: Callable[[], bool], *, processes: list[subprocess.Popen], log: Path,
               deadline: float = 180) -> None:
    """Poll `condition` until true. Fails (showing the log) if a process dies or time runs out;
    the deadline only bounds a hang, it is not a speed assertion."""
    end = time.monotonic() + deadline
    while not condition():
        dead = [p.args for p in processes if p.poll() is not None]
        if dead or time.monotonic() > end:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise AssertionError(f"{'exited: ' + str(dead) if dead else 'timed out'}\n{text[-4000:]}")
        time.sleep(0.2)


def processes_of(var: Path) -> list[psutil.Process]:
    """Every process started for this CHORUS_VAR_DIR (by environment or command line)."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if (info["environ"] or {}).get("CHORUS_VAR_DIR") == str(var) or str(var) in " ".join(info["cmdline"] or []):
            found.append(process)
    return found
