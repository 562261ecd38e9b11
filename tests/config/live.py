"""Helpers for tests that start Chorus's processes as a deployment does and talk to them over HTTP."""

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from django.conf import settings
from django.contrib.staticfiles import finders

from tests import processes
from tests.processes import stop_group

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database (pytest-django's), for processes started outside this one."""
    return processes.database_url()


@contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A long-running process (in its own process group, run from this checkout) for the block;
    SIGKILLed at the end: the test waited for what it needs, and graceful shutdown takes seconds."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            yield process
        finally:
            stop_group(process, signal.SIGKILL)


def wait_for(condition, *, processes: list[subprocess.Popen], logs: list[Path], what: str,
             deadline: float = 120) -> None:
    """Poll until true; fail showing the logs if a process exits or the deadline (a hang bound,
    not a speed assertion) passes."""
    end = time.monotonic() + deadline
    while not condition():
        dead = [p.args for p in processes if p.poll() is not None]
        if dead or time.monotonic() > end:
            text = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                             for log in logs if log.exists())
            pytest.fail(f"{what}: {'exited ' + str(dead) if dead else 'timed out'}\n{text}")
        time.sleep(0.2)


def static_urls(html: str, base: str) -> list[str]:
    """The page's stylesheets and scripts."""
    found = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html)
    found += re.findall(r'<script[^>]+src="([^"]+)"', html)
    return [urljoin(base, url) for url in found]


def assert_static_files_served(html: str, base: str, *, hashed: bool) -> None:
    """The page links CSS and JS, and each is served (JS byte for byte from its source file);
    with manifest storage (production) under hashed names such as page.1a2b3c4d5e6f.js."""
    urls = static_urls(html, base)
    assert {Path(u).suffix for u in urls} >= {".css", ".js"}, html
    for url in urls:
        served = requests.get(url, timeout=30)
        assert served.status_code == 200, url
        path = url.split(settings.STATIC_URL, 1)[1]
        name = re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", path)
        assert (name != path) == hashed, f"{url}: expected {'a' if hashed else 'no'} hashed name"
        if name.endswith(".js"):
            assert served.content == Path(finders.find(name)).read_bytes(), url


def create_staff(python: str, env: dict[str, str], password: str) -> None:
    """A superuser made the way the README says (`createsuperuser`), with the server's hasher."""
    result = subprocess.run(
        [python, "manage.py", "createsuperuser", "--noinput", "--username", "staff", "--email",
         "staff@example.org"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": password})
    assert result.returncode == 0, result.stderr


def admin_get(base: str, path: str, password: str) -> requests.Response:
    """Log in as `staff` through the admin's own form, then GET `path`.

    Cookies are passed by hand: production's are Secure, which requests keeps off plain HTTP."""
    login = requests.get(f"{base}/admin/login/", timeout=30)
    assert login.status_code == 200, login.text[:2000]
    csrf = login.cookies["csrftoken"]
    signed_in = requests.post(
        f"{base}/admin/login/", cookies={"csrftoken": csrf}, allow_redirects=False, timeout=30,
        data={"csrfmiddlewaretoken": csrf, "username": "staff", "password": password,
              "next": "/admin/"})
    assert signed_in.status_code == 302, signed_in.text[:2000]
    return requests.get(f"{base}{path}", cookies={"sessionid": signed_in.cookies["sessionid"]},
                        timeout=30)


def inherited_env(**values: str) -> dict[str, str]:
    """A clean environment: the shell basics plus `values`."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(PYTHONUNBUFFERED="1", **values)
    return env
