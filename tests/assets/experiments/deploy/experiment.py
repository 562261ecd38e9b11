"""Test experiment for deploys: cached function assets, identical files, a folder (S3)."""

import os

from experiments.api import *

from .stimuli import synth_tone

N_TONES = int(os.environ.get("CHORUS_TEST_TONES", "5"))


class DeployAssets(Experiment):
    label = "Assets deploy test"
    asset_storage = S3Storage(os.environ.get("CHORUS_TEST_BUCKET", "chorus-test"), "deploy")
    timeline = join(
        Module(
            "stimuli",
            InfoPage("Hello", time_estimate=1),
            assets={
                **{f"tone{i}": CachedFunctionAsset(function=synth_tone, extension=".wav",
                                                   arguments={"frequency": 200 + 10 * i})
                   for i in range(N_TONES)},
                "logo": CachedAsset("../local/logo.png"),
                "logo_copy": CachedAsset("logo_copy.png"),
                "stimset": CachedAsset("stimset"),
            },
        ),
        SuccessfulEndPage(),
    )
