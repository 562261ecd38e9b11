"""Pages: what a participant sees and answers. A page is a prompt plus a control."""

from typing import Any

from .controls import AnswerFormatError, Control, NextButton, NullControl
from .prompts import Prompt


class Page:
    """A page in the timeline. `time_estimate` (seconds) is required: it feeds progress and pay.

    Subclass and override `validate(answer, participant=..., experiment=...)` to reject an answer
    with a message; the participant stays on the page and sees it.
    """

    #: A terminal page ends the timeline: it is shown but takes no answer.
    terminal = False

    def __init__(self, label: str, prompt: Prompt | str | None = None,
                 control: Control | None = None, *, time_estimate: float | None = None,
                 validate=None, auto_submit_after: float | None = None,
                 title: str = "") -> None:
        if not label or not isinstance(label, str):
            raise ValueError("a page needs a label (a non-empty string)")
        self.label = label
        # A string or markup (mark_safe, Markup, an object with render()) becomes a text prompt.
        self.prompt = prompt if isinstance(prompt, Prompt) else Prompt(prompt)
        self.control = control or NullControl()
        self.time_estimate = time_estimate
        self._validate = validate
        self.auto_submit_after = auto_submit_after
        self.title = title

    def format_answer(self, raw: Any) -> Any:
        return self.control.format_answer(raw)

    def validate(self, answer: Any, **available: Any) -> str | None:
        """Return a message to reject the answer, or None to accept it."""
        message = self.control.validate(answer)
        if message is None and self._validate is not None:
            from .injection import call_with_args

            message = call_with_args(self._validate, {**available, "answer": answer})
        return message

    def on_reach(self, participant, experiment) -> None:
        """Called once when the participant arrives at this page (end pages use it)."""

    def get_bot_response(self, available: dict[str, Any]) -> Any:
        return self.control.get_bot_response({**available, "page": self})

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "title": self.title,
            "kind": type(self).__name__,
            "prompt": self.prompt.to_dict(),
            "control": self.control.to_dict(),
            "time_estimate": self.time_estimate,
            "terminal": self.terminal,
            "auto_submit_after": self.auto_submit_after,
            # Extra static scripts the page needs (custom controls register themselves in
            # window.ChorusControls before page.js runs).
            "scripts": [*getattr(self.prompt, "scripts", ()), *getattr(self.control, "scripts", ())],
        }


class ModularPage(Page):
    """PsyNet's ModularPage(label, prompt, control, time_estimate)."""

    def __init__(self, label: str, prompt: Prompt | str, control: Control | None = None,
                 time_estimate: float | None = None, **kwargs: Any) -> None:
        super().__init__(label, prompt, control or NextButton(), time_estimate=time_estimate, **kwargs)


class InfoPage(Page):
    """Text and a Next button."""

    def __init__(self, content: Prompt | str, time_estimate: float | None = None,
                 *, label: str = "info", button_label: str = "Next", **kwargs: Any) -> None:
        super().__init__(label, content, NextButton(button_label), time_estimate=time_estimate, **kwargs)


class WaitPage(Page):
    """Waits `wait_time` seconds, then moves on by itself."""

    def __init__(self, wait_time: float, content: str = "Please wait…", *, label: str = "wait",
                 **kwargs: Any) -> None:
        if wait_time < 0:
            raise ValueError("wait_time must be >= 0")
        kwargs.setdefault("time_estimate", wait_time)
        super().__init__(label, content, NullControl(), auto_submit_after=wait_time, **kwargs)
        self.wait_time = wait_time

    def format_answer(self, raw: Any) -> None:
        return None


class EndPage(Page):
    terminal = True

    def __init__(self, content: str, *, label: str, **kwargs: Any) -> None:
        kwargs.setdefault("time_estimate", 0)
        super().__init__(label, content, NullControl(), **kwargs)

    def format_answer(self, raw: Any) -> Any:
        raise AnswerFormatError("the experiment has ended; there is nothing to submit")


class SuccessfulEndPage(EndPage):
    def __init__(self, content: str = "That's the end of the experiment. Thank you for taking part!",
                 **kwargs: Any) -> None:
        kwargs.setdefault("label", "end_successful")
        super().__init__(content, **kwargs)

    def on_reach(self, participant, experiment) -> None:
        from experiments.services import participant_mark_complete

        participant_mark_complete(participant=participant)


class UnsuccessfulEndPage(EndPage):
    """Ends the experiment and fails the participant with `reason` (and `failure_tags`)."""

    def __init__(self, content: str = "Unfortunately the experiment has ended early. "
                 "Thank you for your time.", *, reason: str = "unsuccessful end page",
                 failure_tags: list[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label", "end_unsuccessful")
        super().__init__(content, **kwargs)
        self.reason, self.failure_tags = reason, list(failure_tags or [])

    def on_reach(self, participant, experiment) -> None:
        participant.fail(self.reason, tags=self.failure_tags)
