"""Real parts for asset tests: moto's S3 server over HTTP, Celery worker subprocesses on this
run's Redis db and PostgreSQL test database, temporary storage and inbox folders."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings

from scripts.localhost import free_port, tool, wait_for_port  # noqa: F401 - re-exported to the tests
from tests.processes import database_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXPERIMENTS = Path(__file__).resolve().parent / "experiments"


class MotoServer:
    """moto's S3-compatible server as a subprocess on 127.0.0.1 (can be stopped and restarted)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        self.process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    yield server
    server.stop()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def asset_dirs(settings, tmp_path):
    """Fresh local storage root and inbox for one test."""
    settings.ASSET_LOCAL_ROOT = tmp_path / "storage"
    settings.ASSET_INBOX_DIR = tmp_path / "inbox"
    return tmp_path


#: One bucket per test session: experiments read its name once, when they are imported.
SESSION_BUCKET = f"chorus-test-{uuid.uuid4().hex[:12]}"
os.environ["CHORUS_TEST_BUCKET"] = SESSION_BUCKET


@pytest.fixture
def s3(settings, moto_server):
    """Settings pointing S3Storage at moto, and the session's bucket, emptied."""
    settings.AWS_S3_ENDPOINT_URL = moto_server.endpoint
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_S3_REGION_NAME = "us-east-1"
    client = s3_client(moto_server.endpoint)
    try:
        client.create_bucket(Bucket=SESSION_BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=SESSION_BUCKET):
        for entry in page.get("Contents", []):
            client.delete_object(Bucket=SESSION_BUCKET, Key=entry["Key"])
    return SESSION_BUCKET


def inbox_files(settings) -> list[Path]:
    inbox = Path(settings.ASSET_INBOX_DIR)
    return sorted(inbox.iterdir()) if inbox.exists() else []


class Worker:
    """A real `celery worker` subprocess (prefork, one child) on this test run's DB and Redis db."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        self.handle = open(self.log, "ab")
        self.process = subprocess.Popen(
            [*tool("celery"), "-A", "config", "worker", "-l", "info", "--pool", "prefork",
             "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"assets-test-{uuid.uuid4().hex[:8]}@%h"],
            env=self.env, cwd=ROOT, stdout=self.handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"worker did not start: {self.log.read_text()[-3000:]}")

    def child_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.handle.close()


@pytest.fixture
def redis_db():
    """This run's Redis db, emptied so no task of an earlier test is delivered."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def start_worker(settings, tmp_path, redis_db):
    """start_worker(experiment_folder, **env) -> Worker, stopped at the end of the test."""
    workers: list[Worker] = []

    def start(experiment: Path, **extra: str) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": django_settings.CELERY_BROKER_URL,
            "EXPERIMENT": str(experiment),
            "ASSET_LOCAL_ROOT": str(settings.ASSET_LOCAL_ROOT),
            "ASSET_INBOX_DIR": str(settings.ASSET_INBOX_DIR),
            "AWS_S3_ENDPOINT_URL": str(settings.AWS_S3_ENDPOINT_URL or ""),
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "CONN_MAX_AGE": "0",
            **extra,
        }
        worker = Worker(env, tmp_path / f"worker-{len(workers)}.log").start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    """Poll until `predicate()` is truthy (no timing is asserted; the timeout only ends a hung test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")
