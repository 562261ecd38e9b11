"""The dashboard export: a staff page starts a Celery job (a real worker process), shows its
progress and serves the zip; earlier exports stay listed."""

import io
import json
import os
import subprocess
import sys
import time
import zipfile

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth.models import User

from exports.models import ExportJob

from .conftest import ROOT, SECRETS, database_url, run_bot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(artifacts):
    """A real Celery worker on this test database and the test's Redis db."""
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": django_settings.CELERY_BROKER_URL,
           "ARTIFACTS_DIR": str(artifacts), "DJANGO_SETTINGS_MODULE": "config.settings",
           "EXPERIMENT": str(ROOT / "demos" / "hello_world")}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--concurrency", "1", "-l", "warning", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _wait_done(job_id, timeout: float = 120) -> ExportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ExportJob.objects.get(pk=job_id)
        if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status} ({job.stage})")


def test_dashboard_export_runs_on_a_worker_and_serves_the_zip(client, worker, settings):
    settings.STORE_IP_ADDRESSES = True
    run_bot(**SECRETS)
    run_bot(worker_id="w2")
    staff = User.objects.create_user("researcher", password="pw", is_staff=True)
    client.force_login(staff)

    page = client.get("/dashboard/export")
    assert page.status_code == 200 and b"Start export" in page.content
    response = client.post("/dashboard/export", {"anonymize": "on", "assets": "none",
                                                 "include_source": "on"})
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.anonymize and job.assets == "none" and job.requested_by == "researcher"
    job = _wait_done(job.pk)
    assert job.status == "done", job.error
    assert job.progress == 1.0 and job.row_counts["experiments_participant"] == 2

    status = client.get("/dashboard/export/status").json()
    assert status["jobs"][0] == {"id": str(job.pk), "status": "done", "stage": "done",
                                 "progress": 1.0, "error": "", "size": job.size, "download": True}
    download = client.get(f"/dashboard/export/{job.pk}/download")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    blob = b"".join(download.streaming_content)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["options"] == {"anonymize": True, "assets": "none", "source": True}
        assert "participant_identifiers.csv" not in archive.namelist()
        for name in archive.namelist():
            assert SECRETS["worker_id"].encode() not in archive.read(name)

    # A second export with identifiers; both are listed afterwards.
    client.post("/dashboard/export", {"assets": "experiment"})
    second = ExportJob.objects.exclude(pk=job.pk).get()
    second = _wait_done(second.pk)
    assert second.status == "done", second.error
    listing = client.get("/dashboard/export").content.decode()
    assert listing.count(">Download zip</a>") == 2
    assert "anonymised" in listing and "with identifiers" in listing


def test_dashboard_needs_staff_and_valid_options(client):
    assert client.get("/dashboard/export").status_code == 302  # to the admin login
    user = User.objects.create_user("someone", password="pw")
    client.force_login(user)
    assert client.get("/dashboard/export").status_code == 302
    user.is_staff = True
    user.save()
    bad = client.post("/dashboard/export", {"assets": "bogus"})
    assert bad.status_code == 400 and not ExportJob.objects.exists()
    missing = client.get("/dashboard/export/00000000-0000-0000-0000-000000000000/download")
    assert missing.status_code == 404
