"""StaticTrialMaker: allocation, blocks, repeats, feedback, scores, performance, failure, deploy."""

from collections import Counter

import pytest

from experiments import services
from experiments.deployment import deployment_create
from experiments.models import Participant
from experiments.timeline.elements import ExperimentError
from trials.models import Node, Trial

from . import sources
from .helpers import current, page_label, run_bot, run_to_end, submit
from .sources import Raw

pytestmark = pytest.mark.django_db


def labels_of_run(participant: Participant) -> list[str]:
    labels = []
    while True:
        runner, page = current(participant)
        labels.append(page.label)
        if page.terminal:
            return labels
        participant = submit(participant)


def trials_of(participant) -> list[Trial]:
    return list(Trial.objects.filter(participant=participant).order_by("number"))


def test_each_participant_gets_each_node_once_and_loads_as_the_trial_class(make_experiment):
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(5)]",
                                   expected_trials_per_participant=5))
    bot = run_bot()
    trials = trials_of(bot)
    assert [t.number for t in trials] == [1, 2, 3, 4, 5]
    assert len({t.node_id for t in trials}) == 5
    assert {type(t).__name__ for t in trials} == {"T"} and {type(t.node).__name__ for t in trials} == {"StaticNode"}
    assert all(t.finalized and t.answer == "a" and t.time_taken is not None for t in trials)
    assert bot.complete and list(Node.objects.values_list("n_trials", flat=True)) == [1] * 5


def test_allocation_prefers_the_least_used_node(make_experiment):
    make_experiment(sources.static(expected_trials_per_participant=1))
    for _ in range(7):
        run_bot()
    assert sorted(Node.objects.values_list("n_trials", flat=True)) == [2, 2, 3]


def test_in_progress_trials_count_for_balance(make_experiment):
    make_experiment(sources.static(expected_trials_per_participant=1))
    waiting = [services.participant_create() for _ in range(3)]  # intro page: no trial yet
    holders = [submit(p) for p in waiting]  # each now holds a trial in progress
    assert all(page_label(p) == "rate" for p in holders)
    assert sorted(Node.objects.values_list("n_trials", flat=True)) == [1, 1, 1]
    assert not Trial.objects.filter(finalized=True).exists()


def test_max_trials_per_participant_stops_early_and_none_means_until_nodes_run_out(make_experiment):
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(4)]",
                                   expected_trials_per_participant=2))
    assert len(trials_of(run_bot())) == 2
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(4)]",
                                   expected_trials_per_participant=2, max_trials_per_participant=None))
    assert len(trials_of(run_bot())) == 4


def test_allow_repeated_nodes_gives_nodes_again_balanced(make_experiment):
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(2)]",
                                   expected_trials_per_participant=5, allow_repeated_nodes=True))
    trials = trials_of(run_bot())
    assert len(trials) == 5
    assert sorted(Counter(t.node_id for t in trials).values()) == [2, 3]


def test_blocks_are_taken_one_after_another_in_the_chosen_order(make_experiment):
    nodes = "[StaticNode(definition={'i': i}, block=b) for b in 'abc' for i in range(3)]"
    experiment = make_experiment(sources.static(nodes=nodes, expected_trials_per_participant=9))
    trials = trials_of(run_bot())
    blocks = [t.block for t in trials]
    assert [blocks[0], blocks[3], blocks[6]] == list(dict.fromkeys(blocks)) and len(set(blocks)) == 3
    assert all(len(set(blocks[i:i + 3])) == 1 for i in (0, 3, 6))
    assert experiment.program.modules["m"].blocks == ["a", "b", "c"]

    extra = '''
class FixedOrder(StaticTrialMaker):
    def choose_block_order(self, experiment, participant, blocks):
        return ["b", "c", "a"]
'''
    make_experiment(sources.static(nodes=nodes, expected_trials_per_participant=6, max_trials_per_block=2,
                                   extra=extra).replace("StaticTrialMaker(id_", "FixedOrder(id_"))
    assert [t.block for t in trials_of(run_bot())] == ["b", "b", "c", "c", "a", "a"]


