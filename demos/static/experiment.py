"""Static trials: which of two numbers is larger?

Nine stimuli (nodes) in three blocks of difficulty, each participant takes every block in a
random order, sees feedback after each answer, repeats one trial at the end, and is scored:
a mean score below 0.5 fails the performance check. Allocation keeps trials per node balanced.
"""

from experiments.api import *

PAIRS = {
    "easy": [(2, 9), (15, 4), (30, 70)],
    "medium": [(41, 47), (88, 81), (120, 112)],
    "hard": [(301, 310), (999, 989), (1234, 1243)],
}


def larger(definition):
    return "left" if definition["left"] > definition["right"] else "right"


class CompareTrial(StaticTrial):
    time_estimate = 5

    def finalize_definition(self, definition, experiment, participant):
        # Record which side the correct answer is on (the answer key travels with the trial).
        definition["correct"] = larger(definition)
        return definition

    def show_trial(self, experiment, participant):
        left, right = self.definition["left"], self.definition["right"]
        return ModularPage(
            "compare",
            f"Which number is larger: {left} or {right}?",
            PushButtonControl(["left", "right"], [str(left), str(right)],
                              bot_response=lambda trial: trial.definition["correct"]),
            time_estimate=3,
        )

    def score_answer(self, answer, definition):
        return 1.0 if answer == definition["correct"] else 0.0

    def show_feedback(self, experiment, participant):
        message = "Correct!" if self.score == 1.0 else f"Not quite: the answer was {larger(self.definition)}."
        return InfoPage(message, time_estimate=2, label="feedback")


NODES = [
    StaticNode(definition={"left": left, "right": right, "difficulty": block}, block=block)
    for block, pairs in PAIRS.items()
    for left, right in pairs
]


class StaticDemo(Experiment):
    label = "Static trials demo: compare numbers"
    test_n_bots = 3

    timeline = join(
        InfoPage("In each trial, pick the larger of two numbers.", time_estimate=3, label="instructions"),
        StaticTrialMaker(
            id_="compare",
            trial_class=CompareTrial,
            nodes=NODES,
            expected_trials_per_participant=len(NODES),
            n_repeat_trials=1,
            check_performance_at_end=True,
            performance_threshold=0.5,
            recruit_mode="n_participants",
            target_n_participants=10,
        ),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot):
        super().test_check_bot(bot)
        trials = list(bot.participant.trials.order_by("number"))
        assert len(trials) == len(NODES) + 1, f"{len(trials)} trials"
        assert len({t.node_id for t in trials if not t.is_repeat_trial}) == len(NODES)
        assert sum(t.is_repeat_trial for t in trials) == 1
        assert all(t.finalized and t.score == 1.0 for t in trials)
