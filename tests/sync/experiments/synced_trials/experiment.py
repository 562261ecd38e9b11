# ruff: noqa: F403, F405
"""Test experiment: pairs take two synced static trial makers, one after the other.

"colors" (4 nodes, 3 rounds) scores each round in on_round_complete: a member scores 1 when
both chose the same button. "shapes" (2 nodes, up to 3 rounds) runs out of nodes after two
rounds: the leader's allocation ends the maker for the pair.
"""

from experiments.api import *

CHOICES = ["a", "b"]


class PickTrial(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        choice = CHOICES[(participant.pk + self.number) % 2]  # bots: sometimes the same, sometimes not
        return ModularPage("pick", f"Pick one ({self.definition['name']})",
                           PushButtonControl(CHOICES, ["A", "B"], bot_response=choice), time_estimate=2)

    def show_feedback(self, experiment, participant):
        last = participant.var.rounds[-1]
        return InfoPage(f"Round {last['number']}: you scored {last['score']}", time_estimate=1,
                        label="round_feedback")


def score_round(group, participants, trials, maker):
    """Once per pair and round: both answers are here."""
    answers = {pid: trial.answer for pid, trial in trials.items()}
    same = len(set(answers.values())) == 1
    for participant in participants:
        trial = trials[participant.pk]
        trial.score = 1.0 if same else 0.0
        participant.var.rounds = [*participant.var.get("rounds", []), {
            "maker": maker.id, "number": trial.number, "node": trial.node_id, "answers": answers,
            "score": trial.score}]
    group.var.rounds = group.var.get("rounds", 0) + 1


def count_round(group, participants, trials):
    group.var.shape_rounds = group.var.get("shape_rounds", 0) + 1
    for participant in participants:
        participant.var.shape_nodes = [*participant.var.get("shape_nodes", []),
                                       sorted(t.node_id for t in trials.values())]


class ShapeTrial(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return ModularPage("shape", "Pick a shape", PushButtonControl(CHOICES, ["A", "B"]), time_estimate=2)


class SyncedTrials(Experiment):
    label = "Sync test: synced trial makers"
    test_n_bots = 4
    timeline = join(
        InfoPage("Welcome", time_estimate=1, label="welcome"),
        SimpleGrouper("pair", initial_group_size=2, max_wait_time=600),
        StaticTrialMaker(
            "colors", PickTrial, [StaticNode(definition={"name": n}) for n in ("red", "green", "blue", "gold")],
            expected_trials_per_participant=3, sync_group_type="pair", on_round_complete=score_round,
            sync_max_wait_time=600,
        ),
        StaticTrialMaker(
            "shapes", ShapeTrial, [StaticNode(definition={"name": n}) for n in ("square", "circle")],
            expected_trials_per_participant=3, sync_group_type="pair", on_round_complete=count_round,
            sync_max_wait_time=600,
        ),
        GroupCloser("pair", max_wait_time=600),
        SuccessfulEndPage(),
    )
