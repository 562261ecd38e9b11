"""Pages: what a participant sees and answers. A page is a prompt plus a control."""

from typing import Any

from .controls import UNSET, AnswerFormatError, Control, NextButton, NullControl
from .injection import call_with_args
from .prompts import Prompt


class FailedValidation(str):
    """PsyNet's `return FailedValidation("message")` from `validate`: the message the participant
    sees (Chorus also takes a plain string; None accepts the answer)."""

    def __new__(cls, message: str = "Invalid response, please try again.") -> "FailedValidation":
        return super().__new__(cls, message or "Invalid response, please try again.")

    @property
    def message(self) -> str:
        return str(self)


class Page:
    """A page in the timeline. `time_estimate` (seconds) is required: it feeds progress and pay.

    Subclass and override `validate(answer, participant=..., experiment=...)` to reject an answer
    with a message; the participant stays on the page and sees it.

    PsyNet's options: `save_answer` (True: the answer becomes `participant.answer`; a string: also
    `participant.var.<string>`; False: `participant.answer` is left as it was; the response is
    stored either way) and `bot_response` (a value, or a function of `participant`, `experiment`,
    `page`, `trial`, ...: the raw answer a bot submits, as a browser would; default: the control's).
    """

    #: A terminal page ends the timeline: it is shown but takes no answer.
    terminal = False

    def __init__(self, label: str, prompt: Prompt | str | None = None,
                 control: Control | None = None, *, time_estimate: float | None = None,
                 validate=None, auto_submit_after: float | None = None,
                 title: str = "", save_answer: bool | str = True, bot_response: Any = UNSET) -> None:
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
        if not isinstance(save_answer, bool | str) or save_answer == "":
            raise ValueError(f"page '{label}': save_answer must be True, False or a variable name")
        self.save_answer = save_answer
        self._bot_response = bot_response

    def format_answer(self, raw: Any) -> Any:
        return self.control.format_answer(raw)

    def validate(self, answer: Any, **available: Any) -> str | None:
        """Return a message to reject the answer, or None to accept it."""
        message = self.control.validate(answer)
        if message is None and self._validate is not None:
            message = call_with_args(self._validate, {**available, "answer": answer})
        return message

    def on_reach(self, participant, experiment) -> None:
        """Called once when the participant arrives at this page (end pages use it)."""

    def store_answer(self, participant, answer: Any) -> None:
        """Keep the accepted answer on the participant as `save_answer` says."""
        if self.save_answer is False:
            return
        participant.answer = answer
        if isinstance(self.save_answer, str):
            participant.vars[self.save_answer] = answer

    def get_bot_response(self, available: dict[str, Any]) -> Any:
        if self._bot_response is not UNSET:
            if callable(self._bot_response):
                return call_with_args(self._bot_response, {**available, "page": self})
            return self._bot_response
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
        participant.mark_complete()


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
