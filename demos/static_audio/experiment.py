"""Static audio: the assets guide's example. Listen to a tone sequence, imitate it, hear yourself.

Nine nodes, each with a stimulus made by a CachedFunctionAsset (synthesised once at deploy, on
the workers, and cached across deployments); each trial randomises its start frequency in
finalize_definition and adds a FastFunctionAsset (made on request, never stored); the imitation
is recorded in the browser with AudioRecordControl (a personal Recording linked to the trial as
"imitation"); the feedback page plays it back, waiting for it if it is not stored yet.
LocalStorage by default; S3 when CHORUS_DEMO_S3_BUCKET is set (endpoint and credentials from
the AWS_* settings).
"""

import os
import random

from experiments.api import *

from .stimuli import synth_stimulus

nodes = [
    StaticNode(
        definition={
            "frequency_gradient": frequency_gradient,
            "start_frequency": start_frequency,
            "frequencies": [start_frequency + i * frequency_gradient for i in range(5)],
        },
        assets={"stimulus": CachedFunctionAsset(function=synth_stimulus, extension=".wav")},
    )
    for frequency_gradient in [-100, 0, 100]
    for start_frequency in [-100, 0, 100]
]


class CustomTrial(StaticTrial):
    _time_trial = 3
    _time_feedback = 2
    time_estimate = _time_trial + _time_feedback

    def finalize_definition(self, definition, experiment, participant):
        definition["start_frequency"] = random.uniform(-100, 100)
        definition["frequencies"] = [
            definition["start_frequency"] + i * definition["frequency_gradient"] for i in range(5)
        ]
        self.add_assets({"randomised": FastFunctionAsset(function=synth_stimulus, extension=".wav")})
        return definition

    def show_trial(self, experiment, participant):
        return ModularPage(
            "imitation",
            AudioPrompt(self.assets["stimulus"],
                        "Please imitate these tones as closely as possible (hum or sing)."),
            AudioRecordControl(duration=3.0, bot_response_media="example-bier.wav"),
            time_estimate=self._time_trial,
        )

    def show_feedback(self, experiment, participant):
        return ModularPage(
            "feedback_page",
            AudioPrompt(self.assets["imitation"], "Listen back to your recording. Did you do a good job?"),
            time_estimate=self._time_feedback,
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
        StaticTrialMaker(
            id_="static_audio",
            trial_class=CustomTrial,
            nodes=nodes,
            expected_trials_per_participant=3,
            target_n_participants=3,
            recruit_mode="n_participants",
        ),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot):
        super().test_check_bot(bot)
        trials = bot.trials.filter(trial_maker_id="static_audio")
        assert trials.count() == 3 and all(t.answer is not None for t in trials)
        for trial in trials:
            # A trial is finalized once its recording is stored (a worker deposits it).
            assert trial.finalized or trial.vars.get("awaiting_assets")
            assert trial.assets["imitation"].kind == "recording"
            assert trial.assets["stimulus"].kind == "cached_function"
            assert trial.assets["randomised"].arguments["frequencies"] == trial.definition["frequencies"]
