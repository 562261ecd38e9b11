"""TrialMaker: the timeline element that gives a participant trials, one after another.

A trial maker is a Module whose body compiles into the flat program like any other element:

    enter ─ start ─┬─ loop while a trial (or a wait) is prepared ──────────────────────┐
                   │   trial: show_trial pages → store the answer → [show_feedback]    │
                   │   wait:  WaitPage, then try again (until max_wait_time)           │
                   └─ end: performance check (fail below the threshold) ─ exit ────────┘

Per-participant bookkeeping (current trial, counts, block order) lives in
`participant.timeline_state["trial_makers"][id]`, saved with the participant in the submit
transaction. Allocation, finalizing and failing are services (`trials.services`);
subclasses (`StaticTrialMaker`, `ChainTrialMaker`) decide which node a participant gets.
"""

import time
from typing import Any, ClassVar

from experiments.compat import KnobDefaults, refuse_unsupported
from experiments.timeline.elements import (
    CodeBlock,
    ExperimentError,
    Module,
    PageMaker,
    conditional,
    join,
    switch,
    while_loop,
)
from experiments.timeline.injection import call_with_args
from experiments.timeline.pages import InfoPage, WaitPage

from . import selectors, services, synced
from .models import Trial
from .services import WAIT

_SAME_AS_EXPECTED = object()
RECRUIT_MODES = ("n_participants", "n_trials")

_ALLOCATION = ("Chorus picks the node or chain in one SQL statement (the least-used node; the shortest chain "
               "with balance_across_chains=True). Steer it with blocks (StaticNode(block=...), "
               "max_trials_per_block, choose_block_order), start_nodes, or allow_revisiting_networks; remove "
               "this method")
_NO_TRIAL_JOBS = ("Chorus runs no background job per trial: score the answer in score_answer (it runs in the "
                  "submit, before show_feedback), make files with a FastFunctionAsset or CachedFunctionAsset, and "
                  "put per-node work in the node's async_on_deploy; remove it")
#: PsyNet trial-maker hooks and attributes Chorus does not run -> the Chorus way.
UNSUPPORTED_MAKER_NAMES = {
    "compute_performance_reward": (
        "Chorus pays no performance reward. Compute it in performance_check and keep it on the participant "
        "(participant.var.performance_reward = ...): it is exported with the participant"),
    "compute_bonus": "Chorus pays no bonus; keep it in participant.var from performance_check",
    "prioritize_networks": _ALLOCATION,
    "custom_network_filter": _ALLOCATION,
    "custom_node_filter": _ALLOCATION,
    "async_timeout_sec": _NO_TRIAL_JOBS,
    "check_timeout_interval_sec": _NO_TRIAL_JOBS,
}
#: PsyNet trial hooks and attributes Chorus does not run -> the Chorus way.
UNSUPPORTED_TRIAL_NAMES = {
    "async_post_trial": _NO_TRIAL_JOBS,
    "run_async_post_trial": _NO_TRIAL_JOBS,
    "wait_for_feedback": "Chorus scores the answer in the submit, so feedback never waits; remove it",
    "make_definition": ("Chorus starts a trial's definition from its node's: override "
                        "finalize_definition(self, definition, experiment, participant) and return the new one"),
    "compute_bonus": "Chorus pays no bonus; keep it in participant.var (e.g. in score_answer's trial maker check)",
}


def current_trial_arg(runner) -> Trial | None:
    """The `trial` argument researcher functions may ask for: the participant's current trial."""
    maker = runner.program.modules.get(runner.current_module_id())
    return maker.current_trial(runner.participant) if isinstance(maker, TrialMaker) else None


