"""demos/static_audio: deploy synthesises the stimuli; bots imitate them (uploading their media
through the service layer), hear their recording back, and get a randomised variant."""

import wave

import pytest

from assets.models import Asset
from assets.services import asset_deposit, assets_deploy
from experiments import services
from experiments.loading import get_experiment
from experiments.models import Participant
from experiments.selectors import current_page

from .conftest import ROOT

DEMO = ROOT / "demos" / "static_audio"


@pytest.mark.django_db(transaction=True)
def test_static_audio_demo_with_bots(use_experiment, asset_dirs, client):
    use_experiment(DEMO)
    experiment = get_experiment()
    report = assets_deploy(experiment=experiment, mode="local")
    assert report.cached == 9 and report.uploaded == 9 and not report.failed
    stimulus = Asset.objects.get(key_within_experiment="module/static_audio/stimulus_8")
    with wave.open(str(asset_dirs / "storage" / stimulus.storage_key)) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx(5 * 0.4, abs=0.01)

    for n in range(experiment.test_n_bots):
        bot = services.participant_create(worker_id=f"bot-{n}")
        Participant.objects.filter(pk=bot.pk).update(is_bot=True)
        bot.refresh_from_db()
        seen = []
        while not current_page(bot).terminal:
            page = current_page(bot)
            seen.append(page.label)
            if page.label == "feedback":
                url = page.to_dict()["prompt"]["url"]
                assert url == bot.assets["imitation"].url
                assert b"".join(client.get(url).streaming_content)[:4] == b"RIFF"
            if page.label == "variant":
                variant = client.get(page.to_dict()["prompt"]["url"])
                assert variant.status_code == 200 and variant.content[:4] == b"RIFF"
                assert variant["Cache-Control"] == "private, max-age=60"
            bot = services.response_submit(token=bot.token, page_uuid=bot.page_uuid,
                                           raw_answer=page.get_bot_response({"participant": bot})).participant
        experiment.test_check_bot(bot)
        assert seen == ["welcome"] + ["imitation", "feedback", "variant"] * 3
        recordings = Asset.objects.filter(participant=bot, kind="recording")
        assert recordings.count() == 3 and all(r.personal for r in recordings)
        for recording in recordings:
            assert asset_deposit(asset_id=recording.pk).status == "deposited"
    assert Asset.objects.filter(kind="recording", status="deposited").count() == 2 * 3
    # Identical bot media from every round is stored once.
    assert len(set(Asset.objects.filter(kind="recording").values_list("storage_key", flat=True))) == 1
