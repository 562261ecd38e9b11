"""Serve a demo experiment with everything it needs, on one machine, in one command.

Embedded by default (SQLite, local storage, a filesystem Celery broker); uses PostgreSQL and
Redis when DATABASE_URL / REDIS_URL are set. Starts the web server, a Celery worker and beat as
real processes, and stops them all on Ctrl-C.
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.localhost import free_port  # noqa: E402

BIN = Path(sys.executable).parent


def check(url: str, processes: list[subprocess.Popen], deadline: float = 120) -> int:
    """Fetch a participant's first page; fail if it never comes or any process dies."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        dead = [p.args[0] for p in processes if p.poll() is not None]
        if dead:
            print(f"demo check: FAILED, exited: {dead}", flush=True)
            return 1
        try:
            with urllib.request.urlopen(f"{url}/start/?worker_id=demo-check", timeout=10) as response:
                body = response.read().decode()
        except OSError:
            time.sleep(0.3)
            continue
        ok = 'id="page"' in body
        time.sleep(1)  # give the worker and beat a moment to fail, if they are going to
        alive = all(p.poll() is None for p in processes)
        print(f"demo check: served {response.url}:", "OK" if ok and alive else "FAILED", flush=True)
        return 0 if ok and alive else 1
    print("demo check: FAILED, the server did not answer", flush=True)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", default=os.environ.get("EXPERIMENT", str(ROOT / "demos" / "hello_world")))
    parser.add_argument("--port", type=int, default=None,
                        help="default: $PORT or 8000; with --check, a free port")
    parser.add_argument("--bots", type=int, default=0, help="run N bots through the demo first")
    parser.add_argument("--check", action="store_true", help="set up, serve, fetch one page, then stop")
    args = parser.parse_args()
    if args.port is None:
        args.port = free_port() if args.check else int(os.environ.get("PORT", "8000"))
    var_dir = Path(os.environ.get("CHORUS_VAR_DIR", ROOT / "var"))

    env = {**os.environ, "EXPERIMENT": str(Path(args.experiment).resolve()),
           "DJANGO_SETTINGS_MODULE": "config.settings",
           # Run this checkout's code, whatever else the virtualenv has installed.
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    manage = [sys.executable, str(ROOT / "manage.py")]
    run = lambda *cmd: subprocess.run([*manage, *cmd], env=env, cwd=ROOT, check=True)  # noqa: E731

    run("deploy")
    run("collectstatic", "--noinput", "-v", "0")
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

    processes = [
        subprocess.Popen([str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{args.port}",
                          "-w", "2", "--access-logfile", "-"], env=env, cwd=ROOT),
        subprocess.Popen([str(BIN / "celery"), "-A", "config", "worker", "-l", "warning",
                          "--concurrency", "2"], env=env, cwd=ROOT),
        subprocess.Popen([str(BIN / "celery"), "-A", "config", "beat", "-l", "warning",
                          "--schedule", str(var_dir / "celerybeat-schedule")], env=env, cwd=ROOT),
    ]
    url = f"http://127.0.0.1:{args.port}"
    print(f"\n  Chorus demo: {url}/start/   (participants)")
    print(f"  Admin:       {url}/admin/   user 'admin'"
          + (f", password {password}" if created
             else " (password set earlier; reset: manage.py changepassword admin)"))
    print("  Ctrl-C stops everything.\n", flush=True)
    status = 0
    try:
        if args.check:
            status = check(url, processes)
        else:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return status


if __name__ == "__main__":
    sys.exit(main())
