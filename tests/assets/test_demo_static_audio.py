"""demos/static_audio: deploy creates the nodes and synthesises their stimuli; bots imitate them
(uploading their media through the service layer) and hear their recording back."""

import wave

import pytest

from assets.models import Asset
from assets.services import asset_deposit
from experiments import services
from experiments.deployment import deployment_create
from experiments.loading import get_experiment
from experiments.models import Participant
from experiments.selectors import current_page

from .conftest import ROOT

DEMO = ROOT / "demos" / "static_audio"


@pytest.mark.django_db(transaction=True)
def test_static_audio_demo_with_bots(use_experiment, asset_dirs, client, settings):
    settings.ASSET_DEPLOY_MODE = "local"
    use_experiment(DEMO)
    experiment = get_experiment()
    report = deployment_create(experiment=experiment).step_reports[0]
    assert report.cached == 9 and report.uploaded == 9 and not report.failed
    stimuli = Asset.objects.filter(kind="cached_function", status="deposited")
    assert stimuli.count() == 9
    with wave.open(str(asset_dirs / "storage" / stimuli[0].storage_key)) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx(5 * 0.4, abs=0.01)

    for n in range(experiment.test_n_bots):
        bot = services.participant_create(worker_id=f"bot-{n}")
        Participant.objects.filter(pk=bot.pk).update(is_bot=True)
        bot.refresh_from_db()
        feedback_pages = 0
        while not current_page(bot).terminal:
            page = current_page(bot)
            if page.label == "feedback_page":
                feedback_pages += 1
                trial = bot.trials.order_by("-id").first()
                url = page.to_dict()["prompt"]["url"]
                assert url.split("?")[0] == trial.assets["imitation"].url.split("?")[0]  # grants carry a timestamp
                assert b"".join(client.get(url).streaming_content)[:4] == b"RIFF"
                randomised = client.get(trial.assets["randomised"].url)
                assert randomised.status_code == 200 and randomised.content[:4] == b"RIFF"
            if page.label == "imitation":
                assert page.to_dict()["prompt"]["url"] == bot.trials.order_by("-id").first().node.assets["stimulus"].url
            bot = services.response_submit(token=bot.token, page_uuid=bot.page_uuid,
                                           raw_answer=page.get_bot_response({"participant": bot})).participant
        experiment.test_check_bot(bot)
        assert feedback_pages == 3
        recordings = Asset.objects.filter(participant=bot, kind="recording")
        assert recordings.count() == 3 and all(r.personal and r.parent_kind == "trial" for r in recordings)
        trials = list(bot.trials.all())
        assert not any(t.finalized for t in trials)  # each waits for its recording
        assert all(t.vars["awaiting_assets"] and t.answer["id"] == t.assets["imitation"].pk for t in trials)
        for recording in recordings:
            assert asset_deposit(asset_id=recording.pk).status == "deposited"
        assert all(t.finalized for t in bot.trials.all())  # the deposit hook finalized them
    # The bots' identical media is stored once.
    assert len(set(Asset.objects.filter(kind="recording").values_list("storage_key", flat=True))) == 1
