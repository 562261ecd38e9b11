"""The base class a researcher's `experiment.py` subclasses."""

from collections.abc import Iterator
from typing import Any, ClassVar

from django.apps import apps

from . import hooks
from .compat import UNSUPPORTED_EXPERIMENT_NAMES, refuse_unsupported
from .timeline import Program, compile_timeline
from .timeline.elements import ExperimentError


class DataError(Exception):
    """Raised by get_basic_data for a sheet it does not have (answered with 400)."""


class Experiment:
    """Subclass this once in `experiment.py`: give it a `label` and a `timeline`.

    Hooks: `test_check_bot(bot)` checks each bot after `manage.py test_experiment`, and
    `test_check_bots(bots)` all of them together (group checks); a bot that errored or did not
    complete fails the run whatever these hooks do; `test_serial_run_bots(bots)`, when defined,
    steps the bots page by page (`bot.take_page(response=...)`) before they run to the end;
    `get_basic_data(context=None, **kwargs)` serves summary sheets to admins;
    `on_participant_failed(participant)` is called once when a participant fails.
    """

    label: ClassVar[str] = ""
    timeline: ClassVar[Any] = None
    #: How many bots `manage.py test_experiment` runs through the timeline.
    test_n_bots: ClassVar[int] = 1
    #: Seconds a bot waits on a WaitPage during tests (0: skip waits).
    test_bot_wait: ClassVar[float] = 0.0

    # Set by the loader.
    program: ClassVar[Program]
    path: ClassVar[str] = ""
    source_hash: ClassVar[str] = ""

    @classmethod
    def compile(cls) -> Program:
        if not isinstance(cls.label, str) or not cls.label.strip():
            raise ExperimentError(f"{cls.__name__} has no `label`; give the experiment a name")
        if cls.timeline is None:
            raise ExperimentError(f"{cls.__name__} has no `timeline`")
        refuse_unsupported(cls, UNSUPPORTED_EXPERIMENT_NAMES, what="an experiment attribute")
        program = compile_timeline(cls.timeline)
        for name, provider in hooks.researcher_arguments.items():  # e.g. `assets` (assets app)
            program.arg_providers.setdefault(name, provider)
        cls.program = program
        cls._check_test_options()
        return program

    @classmethod
    def _check_test_options(cls) -> None:
        """Refuse PsyNet test options Chorus cannot honour, rather than ignore them silently."""
        mode = getattr(cls, "test_mode", None)
        if mode is None:
            return
        if mode not in ("serial", "parallel"):
            raise ExperimentError(f"{cls.__name__}.test_mode = {mode!r}: use 'serial' or 'parallel' "
                                  "(or leave it out: Chorus chooses)")
        together = [e for e in cls.program.elements if getattr(e, "bots_run_together", False)]
        if mode == "serial" and together and not callable(getattr(cls, "test_serial_run_bots", None)):
            raise ExperimentError(
                f"{cls.__name__}.test_mode = 'serial' cannot work with sync elements "
                f"({', '.join(sorted({type(e).__name__ for e in together}))}): one bot at a time "
                "would wait forever for its group. Remove test_mode (test_experiment runs such bots "
                "in parallel), or step the bots yourself in test_serial_run_bots(bots) with "
                "bot.take_page(response=...).")

    @property
    def estimated_duration(self) -> float:
        return self.program.estimated_duration

    def test_check_bot(self, bot: Any) -> None:
        """Raise AssertionError if a bot's run is not what the experiment should produce."""
        assert not bot.failed, f"bot failed: {bot.failed_reason}"
        assert bot.complete, "bot did not reach the end of the experiment"

    # test_serial_run_bots(self, bots): define it to step the bots yourself before they run to
    # the end: `bot.take_page()` / `bot.take_page(response=...)` answer one page each and move
    # past the wait pages after it (see experiments.bots.BaseBot.take_page).

    def test_check_bots(self, bots: list[Any]) -> None:
        """Raise AssertionError if the bots together are not what the experiment should produce
        (e.g. group checks). Called once after every bot's `test_check_bot`."""

    def get_basic_data(self, context: Any = None, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
        """Sheets of summary data by name, each a list of rows (dicts)."""
        return {"participants": participants_basic_sheet()}

    def on_participant_failed(self, participant: Any) -> None:
        """Called inside the failing transaction; elements (trial makers) clean up their rows."""
        for element in self.program.elements:
            hook = getattr(element, "on_participant_failed", None)
            if hook is not None:
                hook(participant=participant, experiment=self)


def participants_basic_sheet() -> Iterator[dict[str, Any]]:
    """One row per participant, streamed (exports of big studies keep memory flat). The model is
    looked up by name: this module is the researcher's base class and loads before the models."""
    rows = apps.get_model("experiments", "Participant").objects.order_by("id").values(
        "id", "status", "failed", "complete", "progress", "time_credit", "created_at"
    )
    for p in rows.iterator(chunk_size=2000):
        yield {
            "id": p["id"], "status": p["status"], "failed": p["failed"], "complete": p["complete"],
            "progress": p["progress"], "time_credit": p["time_credit"],
            "created_at": p["created_at"].isoformat(),
        }