class TrialMaker(Module, metaclass=KnobDefaults):
    """Base of trial makers. Knobs common to all of them:

    - `id_`: unique name (also the Module id; trial rows carry it as `trial_maker_id`).
    - `trial_class`: the Trial subclass whose `show_trial` builds the pages.
    - `expected_trials_per_participant`: for progress and time estimates (repeat trials extra).
    - `max_trials_per_participant`: stop after this many (default: the expected number; None:
      until no node is left).
    - `n_repeat_trials`: after the main trials, repeat this many of the participant's trials
      (same definition, `is_repeat_trial=True`, not counted for balance or chains).
    - `check_performance_at_end` + `performance_threshold`: after the trials, `performance_check`
      (default: mean `trial.score`) below the threshold fails the participant; with
      `fail_trials_on_participant_performance_check` their trials here fail too.
      `check_performance_every_trial`: the same check after each trial (fails at the first miss).
      `give_end_feedback_passed`: after a passed end check, show `get_end_feedback_passed_page(score)`
      (`end_performance_check_waits` is accepted: Chorus scores in the submit, nothing to wait for).
    - Every keyword may also be a class attribute of a subclass (PsyNet's style); a keyword given
      in the call wins (see `experiments.compat`).
    - `score_answer`: optional function (arguments by name: answer, definition, trial,
      participant, experiment) used instead of `trial_class.score_answer`.
    - `propagate_failure`: when a participant fails, their finalized trials here fail too (and,
      in chains, the nodes grown from them). Unfinished trials always fail.
    - `recruit_mode` ("n_participants" with `target_n_participants`, or "n_trials"): when this
      maker has enough data (see `is_complete()`).
    - `wait_for_trials` / `max_wait_time` / `wait_page_time`: when trials are not available yet
      (a node still deploying, a chain busy), show a wait page and retry for up to max_wait_time s.
    - `sync_group_type`: the members of the participant's sync group of this type take their
      trials together, on the node the group's leader is allocated (see `trials.synced`);
      `on_round_complete` (arguments by name: group, participants, trials, experiment) runs once
      per round when every member has answered; `sync_max_wait_time` / `sync_on_timeout`
      ("fail" or "kick") are the barriers' `max_wait_time` / `on_timeout`.
    """

    propagate_failure_default: ClassVar[bool] = False
    is_chain: ClassVar[bool] = False
    trial_base: ClassVar[type[Trial]] = Trial

    def __init__(self, id_: str, trial_class: type[Trial], expected_trials_per_participant: int, *,
                 max_trials_per_participant: Any = _SAME_AS_EXPECTED,
                 n_repeat_trials: int = 0,
                 check_performance_at_end: bool = False,
                 check_performance_every_trial: bool = False,
                 performance_threshold: float = 0.0,
                 performance_check_type: str = "score",
                 give_end_feedback_passed: bool = False,
                 end_performance_check_waits: bool = True,
                 fail_trials_on_participant_performance_check: bool = True,
                 score_answer: Any = None,
                 propagate_failure: bool | None = None,
                 recruit_mode: str | None = None,
                 target_n_participants: int | None = None,
                 wait_for_trials: bool = True,
                 max_wait_time: float = 60.0,
                 wait_page_time: float = 2.0,
                 sync_group_type: str | None = None,
                 on_round_complete: Any = None,
                 sync_max_wait_time: float | None = 60.0,
                 sync_on_timeout: str = "fail") -> None:
        if not id_ or not isinstance(id_, str):
            raise ExperimentError("a trial maker needs an id_ (a non-empty string)")
        if not isinstance(trial_class, type) or not issubclass(trial_class, self.trial_base):
            raise ExperimentError(f"trial maker '{id_}': trial_class must be a subclass of {self.trial_base.__name__}")
        if trial_class.time_estimate is None:
            raise ExperimentError(f"{trial_class.__name__} has no time_estimate (seconds per trial, feedback included)")
        if not isinstance(expected_trials_per_participant, int) or expected_trials_per_participant < 0:
            raise ExperimentError(f"trial maker '{id_}': expected_trials_per_participant must be an int >= 0")
        if max_trials_per_participant is _SAME_AS_EXPECTED:
            max_trials_per_participant = expected_trials_per_participant
        if max_trials_per_participant is not None and (
                not isinstance(max_trials_per_participant, int) or max_trials_per_participant < 0):
            raise ExperimentError(f"trial maker '{id_}': max_trials_per_participant must be an int >= 0 or None")
        if not isinstance(n_repeat_trials, int) or n_repeat_trials < 0:
            raise ExperimentError(f"trial maker '{id_}': n_repeat_trials must be an int >= 0")
        if recruit_mode is not None and recruit_mode not in RECRUIT_MODES:
            raise ExperimentError(f"trial maker '{id_}': recruit_mode must be one of {RECRUIT_MODES}")
        if recruit_mode == "n_participants" and not target_n_participants:
            raise ExperimentError(f"trial maker '{id_}': recruit_mode='n_participants' needs target_n_participants")
        if performance_check_type != "score":
            raise ExperimentError(f"trial maker '{id_}': performance_check_type={performance_check_type!r} is not "
                                  "supported; Chorus checks scores: override performance_check(experiment, "
                                  "participant, participant_trials) to compute it another way")
        refuse_unsupported(type(self), UNSUPPORTED_MAKER_NAMES, what="a trial maker hook")
        refuse_unsupported(trial_class, UNSUPPORTED_TRIAL_NAMES, what="a trial hook")
        if score_answer is not None and not callable(score_answer):
            raise ExperimentError(f"trial maker '{id_}': score_answer must be a function")
        self.trial_class = trial_class
        self.expected_trials_per_participant = expected_trials_per_participant
        self.max_trials_per_participant = max_trials_per_participant
        self.n_repeat_trials = n_repeat_trials
        self.check_performance_at_end = check_performance_at_end
        self.check_performance_every_trial = check_performance_every_trial
        self.give_end_feedback_passed = give_end_feedback_passed
        self.end_performance_check_waits = end_performance_check_waits
        self.performance_threshold = performance_threshold
        self.fail_trials_on_participant_performance_check = fail_trials_on_participant_performance_check
        self.score_function = score_answer
        self.propagate_failure = self.propagate_failure_default if propagate_failure is None else propagate_failure
        self.recruit_mode = recruit_mode
        self.target_n_participants = target_n_participants
        self.wait_for_trials = wait_for_trials
        self.max_wait_time = max_wait_time
        self.wait_page_time = wait_page_time
        self.id = id_
        self.sync_group_type = sync_group_type
        self.round_function = on_round_complete
        self.sync_max_wait_time = sync_max_wait_time
        self.sync_on_timeout = sync_on_timeout
        synced.check_options(self, sync_group_type=sync_group_type, on_round_complete=on_round_complete,
                             sync_on_timeout=sync_on_timeout)
        super().__init__(id_, self._build_body())

    # --- compiling ------------------------------------------------------------------------------

    def _build_body(self):
        if self.sync_group_type is not None:
            return synced.build_body(self, *synced.trial_pages_for(self))
        label = self.id
        trial_pages: list[Any] = [
            PageMaker(self.step_show_trial, time_estimate=self.trial_class.time_estimate, label=f"{label}:trial"),
            CodeBlock(self.step_finish_trial, label=f"{label}:finish"),
        ]
        if self.trial_class.show_feedback is not Trial.show_feedback:
            trial_pages.append(conditional(
                f"{label}:feedback", self.step_has_feedback,
                PageMaker(self.step_show_feedback, time_estimate=0, label=f"{label}:feedback_page"),
            ))
        return join(
            CodeBlock(self.step_start, label=f"{label}:start"),
            while_loop(
                f"{label}:trials", self.step_prepare_next,
                switch(f"{label}:mode", self.step_mode, {
                    "trial": trial_pages,
                    WAIT: WaitPage(self.wait_page_time, "Please wait a moment: the next trial is being prepared.",
                                   label=f"{label}:wait", time_estimate=0),
                }),
                expected_repetitions=self.expected_trials_per_participant + self.n_repeat_trials,
            ),
            CodeBlock(self.step_end, label=f"{label}:end"),
            conditional(f"{label}:end_feedback", self._has_end_feedback,
                        PageMaker(self._end_feedback_page, time_estimate=0, label=f"{label}:end_feedback_page")),
        )

    def compile(self, b) -> None:
        b.arg_providers.setdefault("trial", current_trial_arg)
        super().compile(b)

    def estimate(self) -> float:
        n = (self.expected_trials_per_participant + self.n_repeat_trials)
        return float(n * (self.trial_class.time_estimate or 0))

    # --- per-participant state ------------------------------------------------------------------

    def state(self, participant) -> dict[str, Any]:
        makers = participant.timeline_state.setdefault("trial_makers", {})
        return makers.setdefault(self.id, {
            "trial": None, "mode": None, "phase": "main", "number": 0, "n_trials": 0, "n_repeat": 0,
            "waiting_since": None,
        })

    def current_trial(self, participant) -> Trial | None:
        """The participant's current trial in this maker (loaded once per request)."""
        trial_id = self.state(participant).get("trial")
        if trial_id is None:
            return None
        cache = participant.extra.setdefault("trials", {})
        if trial_id not in cache:
            trial = selectors.trial_for_page(trial_id=trial_id)
            if trial is None:
                return None
            trial.participant = participant
            cache[trial_id] = trial
        return cache[trial_id]

    def take_trial(self, participant, state: dict[str, Any], trial: Trial) -> None:
        state["trial"] = trial.pk
        state["number"] = trial.number
        state["n_repeat" if trial.is_repeat_trial else "n_trials"] += 1
        trial.participant = participant
        participant.extra.setdefault("trials", {})[trial.pk] = trial

    # --- the steps the body runs (public: synced makers compose them into their own body) -------

    def step_start(self, participant, experiment) -> None:
        state = self.state(participant)
        state.update(trial=None, mode=None, waiting_since=None)

    def step_prepare_next(self, participant, experiment) -> bool:
        state = self.state(participant)
        state["trial"] = None
        state["mode"] = None if participant.failed else self.step_allocate(participant, experiment, state)
        return state["mode"] is not None

    def step_allocate(self, participant, experiment, state: dict[str, Any]) -> str | None:
        if state["phase"] == "main":
            cap = self.max_trials_per_participant
            if cap is None or state["n_trials"] < cap:
                result = self.prepare_trial(experiment=experiment, participant=participant, state=state,
                                            number=state["number"] + 1)
                if isinstance(result, Trial):
                    state["waiting_since"] = None
                    self.take_trial(participant, state, result)
                    return "trial"
                if result == WAIT and self.wait_for_trials:
                    since = state["waiting_since"] = state["waiting_since"] or time.time()
                    if time.time() - since < self.max_wait_time:
                        return WAIT
            state.update(phase="repeat", waiting_since=None)
        if state["phase"] == "repeat":
            if state["n_repeat"] < self.n_repeat_trials:
                trial = services.repeat_trial_create(maker=self, participant=participant, experiment=experiment,
                                                     number=state["number"] + 1)
                if trial is not None:
                    self.take_trial(participant, state, trial)
                    return "trial"
            state["phase"] = "done"
        return None

    def step_mode(self, participant) -> str | None:
        return self.state(participant)["mode"]

    def step_show_trial(self, participant, experiment):
        trial = self.current_trial(participant)
        if trial is None:
            raise ExperimentError(f"trial maker '{self.id}': no current trial to show")
        return trial.show_trial(experiment=experiment, participant=participant)

    def step_finish_trial(self, participant, experiment) -> None:
        trial = self.current_trial(participant)
        if trial is not None and not trial.finalized:
            services.trial_finalize(maker=self, trial=trial, participant=participant, experiment=experiment,
                                    answer=participant.answer)
            if self.check_performance_every_trial and not participant.failed:
                self._check_performance(participant, experiment)

    def step_has_feedback(self, participant, experiment) -> bool:
        trial = self.current_trial(participant)
        if trial is None:
            return False
        gives_feedback = getattr(trial, "gives_feedback", None)  # PsyNet's switch, when defined
        if gives_feedback is not None and not gives_feedback(experiment=experiment, participant=participant):
            return False
        return trial.show_feedback(experiment=experiment, participant=participant) is not None

    def step_show_feedback(self, participant, experiment):
        return self.current_trial(participant).show_feedback(experiment=experiment, participant=participant)

    def step_end(self, participant, experiment) -> None:
        state = self.state(participant)
        state.update(trial=None, mode=None, phase="done")
        if self.check_performance_at_end and not participant.failed:
            self._check_performance(participant, experiment)

    def _check_performance(self, participant, experiment) -> None:
        trials = selectors.participant_trials(trial_maker_id=self.id, participant_id=participant.pk)
        result = self.performance_check(experiment=experiment, participant=participant, participant_trials=trials)
        if not isinstance(result, dict) or "passed" not in result:
            raise ExperimentError(f"{type(self).__name__}.performance_check must return {{'score': .., 'passed': ..}}")
        participant.vars.setdefault("performance_check", {})[self.id] = {
            "score": result.get("score"), "passed": bool(result["passed"]),
        }
        if not result["passed"]:
            if self.fail_trials_on_participant_performance_check:
                services.participant_trials_fail(maker=self, participant=participant,
                                                 reason="participant failed the performance check",
                                                 include_finalized=True)
            participant.fail(f"performance check failed in '{self.id}'", tags=["performance_check", self.id])

    def _has_end_feedback(self, participant) -> bool:
        result = participant.vars.get("performance_check", {}).get(self.id)
        return bool(self.give_end_feedback_passed and self.check_performance_at_end and result and result["passed"]
                    and not participant.failed)

    def _end_feedback_page(self, participant, experiment):
        score = participant.vars["performance_check"][self.id]["score"]
        return call_with_args(self.get_end_feedback_passed_page, {
            "score": score, "participant": participant, "experiment": experiment})

    # --- hooks for subclasses and researchers ---------------------------------------------------

    def get_end_feedback_passed_page(self, score):
        """The page shown after a passed end performance check (with `give_end_feedback_passed`)."""
        shown = "no score" if score is None else f"{score:.2f}" if isinstance(score, float) else str(score)
        return InfoPage(f"You finished this part. Your performance score was {shown}.", time_estimate=5,
                        label=f"{self.id}:end_feedback")

    def prepare_trial(self, *, experiment, participant, state: dict[str, Any], number: int) -> Trial | str | None:
        """Create the participant's next trial (a Trial), say WAIT, or None when there is none."""
        raise NotImplementedError

    def score(self, *, trial: Trial, answer: Any, participant, experiment) -> float | None:
        """`trial.score`: the maker's `score_answer` function if given, else the trial's method."""
        if self.score_function is not None:
            return call_with_args(self.score_function, {
                "answer": answer, "definition": trial.definition, "trial": trial,
                "participant": participant, "experiment": experiment,
            })
        return trial.score_answer(answer, trial.definition)

    def performance_check(self, experiment, participant, participant_trials: list[Trial]) -> dict[str, Any]:
        """Default: the mean score of the participant's finalized trials (None scores ignored)
        against `performance_threshold`. No scores at all passes."""
        scores = [t.score for t in participant_trials if t.score is not None]
        score = sum(scores) / len(scores) if scores else None
        return {"score": score, "passed": score is None or score >= self.performance_threshold}

    def on_round_complete(self, *, group, participants: list, trials: dict[int, Trial], experiment) -> None:
        """Synced makers: once per group and round, when every active member has answered
        (`trials`: participant id -> that member's trial of the round). Default: the maker's
        `on_round_complete` function. Changes to `participant.var` and `group.var` are kept, and
        so is a `trial.score` set here."""
        if self.round_function is not None:
            synced.call_round_hook(self.round_function, group=group, participants=participants, trials=trials,
                                   experiment=experiment, maker=self)

    def on_trial_finalized(self, *, trial: Trial, participant, experiment) -> None:
        """Called in the submit transaction once a trial has its answer (chains grow here)."""

    def on_participant_failed(self, *, participant, experiment) -> None:
        services.participant_trials_fail(maker=self, participant=participant, reason="participant failed",
                                         include_finalized=self.propagate_failure)
        state = participant.timeline_state.get("trial_makers", {}).get(self.id)
        if state is not None:
            state.update(trial=None, mode=None)

    # --- recruitment ----------------------------------------------------------------------------

    def progress(self) -> dict[str, Any]:
        """Counts for dashboards and recruiters (see `selectors.trial_maker_progress`)."""
        return selectors.trial_maker_progress(maker=self)

    def recruitment_target_met(self, progress: dict[str, Any]) -> dict[str, Any]:
        """Given the counts of `progress()`, whether `recruit_mode`'s target is met."""
        if self.recruit_mode == "n_participants":
            return {"target": self.target_n_participants,
                    "complete": progress["n_participants_finished"] >= self.target_n_participants}
        return {"complete": False}

    def is_complete(self) -> bool:
        """True once `recruit_mode`'s target is met (False when no recruit_mode is set)."""
        return bool(self.progress()["complete"])
