"""Servers on this machine for the demo, tests and benchmarks: a free port, waiting for a server to
listen, and console tools (celery, gunicorn) started on this checkout's code."""

import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Return once something listens on 127.0.0.1:`port`; RuntimeError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def tool(name: str) -> list[str]:
    """The command starting a console tool on this checkout's code (see checkout_main.py)."""
    return [sys.executable, str(ROOT / "scripts" / "checkout_main.py"), name]
