"""Test experiment whose storage is a custom back-end (JournalStorage)."""

from experiments.api import *

from .storage import JournalStorage


class JournalAssets(Experiment):
    label = "Assets journal test"
    asset_storage = JournalStorage()
    timeline = join(
        ModularPage("imitation", Prompt("Please sing."),
                    AudioRecordControl(duration=1.0, bot_response_media="../local/bot.wav"),
                    time_estimate=3),
        SuccessfulEndPage(),
    )
