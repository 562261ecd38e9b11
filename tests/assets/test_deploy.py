"""`manage.py deploy` for assets: cached assets deposited in parallel (workers or threads), a
redeploy with unchanged stimuli uploads nothing and checks the store with one listing, identical
bytes stored once."""

import io

import pytest
from django.core.management import call_command

from assets.models import Asset
from assets.services import assets_deploy
from experiments.loading import get_experiment

from .conftest import EXPERIMENTS, s3_client

DEPLOY = EXPERIMENTS / "deploy"


class Bar:
    def __init__(self, description, total):
        self.description, self.total, self.done, self.closed = description, total, 0, False

    def update(self, n):
        self.done += n

    def close(self):
        self.closed = True


def bucket_keys(endpoint, bucket):
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


@pytest.mark.django_db(transaction=True)
def test_deploy_uploads_once_and_a_redeploy_uploads_nothing(use_experiment, asset_dirs, s3, moto_server):
    use_experiment(DEPLOY)
    experiment = get_experiment()
    bars = []
    first = assets_deploy(experiment=experiment, mode="local",
                          progress=lambda d, t: bars.append(Bar(d, t)) or bars[-1])
    assert first.registered == 8 and first.cached == 8 and first.already_stored == 0
    assert first.uploaded == 8 and not first.failed and first.mode == "local"
    assert bars[0].total == 8 and bars[0].done == 8 and bars[0].closed
    assert Asset.objects.filter(status="deposited").count() == 8
    keys = bucket_keys(moto_server.endpoint, s3)
    logos = Asset.objects.filter(key_within_experiment__in=["module/stimuli/logo", "module/stimuli/logo_copy"])
    assert len({a.storage_key for a in logos}) == 1  # identical bytes under two keys...
    assert keys.count(f"deploy/{logos[0].storage_key}") == 1  # ...stored once
    folder = Asset.objects.get(key_within_experiment="module/stimuli/stimset")
    assert f"deploy/{folder.storage_key}/a.txt" in keys and f"deploy/{folder.storage_key}.json" in keys
    assert len(keys) == 5 + 1 + 3  # tones, one logo, folder (2 files + its marker)

    # A fresh database (a new deployment elsewhere) against the same store: nothing to upload.
    Asset.objects.all().delete()
    storage = experiment.asset_storage
    requests_before = storage.requests
    second = assets_deploy(experiment=experiment, mode="local")
    assert second.cached == 8 and second.already_stored == 8 and second.uploaded == 0
    assert second.store_requests == storage.requests - requests_before == 1  # one listing
    assert Asset.objects.filter(status="deposited").count() == 8
    assert bucket_keys(moto_server.endpoint, s3) == keys


@pytest.mark.django_db(transaction=True)
def test_deploy_deposits_on_the_workers_with_progress(use_experiment, asset_dirs, s3, moto_server,
                                                       start_worker, settings):
    use_experiment(DEPLOY)
    start_worker(DEPLOY, CHORUS_TEST_BUCKET=s3, AWS_S3_ENDPOINT_URL=moto_server.endpoint)
    bars = []
    report = assets_deploy(experiment=get_experiment(), mode="workers",
                           progress=lambda d, t: bars.append(Bar(d, t)) or bars[-1])
    assert report.mode == "workers" and report.uploaded == 8 and bars[0].done == 8
    settings.ASSET_DEPLOY_MODE = "auto"  # a worker answers the ping
    out = io.StringIO()
    call_command("deploy", "--no-migrate", stdout=out)
    assert "8 cached (8 already stored, 0 deposited" in out.getvalue()
    assert "1 store requests" in out.getvalue()
