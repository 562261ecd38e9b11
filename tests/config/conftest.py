"""The production install (a fresh virtualenv with exactly the Dockerfile's `pip install`), built
once per session in the background from the moment collection ends, so the minute pip takes
overlaps the tests that run before the ones that need it. Only built when a selected test uses
`production_venv`; its pip process is ended with the session if still running.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_pip_install() -> list[str]:
    """The image's `pip install ...` (without the commands chained after it)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^RUN (pip install [^&\\\n]*)", dockerfile, re.M)
    assert match, "the Dockerfile should install Chorus with `RUN pip install ...`"
    return shlex.split(match.group(1))


class ProductionInstall:
    """`python -m venv` then the Dockerfile's `pip install`, run in this checkout (the image runs
    it in /app, a copy of it). pip's cache is used (the image turns it off with PIP_NO_CACHE_DIR)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.thread: threading.Thread | None = None
        self.process: subprocess.Popen | None = None
        self.error = ""
        self.seconds = 0.0

    def start(self) -> None:
        if self.thread is None:
            self.folder = Path(tempfile.mkdtemp(prefix="chorus-production-install-"))
            self.thread = threading.Thread(target=self._build, daemon=True)
            self.thread.start()

    def _build(self) -> None:
        started, venv = time.monotonic(), self.folder / "venv"
        steps = [[sys.executable, "-m", "venv", str(venv)]]
        argv = dockerfile_pip_install()
        steps.append([str(venv / "bin" / argv[0]), *argv[1:]])
        env = {k: v for k, v in os.environ.items() if k != "PIP_NO_CACHE_DIR"}
        for step in steps:
            self.process = subprocess.Popen(step, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True)
            output, _ = self.process.communicate()
            if self.process.returncode != 0:
                self.error = f"{' '.join(step)} failed ({self.process.returncode}):\n{output[-6000:]}"
                return
        self.seconds = time.monotonic() - started

    def bin(self) -> Path:
        self.start()
        self.thread.join(timeout=1800)
        if self.thread.is_alive():
            pytest.fail("the production install did not finish in 30 minutes")
        if self.error:
            pytest.fail(self.error)
        return self.folder / "venv" / "bin"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.thread is not None:
            self.thread.join(timeout=60)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


INSTALL = ProductionInstall()


def pytest_collection_finish(session):
    if any("production_venv" in getattr(item, "fixturenames", ()) for item in session.items):
        INSTALL.start()


def pytest_sessionfinish(session):
    INSTALL.stop()


@pytest.fixture(scope="session")
def production_venv() -> Path:
    """bin/ of a fresh virtualenv holding exactly what the Dockerfile installs (no test extras)."""
    venv = INSTALL.bin()
    print(f"\nproduction install built in {INSTALL.seconds:.1f} s (in the background)")
    return venv