def test_choose_block_order_must_return_the_blocks(make_experiment):
    extra = '''
class BadOrder(StaticTrialMaker):
    def choose_block_order(self, experiment, participant, blocks):
        return ["a"]
'''
    source = sources.static(nodes="[StaticNode(definition={'i': i}, block=b) for b in 'ab' for i in range(2)]",
                            extra=extra).replace("StaticTrialMaker(id_", "BadOrder(id_")
    make_experiment(source)
    participant = services.participant_create()
    with pytest.raises(ExperimentError, match="permutation"):
        submit(participant)


def test_repeat_trials_copy_a_finalized_trial_and_do_not_count_for_balance(make_experiment):
    make_experiment(sources.static(n_repeat_trials=2))
    trials = trials_of(run_bot())
    main, repeats = trials[:3], trials[3:]
    assert [t.is_repeat_trial for t in trials] == [False] * 3 + [True] * 2
    assert len({r.repeat_of_id for r in repeats}) == 2
    for repeat in repeats:
        original = next(t for t in main if t.pk == repeat.repeat_of_id)
        assert repeat.node_id == original.node_id and repeat.definition == original.definition
        assert repeat.finalized
    assert list(Node.objects.values_list("n_trials", flat=True)) == [1, 1, 1]


def test_feedback_follows_each_trial_and_none_skips_it(make_experiment):
    trial = sources.TRIAL + '''
    def show_feedback(self, experiment, participant):
        if self.answer == "b":
            return None
        return InfoPage(f"you said {self.answer}", time_estimate=1, label="feedback")
'''
    make_experiment(sources.static(trial=trial, expected_trials_per_participant=2))
    participant = services.participant_create()
    assert labels_of_run(participant) == ["intro", "rate", "feedback", "rate", "feedback", "end_successful"]
    participant = services.participant_create()
    participant = submit(participant)
    participant = submit(participant, "b")
    assert page_label(participant) == "rate"  # no feedback after "b"


def test_score_answer_and_performance_check_pass(make_experiment):
    trial = sources.TRIAL + '''
    def score_answer(self, answer, definition):
        return 1.0 if answer == "a" else 0.0
'''
    make_experiment(sources.static(trial=trial, check_performance_at_end=True, performance_threshold=0.6))
    bot = run_bot()
    assert [t.score for t in trials_of(bot)] == [1.0, 1.0, 1.0]
    assert bot.complete and bot.vars["performance_check"]["m"] == {"score": 1.0, "passed": True}


def test_performance_below_threshold_fails_the_participant_and_their_trials(make_experiment):
    trial = sources.TRIAL + '''
    def score_answer(self, answer, definition):
        return 1.0 if answer == "a" else 0.0
'''
    make_experiment(sources.static(trial=trial, check_performance_at_end=True, performance_threshold=0.6,
                                   after='InfoPage("after", time_estimate=1, label="after"),'))
    participant = services.participant_create()
    answers = iter(["a", "b", "b"])
    participant = run_to_end(participant, answer=lambda p, page, value: next(answers) if page.label == "rate" else value)
    participant.refresh_from_db()
    assert participant.failed and "performance_check" in participant.failure_tags
    assert participant.page_label == "end_unsuccessful"
    assert participant.vars["performance_check"]["m"] == {"score": pytest.approx(1 / 3), "passed": False}
    trials = trials_of(participant)
    assert all(t.failed for t in trials) and all(t.finalized for t in trials)
    assert list(Node.objects.values_list("n_trials", flat=True)) == [0, 0, 0]


def test_performance_failure_can_keep_the_trials(make_experiment):
    trial = sources.TRIAL + '''
    def score_answer(self, answer, definition):
        return 0.0
'''
    make_experiment(sources.static(trial=trial, check_performance_at_end=True, performance_threshold=0.5,
                                   fail_trials_on_participant_performance_check=False))
    bot = run_bot()
    assert bot.failed
    assert not any(t.failed for t in trials_of(bot))
    assert list(Node.objects.values_list("n_trials", flat=True)) == [1, 1, 1]


