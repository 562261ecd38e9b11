"""Test experiment: module assets, a recording page, feedback playing the recording (LocalStorage)."""

from experiments.api import *

from .stimuli import synth_tone


def feedback(participant):
    return ModularPage("feedback", AudioPrompt(participant.assets["imitation"], "Your recording."),
                       time_estimate=2)


class LocalAssets(Experiment):
    label = "Assets local test"
    asset_storage = LocalStorage()
    timeline = join(
        Module(
            "intro",
            PageMaker(lambda assets: ModularPage(
                "listen", AudioPrompt(assets["tone"], "Listen."), time_estimate=2), time_estimate=2),
            assets={
                "logo": CachedAsset("logo.png", key_within_experiment="logo"),
                "tone": CachedFunctionAsset(function=synth_tone, extension=".wav",
                                            arguments={"frequency": 440}),
            },
        ),
        ModularPage("imitation", Prompt("Please sing."),
                    AudioRecordControl(duration=1.0, bot_response_media="bot.wav"), time_estimate=3),
        PageMaker(feedback, time_estimate=2),
        SuccessfulEndPage(),
    )
