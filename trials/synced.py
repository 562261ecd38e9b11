"""Trial makers in sync (`sync_group_type`): the members of a sync group take their trials on
the same node, round by round, and a round can be scored once every member has answered.

Each round compiles into:

    lead      the group's leader allocates as usual (a wait page while trials are not ready);
              followers allocate nothing
    allocate  GroupBarrier: once every active member is here, `on_release` reads the trial the
              leader was given and tells every member its node (in `participant.var`: changes
              made in on_release reach waiting members only through participant.var)
    follow    each follower gets a trial on that node; the leader keeps its own
    trial     the trial's pages, then its answer is stored (as for any trial maker)
    round     GroupBarrier: `on_release` calls `maker.on_round_complete(group, participants,
              trials, ...)` with every member's trial of the round (answers and scores)
    feedback  `show_feedback`, which can now show what the round's scoring stored

The barriers are namespaced by the maker's id, so two synced makers never share a waiting
area. The leader's allocation decides everything: how many rounds (the leader's
`max_trials_per_participant`, nodes left for the leader), which node, which block. A follower's
trial on the leader's node counts on that node like any trial — also when the follower had
that node before (then the follower gets it a second time: the group plays the same stimulus).
With a group that stays together through the maker, members have had the same nodes, so
at-most-once holds for everyone.

Special cases: a member with no active group of the type (never grouped, group closed) plays
alone, as its own leader, and no round hook runs for it. If the member who allocated is gone by the time the group meets
(failed), the round is replayed with the group's new leader allocating.
"""

from typing import TYPE_CHECKING, Any

from experiments.timeline.elements import (
    CodeBlock,
    ExperimentError,
    PageMaker,
    conditional,
    join,
    while_loop,
)
from experiments.timeline.injection import call_with_args
from experiments.timeline.pages import WaitPage
from sync.elements import GroupBarrier, namespace_barriers

from . import services
from .models import Trial
from .services import WAIT

if TYPE_CHECKING:
    from .maker import TrialMaker

#: on_timeout policies allowed on the maker's barriers ("proceed" would let a member go on
#: without knowing the group's node).
SYNC_TIMEOUT_POLICIES = ("fail", "kick")
ALLOCATE_BARRIER = "sync_allocate"
ROUND_BARRIER = "sync_round"


def decision_key(maker: "TrialMaker") -> str:
    """participant.vars key that carries the group's allocation from on_release to a member."""
    return f"_sync_trial:{maker.id}"


def check_options(maker: "TrialMaker", *, sync_group_type: Any, on_round_complete: Any,
                  sync_on_timeout: str) -> None:
    prefix = f"trial maker '{maker.id}'"
    if sync_group_type is None:
        if on_round_complete is not None:
            raise ExperimentError(f"{prefix}: on_round_complete needs sync_group_type (a round is a group's)")
        return
    if not isinstance(sync_group_type, str) or not sync_group_type.strip():
        raise ExperimentError(f"{prefix}: sync_group_type must be a non-empty string")
    if on_round_complete is not None and not callable(on_round_complete):
        raise ExperimentError(f"{prefix}: on_round_complete must be a function")
    if sync_on_timeout not in SYNC_TIMEOUT_POLICIES:
        raise ExperimentError(f"{prefix}: sync_on_timeout must be one of {SYNC_TIMEOUT_POLICIES}")
    if maker.n_repeat_trials:
        raise ExperimentError(f"{prefix}: n_repeat_trials is not supported with sync_group_type")


def build_body(maker: "TrialMaker", trial_pages: list[Any], feedback: list[Any]) -> Any:
    """The synced maker's body (see the module docstring)."""
    label = maker.id
    barrier_options = {"group_type": maker.sync_group_type, "max_wait_time": maker.sync_max_wait_time,
                       "on_timeout": maker.sync_on_timeout}
    body = join(
        CodeBlock(maker.step_start, label=f"{label}:start"),
        while_loop(
            f"{label}:rounds", lambda participant: more_rounds(maker, participant),
            join(
                while_loop(f"{label}:lead",
                           lambda participant, experiment: lead(maker, participant, experiment),
                           WaitPage(maker.wait_page_time, "Please wait a moment: the next trial is being prepared.",
                                    label=f"{label}:wait", time_estimate=0),
                           expected_repetitions=0),
                GroupBarrier(ALLOCATE_BARRIER, on_release=lambda group, participants: share(maker, group, participants),
                             **barrier_options),
                CodeBlock(lambda participant, experiment: follow(maker, participant, experiment),
                          label=f"{label}:follow"),
                conditional(f"{label}:has_trial", lambda participant: maker.step_mode(participant) == "trial", [
                    *trial_pages,
                    GroupBarrier(ROUND_BARRIER, on_release=lambda group, participants, experiment:
                                 round_complete(maker, group, participants, experiment), **barrier_options),
                    *feedback,
                ]),
            ),
            expected_repetitions=maker.expected_trials_per_participant,
        ),
        CodeBlock(maker.step_end, label=f"{label}:end"),
    )
    namespace_barriers(body, maker.id)
    return body