def test_score_answer_knob_is_called_with_arguments_by_name(make_experiment):
    extra = '''
def scorer(answer, trial, participant):
    return float(trial.definition["i"] * 10 + (answer == "a")) + participant.pk * 0
'''
    make_experiment(sources.static(extra=extra, score_answer=Raw("scorer")))
    trials = trials_of(run_bot())
    assert sorted(t.score for t in trials) == [1.0, 11.0, 21.0]


def test_finalize_definition_changes_the_trial_not_the_node_and_records_assets(make_experiment):
    trial = sources.TRIAL + '''
    def finalize_definition(self, definition, experiment, participant):
        definition["participant"] = participant.pk
        self.add_assets({"stimulus": ExternalAsset("https://example.org/stimulus.wav")})
        return definition
'''
    make_experiment(sources.static(trial=trial, expected_trials_per_participant=1))
    bot = run_bot()
    trial = trials_of(bot)[0]
    assert trial.definition == {"i": trial.node.definition["i"], "participant": bot.pk}
    assert "participant" not in trial.node.definition
    assert trial.assets["stimulus"].url == "https://example.org/stimulus.wav"  # an Asset row


def test_a_trial_of_several_pages_stores_the_last_answer(make_experiment):
    trial = '''
class T(StaticTrial):
    time_estimate = 4

    def show_trial(self, experiment, participant):
        return [
            ModularPage("first", "one", TextControl(bot_response="first answer"), time_estimate=2),
            ModularPage("second", "two", TextControl(bot_response="second answer"), time_estimate=2),
        ]
'''
    make_experiment(sources.static(trial=trial, expected_trials_per_participant=2))
    participant = services.participant_create()
    assert labels_of_run(participant) == ["intro", "first", "second", "first", "second", "end_successful"]
    assert [t.answer for t in trials_of(participant)] == ["second answer", "second answer"]


def test_trial_is_an_injectable_argument(make_experiment):
    trial = '''
class T(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return ModularPage("rate", "x", TextControl(bot_response=lambda trial: f"node {trial.node.definition['i']}"),
                           time_estimate=2)
'''
    make_experiment(sources.static(
        trial=trial, expected_trials_per_participant=2,
        after='PageMaker(lambda trial: InfoPage(f"outside: {trial}", time_estimate=1, label="outside"), '
              'time_estimate=1),'))
    participant = run_to_end(services.participant_create())
    assert sorted(t.answer for t in trials_of(participant)) == sorted(
        f"node {t.node.definition['i']}" for t in trials_of(participant))
    outside = participant.responses.get(page_label="outside")
    assert outside.module_id == ""
    runner, page = current(participant)
    assert runner.available()["trial"].factory() is None


def test_failing_a_participant_fails_their_unfinished_trial_and_frees_the_node(make_experiment):
    make_experiment(sources.static(expected_trials_per_participant=3))
    participant = submit(submit(services.participant_create()))  # one finalized, one in progress
    in_progress = Trial.objects.get(participant=participant, finalized=False)
    assert services.participant_fail(participant_id=participant.pk, reason="admin said so")
    in_progress.refresh_from_db()
    assert in_progress.failed and in_progress.failed_reason == "participant failed"
    finalized = Trial.objects.get(participant=participant, finalized=True)
    assert not finalized.failed  # propagate_failure is off for static makers by default
    assert Node.objects.get(pk=in_progress.node_id).n_trials == 0
    assert Node.objects.get(pk=finalized.node_id).n_trials == 1
    participant.refresh_from_db()
    assert participant.page_label == "end_unsuccessful"


def test_propagate_failure_on_a_static_maker_fails_finalized_trials_too(make_experiment):
    make_experiment(sources.static(expected_trials_per_participant=3, propagate_failure=True))
    participant = submit(submit(services.participant_create()))
    services.participant_fail(participant_id=participant.pk, reason="bad")
    assert all(t.failed for t in trials_of(participant))
    assert list(Node.objects.values_list("n_trials", flat=True)) == [0, 0, 0]


