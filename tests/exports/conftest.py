"""Helpers for export tests: participants driven through the service layer like bots."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import services
from experiments.selectors import current_page
from tests import processes

ROOT = Path(__file__).resolve().parents[2]

#: Identifiers the bots use; anonymised exports must contain none of them anywhere.
SECRETS = {
    "worker_id": "WKR-7f3a9c-secret",
    "assignment_id": "ASG-51d2e8-secret",
    "user_agent": "SecretBrowser/9.9 (bot-ua-4471)",
    "ip_address": "203.0.113.77",
}


def run_bot(*, worker_id: str = "", assignment_id: str = "", user_agent: str = "",
            ip_address: str | None = None, answers: dict | None = None, steps: int | None = None):
    """Take one participant through hello_world (or `steps` pages) via the services."""
    participant = services.participant_create(worker_id=worker_id, assignment_id=assignment_id,
                                              user_agent=user_agent, ip_address=ip_address,
                                              entry_params={"PROLIFIC_PID": worker_id} if worker_id else {})
    n = 0
    while not current_page(participant).terminal and (steps is None or n < steps):
        page = current_page(participant)
        answer = (answers or {}).get(page.label, page.get_bot_response({"participant": participant}))
        participant = services.response_submit(token=participant.token,
                                               page_uuid=participant.page_uuid,
                                               raw_answer=answer).participant
        n += 1
    return participant


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def csv_rows(path: Path) -> int:
    return len(read_csv(path))


def database_url() -> str:
    return processes.database_url()  # also the embedded server, whose host is a socket folder


def manage(*args: str, env: dict | None = None, check: bool = False,
           **kwargs) -> subprocess.CompletedProcess:
    """Run manage.py in a subprocess against the test database."""
    full_env = {**os.environ, "DATABASE_URL": database_url(),
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "EXPERIMENT": str(ROOT / "demos" / "hello_world"), **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=full_env,
                          cwd=ROOT, capture_output=True, text=True, check=check, timeout=120,
                          **kwargs)


@pytest.fixture
def artifacts(settings, tmp_path):
    """Artifact storage in a temporary folder."""
    folder = tmp_path / "artifacts"
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(folder)},
    }}
    return folder


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's S3-compatible server, a real HTTP server on 127.0.0.1, for the session."""
    import socket
    import time

    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield endpoint
    server.terminate()
    server.wait(10)


@pytest.fixture
def s3_artifacts(settings, moto_endpoint, monkeypatch):
    """Artifact storage in a bucket of the moto server (django-storages' S3Storage)."""
    import uuid

    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": bucket, "location": "artifacts", "endpoint_url": moto_endpoint,
                    "file_overwrite": False, "default_acl": None,
                    "access_key": "testing", "secret_key": "testing", "region_name": "us-east-1"},
    }}
    return client, bucket
