"""Test experiment on S3 (the endpoint comes from settings: moto's server in tests)."""

import os

from experiments.api import *


class S3Assets(Experiment):
    label = "Assets S3 test"
    asset_storage = S3Storage(os.environ.get("CHORUS_TEST_BUCKET", "chorus-test"), "exp")
    timeline = join(
        ModularPage("imitation", Prompt("Please sing."),
                    AudioRecordControl(duration=1.0, bot_response_media="../local/bot.wav"),
                    time_estimate=3),
        SuccessfulEndPage(),
    )
