"""Serving assets (Range, content types, nosniff, personal access) and recordings uploaded with a
response through the participant API (multipart), including bad uploads and bots."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.kinds import CachedAsset, ExperimentAsset, FastFunctionAsset
from assets.models import Asset
from assets.selectors import personal_access_token
from assets.services import asset_deposit, asset_register, assets_register_declared
from experiments import services
from experiments.models import Participant, Response
from experiments.selectors import current_page

from .conftest import EXPERIMENTS, inbox_files
from .experiments.local.stimuli import synth_tone

LOCAL = EXPERIMENTS / "local"
WAV = (LOCAL / "bot.wav").read_bytes()


@pytest.fixture
def local(use_experiment, asset_dirs):
    use_experiment(LOCAL)
    return asset_dirs


def at_recording_page(worker_id="w") -> Participant:
    participant = services.participant_create(worker_id=worker_id)
    assert current_page(participant).label == "listen"
    return services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                    raw_answer=None).participant


def multipart(client, participant, *, files, answer=None, page_uuid=None):
    payload = {"page_uuid": str(page_uuid or participant.page_uuid), "answer": answer or {"duration_sec": 0.8}}
    return client.post(f"/api/p/{participant.token}/response", {"payload": json.dumps(payload), **files})


def recording(content=WAV, name="audio", content_type="audio/wav"):
    return {"audio": SimpleUploadedFile(name, content, content_type=content_type)}


def tone(path, frequency=440):
    synth_tone(path, frequency, 0.1)


@pytest.mark.django_db
def test_a_recording_is_accepted_with_the_response_and_kept_as_a_personal_asset(client, local, settings):
    participant = at_recording_page()
    response = multipart(client, participant, files=recording())
    assert response.status_code == 200, response.content
    assert response.json()["label"] == "feedback"
    answer = Response.objects.get(participant=participant, page_label="imitation").answer
    asset = Asset.objects.get(pk=answer["id"])
    assert asset.kind == "recording" and asset.personal and asset.participant == participant
    assert asset.status == "pending" and asset.extension == ".wav" and asset.content_type == "audio/wav"
    assert asset.parent_kind == "participant" and asset.parent_id == str(participant.pk)
    assert answer["duration_sec"] == 0.8 and answer["url"].startswith(f"/assets/{asset.token}/?access=")
    participant.refresh_from_db()
    assert participant.assets["imitation"] == asset
    assert [p.read_bytes() for p in inbox_files(settings)] == [WAV]
    # Before the worker deposits it, the participant's feedback page can already play it.
    fetched = client.get(answer["url"])
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == WAV
    assert asset_deposit(asset_id=asset.pk).status == "deposited"
    asset.refresh_from_db()
    assert asset.sha256 and asset.size == len(WAV) and asset.input_path == ""
    feedback = client.get(f"/api/p/{participant.token}/page").json()
    assert feedback["prompt"]["url"].startswith(f"/assets/{asset.token}/?access=")
    assert b"".join(client.get(feedback["prompt"]["url"]).streaming_content) == WAV


@pytest.mark.django_db
@pytest.mark.parametrize("files, status, error", [
    ({"audio": SimpleUploadedFile("audio", b"<html><script>alert(1)</script>", content_type="audio/webm")}, 415, "accepted types"),
    ({"audio": SimpleUploadedFile("audio", b"", content_type="audio/wav")}, 400, "empty"),
    ({"other": SimpleUploadedFile("audio", WAV, content_type="audio/wav")}, 400, "unexpected"),
    ({}, 400, "payload"),
])
def test_bad_uploads_get_a_4xx_and_nothing_is_stored(client, local, settings, files, status, error):
    participant = at_recording_page()
    if files:
        response = multipart(client, participant, files=files)
    else:
        response = client.post(f"/api/p/{participant.token}/response",
                               {"audio": SimpleUploadedFile("a", WAV)})
    assert response.status_code == status and error in response.json()["error"]
    assert not Asset.objects.exists() and not Response.objects.filter(page_label="imitation").exists()
    assert inbox_files(settings) == []
    participant.refresh_from_db()
    assert participant.page_label == "imitation"


@pytest.mark.django_db
def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, local, settings):
    settings.ASSET_UPLOAD_MAX_BYTES = 4000
    participant = at_recording_page()
    response = multipart(client, participant, files=recording())  # 8 kB, control limit 4 kB
    assert response.status_code == 413
    big = WAV + b"\0" * (settings.ASSET_UPLOAD_MAX_BYTES + 2 * 1024 * 1024)
    response = multipart(client, participant, files=recording(big))  # over the request limit
    assert response.status_code == 413 and "request body too large" in response.json()["error"]
    assert not Asset.objects.exists() and inbox_files(settings) == []


@pytest.mark.django_db
def test_a_recording_page_needs_a_recording_and_other_pages_take_no_files(client, local, settings):
    participant = services.participant_create(worker_id="w")
    response = multipart(client, participant, files=recording())  # "listen" takes no files
    assert response.status_code == 400 and "does not take files" in response.json()["error"]
    participant = at_recording_page("w2")
    response = client.post(f"/api/p/{participant.token}/response",
                           {"page_uuid": str(participant.page_uuid), "answer": {}}, content_type="application/json")
    assert response.status_code == 400 and "recording" in response.json()["error"]
    stale = multipart(client, participant, files=recording(), page_uuid="00000000-0000-0000-0000-000000000000")
    assert stale.status_code == 409
    assert not Asset.objects.exists() and inbox_files(settings) == []


@pytest.mark.django_db
def test_a_rejected_submit_discards_what_it_staged(client, local, settings, monkeypatch):
    from experiments.timeline.pages import Page

    participant = at_recording_page()
    monkeypatch.setattr(Page, "validate", lambda self, answer, **kw: "Please try again.")
    response = multipart(client, participant, files=recording())
    assert response.status_code == 422
    assert not Asset.objects.exists() and inbox_files(settings) == []


@pytest.mark.django_db
def test_bots_upload_their_media_through_the_service_layer(local):
    bot = services.participant_create(worker_id="bot")
    Participant.objects.filter(pk=bot.pk).update(is_bot=True)
    bot.refresh_from_db()
    while not current_page(bot).terminal:
        page = current_page(bot)
        bot = services.response_submit(token=bot.token, page_uuid=bot.page_uuid,
                                       raw_answer=page.get_bot_response({"participant": bot})).participant
    asset = bot.assets["imitation"]
    assert asset.kind == "recording" and asset.content_type == "audio/wav" and asset.personal
    assert asset_deposit(asset_id=asset.pk).status == "deposited"
    asset.refresh_from_db()
    assert asset.size == len(WAV) and bot.complete


@pytest.mark.django_db
def test_one_participant_cannot_fetch_anothers_personal_recording(client, local, admin_client):
    alice, bob = at_recording_page("alice"), at_recording_page("bob")
    assert multipart(client, alice, files=recording()).status_code == 200
    asset = alice.assets["imitation"]
    asset_deposit(asset_id=asset.pk)
    asset.refresh_from_db()
    base = f"/assets/{asset.token}/"
    assert client.get(base).status_code == 403
    forged = Asset(token=asset.token, participant_id=bob.pk)  # a grant minted for Bob
    assert client.get(base, {"access": personal_access_token(forged)}).status_code == 403
    assert client.get(base, {"access": "garbage"}).status_code == 403
    assert client.get(f"/asset-status/{asset.token}").status_code == 403
    # Bob's own pages never carry Alice's URL.
    assert asset.token not in json.dumps(client.get(f"/api/p/{bob.token}/page").json())
    assert client.get(asset.url).status_code == 200
    assert admin_client.get(base).status_code == 200  # staff may
    assert client.get("/assets/not-a-token/").status_code == 404


@pytest.mark.django_db
def test_local_files_are_served_with_ranges_types_and_nosniff(client, local):
    row = asset_register(spec=CachedAsset("bot.wav", key_within_experiment="stim"))
    assert asset_deposit(asset_id=row.pk).status == "deposited"
    row.refresh_from_db()
    url = row.url
    assert url == f"/assets/{row.token}/"
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/wav"
    assert whole["X-Content-Type-Options"] == "nosniff" and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == WAV
    part = client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(WAV)}"
    assert b"".join(part.streaming_content) == WAV[10:20]
    tail = client.get(url, HTTP_RANGE="bytes=-4")
    assert b"".join(tail.streaming_content) == WAV[-4:]
    open_ended = client.get(url, HTTP_RANGE=f"bytes={len(WAV) - 3}-")
    assert b"".join(open_ended.streaming_content) == WAV[-3:]
    assert client.get(url, HTTP_RANGE=f"bytes={len(WAV)}-").status_code == 416
    assert client.head(url)["Content-Length"] == str(len(WAV))
    assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_folders_serve_their_files_and_refuse_paths_out(client, local):
    row = asset_register(spec=CachedAsset(".", key_within_experiment="folder"))
    assert asset_deposit(asset_id=row.pk).status == "deposited"
    row.refresh_from_db()
    from assets.selectors import asset_url

    fetched = client.get(asset_url(row, "bot.wav"))
    assert fetched.status_code == 200 and fetched["Content-Type"] == "audio/wav"
    assert client.get(f"/assets/{row.token}/").status_code == 404
    for hostile in ["../experiment.py", "a/../../x", "%2e%2e/experiment.py"]:
        assert client.get(f"/assets/{row.token}/{hostile}").status_code in (400, 404)


@pytest.mark.django_db
def test_fast_function_assets_are_made_per_request_and_never_stored(client, local):
    row = asset_register(spec=FastFunctionAsset(function=tone, extension=".wav"), holder=("node", "1"),
                         local_key="stimulus")
    response = client.get(row.url)
    assert response.status_code == 200 and response["Cache-Control"] == "private, max-age=60"
    assert response.content[:4] == b"RIFF"
    assert not (local / "storage").exists() or not any((local / "storage").rglob("*.wav"))


@pytest.mark.django_db
def test_pending_assets_say_so(client, local, tmp_path, settings):
    source = tmp_path / "x.wav"
    source.write_bytes(WAV)
    row = ExperimentAsset(local_key="x", input_path=source).deposit(async_=True)
    status = client.get(f"/asset-status/{row.token}").json()
    assert status == {"status": "pending", "ready": False, "failed": False}
    assert client.get(row.url).status_code == 200  # served from the inbox meanwhile
    for path in inbox_files(settings):
        path.unlink()
    gone = client.get(row.url)
    assert gone.status_code == 503 and gone["Retry-After"]


@pytest.mark.django_db
def test_s3_assets_redirect_to_a_presigned_url(client, use_experiment, asset_dirs, s3, tmp_path):
    import requests

    use_experiment(EXPERIMENTS / "s3")
    source = tmp_path / "x.wav"
    source.write_bytes(WAV)
    row = ExperimentAsset(local_key="x", input_path=source).deposit(async_=False)
    assert row.url.startswith("http://127.0.0.1") and "X-Amz-Signature" in row.url
    redirect = client.get(f"/assets/{row.token}/")
    assert redirect.status_code == 302 and "X-Amz-Signature" in redirect["Location"]
    fetched = requests.get(redirect["Location"], timeout=10)
    assert fetched.content == WAV and fetched.headers["Content-Type"] == "audio/wav"


@pytest.mark.django_db
def test_registration_of_module_assets_is_idempotent(local):
    from experiments.loading import get_experiment

    first = assets_register_declared(experiment=get_experiment())
    second = assets_register_declared(experiment=get_experiment())
    assert first == second == 2 and Asset.objects.count() == 2


@pytest.mark.django_db
def test_deposited_hooks_let_trial_makers_finalize_trials(local, tmp_path):
    from assets.selectors import holder_assets_pending
    from experiments import hooks

    finalized = []

    def finalize_when_ready(asset):
        if asset.parent_kind == "trial" and not holder_assets_pending(("trial", asset.parent_id)):
            finalized.append(asset.parent_id)

    hooks.asset_deposited.register(finalize_when_ready)
    try:
        source = tmp_path / "r.wav"
        source.write_bytes(WAV)
        first = ExperimentAsset(local_key="imitation", input_path=source, parent=("trial", "7")).deposit(async_=True)
        second = ExperimentAsset(local_key="extra", input_path=source, parent=("trial", "7")).deposit(async_=True)
        assert holder_assets_pending(("trial", "7")) == 2
        asset_deposit(asset_id=first.pk)
        assert finalized == []
        asset_deposit(asset_id=second.pk)
        assert finalized == ["7"]
    finally:
        hooks.asset_deposited.unregister(finalize_when_ready)
