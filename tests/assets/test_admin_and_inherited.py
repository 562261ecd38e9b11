"""Admin (status, attempts, errors, filter, preview, re-deposit), exports' manifest round trip into
InheritedAssets, and external S3 assets."""

import csv

import pytest
import requests

from assets.kinds import (
    MANIFEST_COLUMNS,
    CachedAsset,
    ExperimentAsset,
    ExternalS3Asset,
    InheritedAssets,
)
from assets.models import Asset
from assets.selectors import manifest_row
from assets.services import asset_deposit, asset_register, assets_deploy, holder_add_assets
from assets.storage import get_storage
from experiments.loading import get_experiment

from .conftest import EXPERIMENTS, s3_client

WAV = (EXPERIMENTS / "local" / "bot.wav").read_bytes()


@pytest.fixture
def local(use_experiment, asset_dirs):
    use_experiment(EXPERIMENTS / "local")
    return asset_dirs


@pytest.mark.django_db
def test_admin_lists_status_attempts_errors_and_redeposits(admin_client, local, tmp_path):
    good = asset_register(spec=CachedAsset("bot.wav", key_within_experiment="good"))
    asset_deposit(asset_id=good.pk)
    bad = asset_register(spec=CachedAsset("logo.png", key_within_experiment="bad"))
    Asset.objects.filter(pk=bad.pk).update(status="failed", attempts=6, last_error="EndpointConnectionError: down")
    page = admin_client.get("/admin/assets/asset/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "good" in html and "bad" in html and "<audio controls" in html and "<img src=" in html
    failed = admin_client.get("/admin/assets/asset/", {"deposit": "failed"}).content.decode()
    assert "bad" in failed and ">good<" not in failed
    detail = admin_client.get(f"/admin/assets/asset/{bad.pk}/change/").content.decode()
    assert "EndpointConnectionError: down" in detail
    response = admin_client.post("/admin/assets/asset/", {"action": "redeposit", "_selected_action": [bad.pk]})
    assert response.status_code == 302
    bad.refresh_from_db()
    assert bad.status == "pending" and bad.attempts == 0 and bad.last_error == ""
    assert asset_deposit(asset_id=bad.pk).status == "deposited"


@pytest.mark.django_db
def test_admin_needs_staff(client, local):
    assert client.get("/admin/assets/asset/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_an_exported_manifest_is_inherited_by_a_new_experiment(local, tmp_path):
    # The earlier experiment: two recordings and a cached file, exported with readable names.
    source = tmp_path / "r.wav"
    source.write_bytes(WAV)
    rows = [ExperimentAsset(local_key="take", input_path=source, parent=("trial", str(i)),
                            variables={"singer": i}).deposit() for i in (1, 2)]
    rows.append(asset_register(spec=CachedAsset("logo.png", key_within_experiment="logo")))
    for row in rows:
        asset_deposit(asset_id=row.pk)
    export = tmp_path / "export" / "assets"
    export.mkdir(parents=True)
    storage = get_storage()
    with open(export / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, MANIFEST_COLUMNS)
        writer.writeheader()
        for row in Asset.objects.all():
            path = f"files/{row.pk}{row.extension}"
            storage.export(row.storage_key, export / path)
            writer.writerow(manifest_row(row, path))
    Asset.objects.all().delete()  # a new experiment, a new database

    inherited = InheritedAssets(export / "manifest.csv", key="previous")
    assert len(inherited) == 3
    keys = sorted(inherited)
    holder_add_assets(holder=("module", "rating"), assets=inherited)
    report = assets_deploy(experiment=get_experiment(), mode="local")
    assert report.cached == 3 + 2 and not report.failed  # and the experiment's own module assets
    take = Asset.objects.get(key_within_experiment=f"previous/{keys[-1]}")
    assert take.kind == "inherited" and take.status == "deposited"
    assert Asset.objects.filter(kind="inherited", status="deposited").count() == 3
    singers = sorted(a.variables.get("singer", 0) for a in Asset.objects.filter(kind="inherited"))
    assert singers == [0, 1, 2]
    # The two identical takes are one object in the new store.
    assert len(set(Asset.objects.filter(kind="inherited", extension=".wav").values_list("storage_key", flat=True))) == 1


@pytest.mark.django_db
def test_external_s3_assets_get_presigned_urls(client, local, s3, moto_server):
    s3_client(moto_server.endpoint).put_object(Bucket=s3, Key="theirs/sound.wav", Body=WAV)
    row = asset_register(spec=ExternalS3Asset(s3, "theirs/sound.wav"), holder=("module", "m"),
                         local_key="sound")
    assert row.status == "deposited" and "X-Amz-Signature" in row.url
    assert requests.get(row.url, timeout=10).content == WAV
    redirect = client.get(f"/assets/{row.token}/")
    assert redirect.status_code == 302 and requests.get(redirect["Location"], timeout=10).content == WAV



@pytest.mark.django_db(transaction=True)
def test_the_export_hook_writes_readable_files_and_inherited_assets_read_them_back(local, tmp_path, client):
    from assets.exporting import export_assets
    from assets.kinds import FastFunctionAsset
    from experiments import services

    from .test_views_and_uploads import tone

    participant = services.participant_create(worker_id="exported")
    source = tmp_path / "r.wav"
    source.write_bytes(WAV)
    mine = ExperimentAsset(local_key="imitation", input_path=source, parent=participant, personal=True).deposit()
    shared = ExperimentAsset(local_key="take", input_path=source, parent=("trial", "4")).deposit()
    asset_deposit(asset_id=mine.pk)  # `shared` stays pending: exported from the inbox
    holder_add_assets(holder=("module", "intro"), assets={
        "logo": CachedAsset("logo.png"), "fast": FastFunctionAsset(function=tone, extension=".wav")})
    asset_deposit(asset_id=Asset.objects.get(kind="cached").pk)

    rows = list(export_assets(destination=tmp_path / "e1" / "assets", mode="experiment", anonymize=False))
    paths = sorted(row["path"] for row in rows)
    assert paths == [f"participant/{participant.pk}/imitation-{mine.pk}.wav", f"trial/4/take-{shared.pk}.wav"]
    assert all((tmp_path / "e1" / "assets" / p).read_bytes() == WAV for p in paths)
    anonymous = list(export_assets(destination=tmp_path / "e2" / "assets", mode="experiment", anonymize=True))
    assert [row["path"] for row in anonymous] == [f"trial/4/take-{shared.pk}.wav"]  # no personal asset
    everything = list(export_assets(destination=tmp_path / "e3" / "assets", mode="all", anonymize=True))
    assert sorted(row["kind"] for row in everything) == ["cached", "experiment", "fast_function"]
    assert (tmp_path / "e3" / "assets" / "cached/module/intro/logo.png").read_bytes() == (
        EXPERIMENTS / "local" / "logo.png").read_bytes()

    # What the exports app writes (paths from the export's root), read back by a new experiment.
    with open(tmp_path / "e3" / "assets" / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["path", *MANIFEST_COLUMNS[:2], *MANIFEST_COLUMNS[3:], "local_key"])
        writer.writeheader()
        for row in everything:
            writer.writerow({**row, "path": f"assets/{row['path']}"})
    inherited = InheritedAssets(tmp_path / "e3" / "assets" / "manifest.csv", key="before")
    assert len(inherited) == 3
