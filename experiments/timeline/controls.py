"""How a participant answers: buttons, text, numbers, sliders, choices.

A control turns the raw JSON the browser sent into an answer (`format_answer`, which raises
AnswerFormatError for malformed input: a 400), then checks it (`validate`, which returns a
message shown on the same page: the participant tries again). Every control has a
`bot_response` (a value or a function of `participant`, `experiment`, `page`) so bots can take
any page.
"""

from collections.abc import Sequence
from typing import Any

from .injection import call_with_args

#: "No bot_response given" (None is a valid response).
UNSET = object()


class AnswerFormatError(ValueError):
    """The submitted value is not even the right shape for this control."""


class Control:
    kind = "none"
    #: The content types of files this control accepts with its answer (recording controls).
    accepts_files: tuple[str, ...] = ()

    def __init__(self, *, bot_response: Any = UNSET) -> None:
        self._bot_response = bot_response

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def format_answer(self, raw: Any) -> Any:
        return raw

    def validate(self, answer: Any) -> str | None:
        return None

    def default_bot_response(self) -> Any:
        return None

    def get_bot_response(self, available: dict[str, Any]) -> Any:
        if self._bot_response is UNSET:
            return self.default_bot_response()
        if callable(self._bot_response):
            return call_with_args(self._bot_response, available)
        return self._bot_response


class NullControl(Control):
    """No answer: the page only needs to be acknowledged."""

    kind = "none"


class NextButton(Control):
    kind = "next"

    def __init__(self, label: str = "Next", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label}


class _ChoiceControl(Control):
    def __init__(self, choices: Sequence[Any], labels: Sequence[str] | None = None,
                 *, arrange_vertically: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not choices:
            raise ValueError(f"{type(self).__name__} needs at least one choice")
        self.choices = list(choices)
        self.labels = [str(x) for x in (labels if labels is not None else choices)]
        if len(self.labels) != len(self.choices):
            raise ValueError(f"{type(self).__name__}: {len(self.choices)} choices but "
                             f"{len(self.labels)} labels")
        self.arrange_vertically = arrange_vertically

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "options": [{"value": c, "label": lab} for c, lab in zip(self.choices, self.labels, strict=True)],
            "arrange_vertically": self.arrange_vertically,
        }

    def _check_choice(self, value: Any) -> Any:
        if value not in self.choices:
            raise AnswerFormatError(f"{value!r} is not one of the choices")
        return value

    def default_bot_response(self) -> Any:
        return self.choices[0]


class PushButtonControl(_ChoiceControl):
    kind = "push_button"

    def format_answer(self, raw: Any) -> Any:
        return self._check_choice(raw)


class RadioButtonControl(_ChoiceControl):
    kind = "radio"

    def format_answer(self, raw: Any) -> Any:
        if raw is None:
            return None
        return self._check_choice(raw)

    def validate(self, answer: Any) -> str | None:
        return "Please choose an option." if answer is None else None


class DropdownControl(RadioButtonControl):
    kind = "dropdown"

    def __init__(self, choices: Sequence[Any], labels: Sequence[str] | None = None,
                 *, default_text: str = "Select an option", **kwargs: Any) -> None:
        super().__init__(choices, labels, **kwargs)
        self.default_text = default_text

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "default_text": self.default_text}


class CheckboxControl(_ChoiceControl):
    kind = "checkbox"

    def __init__(self, choices: Sequence[Any], labels: Sequence[str] | None = None,
                 *, min_selected: int = 0, max_selected: int | None = None, **kwargs: Any) -> None:
        super().__init__(choices, labels, **kwargs)
        self.min_selected, self.max_selected = min_selected, max_selected

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "min_selected": self.min_selected,
                "max_selected": self.max_selected}

    def format_answer(self, raw: Any) -> list[Any]:
        if not isinstance(raw, list):
            raise AnswerFormatError("a checkbox answer is a list of choices")
        chosen = [self._check_choice(v) for v in raw]
        if len(set(map(repr, chosen))) != len(chosen):
            raise AnswerFormatError("a choice appears twice")
        # Keep the order the choices were offered in, whatever order they were ticked.
        return [c for c in self.choices if c in chosen]

    def validate(self, answer: list[Any]) -> str | None:
        if len(answer) < self.min_selected:
            return f"Please select at least {self.min_selected}."
        if self.max_selected is not None and len(answer) > self.max_selected:
            return f"Please select at most {self.max_selected}."
        return None

    def default_bot_response(self) -> list[Any]:
        return self.choices[: max(self.min_selected, 1)]


class TextControl(Control):
    kind = "text"

    def __init__(self, *, one_line: bool = True, width: str = "", min_length: int = 0,
                 max_length: int = 2000, placeholder: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.one_line, self.width, self.placeholder = one_line, width, placeholder
        self.min_length, self.max_length = min_length, max_length

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "one_line": self.one_line, "width": self.width,
                "min_length": self.min_length, "max_length": self.max_length,
                "placeholder": self.placeholder}

    def format_answer(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise AnswerFormatError("a text answer is a string")
        return raw.strip()

    def validate(self, answer: str) -> str | None:
        if len(answer) < self.min_length:
            return f"Please write at least {self.min_length} characters."
        if len(answer) > self.max_length:
            return f"Please write at most {self.max_length} characters."
        return None

    def default_bot_response(self) -> str:
        return "x" * max(self.min_length, 1) if self.min_length else "bot answer"


class NumberControl(Control):
    kind = "number"

    def __init__(self, *, min_value: float | None = None, max_value: float | None = None,
                 integer: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_value, self.max_value, self.integer = min_value, max_value, integer

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "min_value": self.min_value, "max_value": self.max_value,
                "integer": self.integer}

    def format_answer(self, raw: Any) -> float | int | None:
        if raw is None or raw == "":
            return None
        if isinstance(raw, bool):
            raise AnswerFormatError("a number answer is a number")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise AnswerFormatError("a number answer is a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise AnswerFormatError("a number answer must be finite")
        if self.integer:
            return int(value) if value.is_integer() else value
        return value

    def validate(self, answer: float | None) -> str | None:
        if answer is None:
            return "Please enter a number."
        if self.integer and not isinstance(answer, int):
            return "Please enter a whole number."
        if self.min_value is not None and answer < self.min_value:
            return f"Please enter a number of at least {self.min_value}."
        if self.max_value is not None and answer > self.max_value:
            return f"Please enter a number of at most {self.max_value}."
        return None

    def default_bot_response(self) -> float:
        if self.min_value is not None:
            return self.min_value
        return self.max_value if self.max_value is not None else 0


class SliderControl(Control):
    kind = "slider"

    def __init__(self, *, start_value: float, min_value: float, max_value: float,
                 step: float = 1, minimal_interactions: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not min_value <= start_value <= max_value:
            raise ValueError("SliderControl needs min_value <= start_value <= max_value")
        self.start_value, self.min_value, self.max_value = start_value, min_value, max_value
        self.step, self.minimal_interactions = step, minimal_interactions

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start_value": self.start_value, "min_value": self.min_value,
                "max_value": self.max_value, "step": self.step}

    def format_answer(self, raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise AnswerFormatError("a slider answer is a number")
        try:
            value = float(raw)
        except ValueError:
            raise AnswerFormatError("a slider answer is a number") from None
        if not self.min_value <= value <= self.max_value:
            raise AnswerFormatError("the slider answer is outside the slider's range")
        return value

    def default_bot_response(self) -> float:
        return self.start_value
