"""PsyNet compatibility: class attributes as keyword defaults, and PsyNet names Chorus refuses.

Researchers arrive with PsyNet experiments. Two rules keep a port honest:

- A knob may be given as a keyword or as a class attribute of the researcher's subclass, as in
  PsyNet (`class MyMaker(StaticTrialMaker): performance_threshold = 0.8`); a keyword given in the
  call wins, then the subclass's class attribute, then Chorus's default (`KnobDefaults`).
- A PsyNet hook or attribute that Chorus does not run is refused when the experiment loads, with
  the Chorus way to do it (`refuse_unsupported`), never silently ignored.

No locks, no writes: everything here runs once, at experiment load.
"""

import inspect
import logging
from collections.abc import Mapping
from typing import Any

from .timeline.elements import ExperimentError, Sequence, join


def _chorus_class(cls: type) -> bool:
    module = cls.__module__ or ""
    return module.startswith(("experiments.", "sync.", "assets.", "trials.", "exports.")) or cls is object


def _keyword_names(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                names.add(p.name)
    return names


def researcher_class_attributes(cls: type) -> dict[str, Any]:
    """Plain values (not methods) set on the researcher's own subclasses of a Chorus class."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if _chorus_class(klass):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or inspect.isfunction(value) or isinstance(
                    value, (staticmethod, classmethod, property)):
                continue
            found[name] = value
    return found


class KnobDefaults(type):
    """Metaclass: keyword arguments not given fall back to the subclass's class attributes."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if not _chorus_class(cls):
            attributes = researcher_class_attributes(cls)
            signature = inspect.signature(cls.__init__)
            positional = [p.name for p in signature.parameters.values()
                          if p.kind is p.POSITIONAL_OR_KEYWORD][1:len(args) + 1]
            for name in _keyword_names(cls):
                if name in attributes and name not in kwargs and name not in positional:
                    kwargs[name] = attributes[name]
        return super().__call__(*args, **kwargs)


def refuse_unsupported(cls: type, table: Mapping[str, str], *, what: str) -> None:
    """Raise ExperimentError if the researcher's `cls` defines a PsyNet name listed in `table`
    (name -> the Chorus way); names Chorus's own classes define are not the researcher's."""
    for name, chorus_way in table.items():
        for klass in cls.__mro__:
            if _chorus_class(klass):
                break
            if name in vars(klass):
                raise ExperimentError(
                    f"{klass.__name__}.{name} ({what}) is PsyNet's, and Chorus does not run it: {chorus_way}")


def get_logger() -> logging.Logger:
    """PsyNet's `get_logger()`: the experiment's logger (records go to the process log)."""
    return logging.getLogger("chorus.experiment")


_PRESCREEN = ("Chorus has no prescreening tasks: build the test from pages (AudioPrompt + PushButtonControl) or a "
              "StaticTrialMaker with score_answer and check_performance_at_end=True")
_PARADIGM = ("Chorus has no {name}: subclass ChainTrialMaker, ChainNode (create_definition_from_seed, "
             "summarize_trials) and ChainTrial (show_trial)")

#: PsyNet names `experiments.api` does not have -> the Chorus way (an ImportError says it).
MISSING_PSYNET_NAMES = {
    "MainConsent": "Chorus has no consent module: show your consent text with ModularPage(..., "
                   "PushButtonControl(['I agree']))",
    "Response": "Chorus passes `validate` the answer itself, not a Response: use `answer` where PsyNet used "
                "`response.answer`",
    "db": "Chorus uses Django's ORM: see the query table in docs/porting.md (no db.session.commit(): each "
          "request is one transaction)",
    "wait_while": "use while_loop(label, condition, WaitPage(wait_time), max_loop_time=...)",
    "get_translator": "Chorus does not translate: write the text itself",
    "register_table": "experiment.py cannot add tables: keep extra data in `vars` (participant.var.x, trial.var.x)",
    "SQLBase": "experiment.py cannot add tables: keep extra data in `vars` (participant.var.x, trial.var.x)",
    "HeadphoneTest": _PRESCREEN,
    "VolumeCalibration": _PRESCREEN,
    "AntiphaseHeadphoneTest": _PRESCREEN,
    "HugginsHeadphoneTest": _PRESCREEN,
    "ColorBlindnessTest": _PRESCREEN,
    "GibbsTrialMaker": _PARADIGM.format(name="Gibbs sampling paradigm"),
    "GibbsNode": _PARADIGM.format(name="Gibbs sampling paradigm"),
    "GibbsTrial": _PARADIGM.format(name="Gibbs sampling paradigm"),
    "GibbsNetwork": _PARADIGM.format(name="Gibbs sampling paradigm"),
    "MCMCPTrialMaker": _PARADIGM.format(name="MCMCP paradigm"),
    "MCMCPNode": _PARADIGM.format(name="MCMCP paradigm"),
    "MCMCPTrial": _PARADIGM.format(name="MCMCP paradigm"),
}


def missing_name(module: str, name: str) -> ImportError | AttributeError:
    """The error for `from <module> import <name>` of a name the module lacks."""
    if name in MISSING_PSYNET_NAMES:
        return ImportError(f"{name} is PsyNet's and Chorus has no such name: {MISSING_PSYNET_NAMES[name]} "
                           "(see docs/porting.md)", name=module)
    return AttributeError(f"module {module!r} has no attribute {name!r}")


#: PsyNet experiment attributes Chorus does not read -> the Chorus way.
UNSUPPORTED_EXPERIMENT_NAMES = {
    "config": "Chorus reads its settings from environment variables (README: Settings), not Experiment.config "
              "or config.txt; remove it",
    "initial_recruitment_size": "Chorus does not recruit: send participants the /start/ link (with "
                                "?worker_id=...) from your recruiter; remove it",
    "variables": "keep experiment-wide values as module-level names in experiment.py; remove it",
}


def NoConsent() -> Sequence:  # noqa: N802 - PsyNet's name for a class
    """PsyNet's `NoConsent()`: no consent page (an empty part of the timeline)."""
    return join()