def test_deploy_is_idempotent_and_follows_the_node_list(make_experiment, settings):
    experiment = make_experiment(sources.static())
    deployment_create(experiment=experiment)
    assert Node.objects.count() == 3
    keys = dict(Node.objects.values_list("definition__i", "key"))

    changed = make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in (1, 2, 3)]"))
    nodes = {n.definition["i"]: n for n in Node.objects.all()}
    assert set(nodes) == {0, 1, 2, 3} and nodes[1].key == keys[1]
    assert nodes[0].failed and "removed" in nodes[0].failed_reason
    assert not any(nodes[i].failed for i in (1, 2, 3))
    assert {t.node_id for t in trials_of(run_bot())} == {nodes[i].pk for i in (1, 2, 3)}

    make_experiment(sources.static())  # node 0 comes back, node 3 goes
    assert not Node.objects.get(pk=nodes[0].pk).failed and Node.objects.get(pk=nodes[3].pk).failed
    assert changed.program.modules["m"].node_keys() != experiment.program.modules["m"].node_keys()


def test_identical_definitions_are_distinct_nodes(make_experiment):
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': 0}) for _ in range(3)]"))
    assert Node.objects.count() == 3 and len(set(Node.objects.values_list("key", flat=True))) == 3


def test_without_deployed_nodes_the_maker_is_skipped(make_experiment):
    make_experiment(sources.static(), deploy=False)
    participant = submit(services.participant_create())
    assert page_label(participant) == "end_successful"


def test_estimate_counts_expected_and_repeat_trials(make_experiment):
    experiment = make_experiment(sources.static(expected_trials_per_participant=3, n_repeat_trials=1))
    assert experiment.program.modules["m"].estimate() == 4 * 2
    assert experiment.estimated_duration == pytest.approx(1 + 8)


def test_recruitment_targets(make_experiment):
    experiment = make_experiment(sources.static(recruit_mode="n_participants", target_n_participants=2))
    maker = experiment.program.modules["m"]
    run_bot()
    assert not maker.is_complete() and maker.progress()["n_participants_finished"] == 1
    run_bot()
    assert maker.is_complete()


def test_recruitment_target_in_trials_per_node(make_experiment):
    experiment = make_experiment(sources.static(recruit_mode="n_trials", target_trials_per_node=2,
                                                expected_trials_per_participant=2))
    maker = experiment.program.modules["m"]
    run_bot()
    assert not maker.is_complete()
    run_bot()
    run_bot()
    progress = maker.progress()
    assert progress["complete"] and progress["min_finalized_trials_per_node"] == 2


@pytest.mark.parametrize("knobs, message", [
    ({"expected_trials_per_participant": -1}, "expected_trials_per_participant"),
    ({"max_trials_per_participant": "x"}, "max_trials_per_participant"),
    ({"n_repeat_trials": -2}, "n_repeat_trials"),
    ({"recruit_mode": "everyone"}, "recruit_mode"),
    ({"recruit_mode": "n_participants"}, "target_n_participants"),
    ({"recruit_mode": "n_trials"}, "target_trials_per_node"),
    ({"max_trials_per_block": 0}, "max_trials_per_block"),
    ({"score_answer": 3}, "score_answer"),
])
def test_bad_knobs_are_reported_at_load(make_experiment, knobs, message):
    with pytest.raises(ExperimentError, match=message):
        make_experiment(sources.static(**knobs), deploy=False)


def test_bad_definitions_are_reported_at_load(make_experiment):
    with pytest.raises(ExperimentError, match="time_estimate"):
        make_experiment(sources.static(trial=sources.TRIAL.replace("time_estimate = 2", "")), deploy=False)
    with pytest.raises(ExperimentError, match="StaticNode"):
        make_experiment(sources.static(nodes="[{'i': 1}]"), deploy=False)
    with pytest.raises(ExperimentError, match="JSON"):
        make_experiment(sources.static(nodes="[StaticNode(definition={'i': object()})]"), deploy=False)
    with pytest.raises(ExperimentError, match="max_trials_per_block"):
        make_experiment(sources.static(
            nodes="[StaticNode(definition={'i': i}, block=b) for b in 'ab' for i in range(2)]",
            allow_repeated_nodes=True), deploy=False)
    with pytest.raises(ExperimentError, match="trial_class"):
        make_experiment(sources.static(trial="T = ChainTrial"), deploy=False)
