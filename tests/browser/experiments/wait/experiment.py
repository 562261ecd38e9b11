"""A WaitPage between two pages: the browser moves on by itself after wait_time."""

from experiments.api import Experiment, InfoPage, SuccessfulEndPage, WaitPage, join


class WaitTest(Experiment):
    label = "Wait test"
    timeline = join(
        InfoPage("Ready to wait?", time_estimate=2, label="ready"),
        WaitPage(1, "Hold on a moment…", label="pause"),
        SuccessfulEndPage("All done, thank you."),
    )
