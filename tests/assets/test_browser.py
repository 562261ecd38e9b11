"""AudioRecordControl in headless Debian Chromium with a fake microphone: the browser records
with MediaRecorder, uploads with the response, and the feedback page plays the recording back."""

import pytest
from django.db import connections

from assets.models import Asset
from assets.services import asset_deposit, assets_register_declared
from experiments.loading import get_experiment
from experiments.models import Participant

from .conftest import EXPERIMENTS

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
def browser_page(playwright):
    """Its own Chromium: the fake microphone needs launch flags the shared browser lacks."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    page = browser.new_page()
    yield page
    browser.close()


@pytest.mark.django_db(transaction=True)
def test_a_participant_records_uploads_and_hears_their_recording(live_server, browser_page,
                                                                 use_experiment, asset_dirs):
    try:
        _record_upload_and_listen(live_server, browser_page, use_experiment)
    finally:
        # Under Playwright's sync API the test body has its own context, where Django keeps a
        # connection the fixtures' teardown cannot see; close it so the test DB can be dropped.
        connections.close_all()


def _record_upload_and_listen(live_server, browser_page, use_experiment):
    use_experiment(EXPERIMENTS / "local")
    assets_register_declared(experiment=get_experiment())
    page = browser_page
    page.goto(f"{live_server.url}/start/?worker_id=chromium")
    page.wait_for_selector('form[data-label="listen"]')
    page.click("#next")
    page.wait_for_selector('form[data-label="imitation"]')
    assert page.evaluate("typeof window.ChorusControls.audio_record.collect") == "function"
    assert page.is_disabled("#next")
    page.click("#record-start")
    page.wait_for_selector("#next:not([disabled])", timeout=15000)  # stops itself after 1 s
    assert "Recorded" in page.inner_text("#record-status")
    page.click("#next")
    page.wait_for_selector('form[data-label="feedback"]', timeout=15000)

    participant = Participant.objects.get(worker_id="chromium")
    recording = participant.assets["imitation"]
    assert recording.kind == "recording" and recording.personal
    assert recording.content_type == "audio/webm" and recording.extension == ".webm"
    answer = participant.responses.get(page_label="imitation").answer
    assert answer["id"] == recording.pk and 0.5 < answer["duration_sec"] <= 6

    src = page.get_attribute("audio", "src")
    assert src.startswith(f"/assets/{recording.token}/?access=")
    fetched = page.evaluate("""async (src) => {
        const r = await fetch(src);
        const bytes = new Uint8Array(await r.arrayBuffer());
        return [r.status, r.headers.get('content-type'), r.headers.get('x-content-type-options'), bytes.length, Array.from(bytes.slice(0, 4))];
    }""", src)
    assert fetched[:3] == [200, "audio/webm", "nosniff"]
    assert fetched[3] > 1000 and fetched[4] == [0x1A, 0x45, 0xDF, 0xA3]  # a real WebM file

    assert asset_deposit(asset_id=recording.pk).status == "deposited"
    recording.refresh_from_db()
    assert recording.size == fetched[3]
    page.reload()
    page.wait_for_selector('form[data-label="feedback"]')
    duration = page.evaluate("""() => new Promise((resolve) => {
        const audio = document.querySelector('audio');
        if (audio.readyState >= 1) return resolve(audio.duration);
        audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
        audio.addEventListener('error', () => resolve(-1));
        audio.load();
    })""")
    assert duration != -1  # the deposited recording loads in the audio element
    other = page.evaluate("async (u) => (await fetch(u)).status", f"/assets/{recording.token}/")
    assert other == 403  # without the participant's grant
    assert Asset.objects.filter(kind="recording").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_page_waits_for_an_asset_that_is_not_deposited_yet(live_server, browser_page,
                                                             use_experiment, asset_dirs):
    try:
        use_experiment(EXPERIMENTS / "local")
        assets_register_declared(experiment=get_experiment())  # registered, not yet deposited
        page = browser_page
        page.goto(f"{live_server.url}/start/?worker_id=waiting")
        page.wait_for_selector("p.asset-wait", timeout=15000)
        assert "Preparing" in page.inner_text("p.asset-wait")
        tone = Asset.objects.get(kind="cached_function")
        assert asset_deposit(asset_id=tone.pk).status == "deposited"
        page.wait_for_selector("p.asset-wait", state="detached", timeout=15000)
        ready = page.evaluate("""() => new Promise((resolve) => {
            const audio = document.querySelector('audio');
            if (audio.readyState >= 1) return resolve(true);
            audio.addEventListener('loadedmetadata', () => resolve(true));
            audio.addEventListener('error', () => resolve(false));
        })""")
        assert ready
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_static_audio_demo_in_chromium(live_server, browser_page, use_experiment, asset_dirs, settings):
    """The demo end to end: a node's synthesised stimulus, a recorded imitation on the trial,
    and the feedback page playing that recording."""
    from experiments.deployment import deployment_create

    from .conftest import ROOT

    try:
        settings.ASSET_DEPLOY_MODE = "local"
        use_experiment(ROOT / "demos" / "static_audio")
        deployment_create(experiment=get_experiment())
        page = browser_page
        page.goto(f"{live_server.url}/start/?worker_id=demo-chromium")
        page.wait_for_selector('form[data-label="welcome"]')
        page.click("#next")
        page.wait_for_selector('form[data-label="imitation"]')
        stimulus = page.get_attribute("audio", "src")
        assert page.evaluate("async (u) => (await fetch(u)).headers.get('content-type')", stimulus) == "audio/wav"
        page.click("#record-start")
        page.wait_for_selector("#next:not([disabled])", timeout=15000)
        page.click("#next")
        page.wait_for_selector('form[data-label="feedback_page"]', timeout=15000)
        participant = Participant.objects.get(worker_id="demo-chromium")
        trial = participant.trials.get()
        recording = trial.assets["imitation"]
        assert recording.kind == "recording" and recording.content_type == "audio/webm"
        assert trial.assets["stimulus"].url == stimulus
        # (personal URLs carry a grant signed with a timestamp: compare the part before it)
        assert page.get_attribute("audio", "src").split("?")[0] == recording.url.split("?")[0]
        playable = page.evaluate("""() => new Promise((resolve) => {
            const audio = document.querySelector('audio');
            if (audio.readyState >= 1) return resolve(true);
            audio.addEventListener('loadedmetadata', () => resolve(true));
            audio.addEventListener('error', () => resolve(false));
        })""")
        assert playable
    finally:
        connections.close_all()
