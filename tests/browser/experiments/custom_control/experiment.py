"""A researcher's own control: its template, its script registering window.ChorusControls."""

from experiments.api import Experiment, ModularPage, SuccessfulEndPage, join
from experiments.timeline.controls import AnswerFormatError, Control


class ColourControl(Control):
    """Pick a colour swatch, then press Next."""

    kind = "colour"
    template = "custom_control/colour.html"
    scripts = ("custom_control/colour.js",)

    def __init__(self, colours, **kwargs):
        super().__init__(**kwargs)
        self.colours = list(colours)

    def to_dict(self):
        return {"kind": self.kind, "template": self.template, "colours": self.colours}

    def format_answer(self, raw):
        if raw not in self.colours:
            raise AnswerFormatError(f"{raw!r} is not a colour on offer")
        return raw

    def default_bot_response(self):
        return self.colours[0]


class CustomControlTest(Experiment):
    label = "Custom control test"
    timeline = join(
        ModularPage("colour", "Which colour do you prefer?",
                    ColourControl(["red", "green", "blue"]), time_estimate=3),
        SuccessfulEndPage(),
    )