def trial_pages_for(maker: "TrialMaker") -> tuple[list[Any], list[Any]]:
    """(trial pages + storing the answer, feedback) as the unsynced body has them."""
    label = maker.id
    pages = [
        PageMaker(maker.step_show_trial, time_estimate=maker.trial_class.time_estimate, label=f"{label}:trial"),
        CodeBlock(maker.step_finish_trial, label=f"{label}:finish"),
    ]
    feedback = []
    if maker.trial_class.show_feedback is not Trial.show_feedback:
        feedback.append(conditional(
            f"{label}:feedback", maker.step_has_feedback,
            PageMaker(maker.step_show_feedback, time_estimate=0, label=f"{label}:feedback_page"),
        ))
    return pages, feedback


# --- the steps ------------------------------------------------------------------------------

def more_rounds(maker: "TrialMaker", participant) -> bool:
    state = maker.state(participant)
    state.update(trial=None, mode=None, led=False)
    return not participant.failed and state["phase"] != "done"


def lead(maker: "TrialMaker", participant, experiment) -> bool:
    """The leader (or a member without a group) allocates; True while it must wait for trials."""
    state = maker.state(participant)
    participant.vars.pop(decision_key(maker), None)
    if participant.failed:
        state["mode"] = None
        return False
    group = participant.active_sync_groups.get(maker.sync_group_type)
    if group is not None and group.leader_id != participant.pk:
        state.update(mode=None, led=False)
        return False
    state["led"] = True
    state["mode"] = maker.step_allocate(participant, experiment, state)
    return state["mode"] == WAIT


def share(maker: "TrialMaker", group, participants: list) -> None:
    """on_release of the allocate barrier: every member learns the leader's node."""
    allocators = [p for p in participants if maker.state(p).get("led")]
    source = next((p for p in allocators if p.pk == group.leader_id), None) or (allocators[0] if allocators else None)
    if source is None:
        decision: dict[str, Any] = {"retry": True}
    else:
        state = maker.state(source)
        trial = maker.current_trial(source) if state.get("mode") == "trial" else None
        if trial is None:
            decision = {"stop": True, "leader": source.pk}
        else:
            decision = {"node": trial.node_id, "network": trial.network_id, "trial": trial.pk, "leader": source.pk}
    for participant in participants:
        participant.vars[decision_key(maker)] = dict(decision)


def follow(maker: "TrialMaker", participant, experiment) -> None:
    """After the allocate barrier: take a trial on the group's node (or stop, or replay)."""
    state = maker.state(participant)
    decision = participant.vars.pop(decision_key(maker), None)
    mine = maker.current_trial(participant) if state.get("mode") == "trial" else None
    if participant.failed:
        state["mode"] = None
        return
    if decision is None:
        # Released without the group (none of this type, or it was closed): alone. A leader
        # keeps its trial; anyone else leads themselves in the next pass.
        state["mode"] = "trial" if mine is not None else None
        return
    if mine is not None and mine.node_id == decision.get("node"):
        state["mode"] = "trial"
        return
    if mine is not None:  # another member's allocation decided: give this one back
        services.participant_trials_fail(maker=maker, participant=participant,
                                         reason="replaced by the sync group's allocation")
        state["n_trials"] -= 1
    if decision.get("stop"):
        state.update(mode=None, phase="done")
        return
    if decision.get("retry"):
        state["mode"] = None
        return
    trial = services.sync_trial_create(maker=maker, participant=participant, experiment=experiment,
                                       node_id=decision["node"], network_id=decision.get("network"),
                                       number=state["number"] + 1)
    maker.take_trial(participant, state, trial)
    state["mode"] = "trial"


def round_complete(maker: "TrialMaker", group, participants: list, experiment) -> None:
    """on_release of the round barrier: the researcher's hook sees every member's trial; scores
    it changes on the trials are saved."""
    trials = {}
    for participant in participants:
        trial = maker.current_trial(participant)
        if trial is not None:
            trials[participant.pk] = trial
    before = {pid: trial.score for pid, trial in trials.items()}
    maker.on_round_complete(group=group, participants=participants, trials=trials, experiment=experiment)
    for pid, trial in trials.items():
        if trial.score != before[pid]:
            Trial.objects.filter(pk=trial.pk).update(score=trial.score)


def call_round_hook(function: Any, **available: Any) -> Any:
    return call_with_args(function, available)
