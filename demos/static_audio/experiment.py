"""Static audio: the assets guide's example. Listen to a tone sequence, imitate it, hear yourself.

Stimuli are CachedFunctionAssets (synthesised once at deploy, on the workers, cached across
deployments); each imitation is recorded in the browser with AudioRecordControl and kept as a
personal Recording; the feedback page plays it back; a FastFunctionAsset, randomised per round,
is made on request and never stored. LocalStorage by default; S3 when CHORUS_DEMO_S3_BUCKET is
set (endpoint and credentials from the AWS_* settings).

Interim form: the rounds run in a Module loop. Once StaticTrialMaker lands, the same stimuli
become StaticNode(definition=..., assets={"stimulus": CachedFunctionAsset(...)}) (see README.md).
"""

import os
import random

from experiments.api import *

from .stimuli import synth_stimulus

GRADIENTS = [-100, 0, 100]
STARTS = [-100, 0, 100]
N_ROUNDS = 3

DEFINITIONS = [
    {"frequency_gradient": g, "start_frequency": s, "frequencies": [s + i * g for i in range(5)]}
    for g in GRADIENTS for s in STARTS
]
STIMULI = {
    f"stimulus_{i}": CachedFunctionAsset(function=synth_stimulus, extension=".wav",
                                         arguments={"frequencies": d["frequencies"]})
    for i, d in enumerate(DEFINITIONS)
}


def choose_round(participant):
    """Pick this round's stimulus, and a randomised variant made on request (never stored)."""
    done = participant.var.get("rounds", 0)
    participant.var.rounds = done + 1
    participant.var.stimulus = random.randrange(len(DEFINITIONS))
    definition = dict(DEFINITIONS[participant.var.stimulus])
    start = random.uniform(-100, 100)
    definition["frequencies"] = [start + i * definition["frequency_gradient"] for i in range(5)]
    participant.add_assets({"variant": FastFunctionAsset(function=synth_stimulus, extension=".wav",
                                                         arguments={"frequencies": definition["frequencies"]})})


def imitation_page(assets, participant):
    return ModularPage(
        "imitation",
        AudioPrompt(assets[f"stimulus_{participant.var.stimulus}"],
                    f"Round {participant.var.rounds} of {N_ROUNDS}: please imitate these tones "
                    f"as closely as possible (hum or sing)."),
        AudioRecordControl(duration=3.0, bot_response_media="example-bier.wav"),
        time_estimate=5,
    )


def feedback_page(participant):
    return ModularPage(
        "feedback",
        AudioPrompt(participant.assets["imitation"],
                    "Listen back to your recording. Did you do a good job?"),
        time_estimate=3,
    )


def variant_page(participant):
    return ModularPage(
        "variant",
        AudioPrompt(participant.assets["variant"], "Here is a randomised variant, made just now."),
        time_estimate=3,
    )


class StaticAudio(Experiment):
    label = "Static audio"
    test_n_bots = 2
    if os.environ.get("CHORUS_DEMO_S3_BUCKET"):
        asset_storage = S3Storage(os.environ["CHORUS_DEMO_S3_BUCKET"], "static_audio")
    else:
        asset_storage = LocalStorage()

    timeline = join(
        InfoPage("In this demo you will hear short tone sequences and imitate them. "
                 "Please allow your browser to use your microphone.", time_estimate=5,
                 label="welcome"),
        Module(
            "static_audio",
            while_loop(
                "rounds",
                lambda participant: participant.var.get("rounds", 0) < N_ROUNDS,
                join(
                    CodeBlock(choose_round),
                    PageMaker(imitation_page, time_estimate=5),
                    PageMaker(feedback_page, time_estimate=3),
                    PageMaker(variant_page, time_estimate=3),
                ),
                expected_repetitions=N_ROUNDS,
            ),
            assets=STIMULI,
        ),
        SuccessfulEndPage(),
    )
