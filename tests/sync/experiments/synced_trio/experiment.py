# ruff: noqa: F403, F405
"""Test experiment: trios (which may go on as pairs) take a synced static trial maker."""

from experiments.api import *


class PickTrial(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return ModularPage("pick", "Pick one", PushButtonControl(["a", "b"], ["A", "B"]), time_estimate=2)


class SyncedTrio(Experiment):
    label = "Sync test: a synced trial maker in trios"
    timeline = join(
        InfoPage("Welcome", time_estimate=1, label="welcome"),
        SimpleGrouper("trio", initial_group_size=3, min_group_size=2, max_wait_time=600),
        StaticTrialMaker(
            "picks", PickTrial, [StaticNode(definition={"n": n}) for n in range(6)],
            expected_trials_per_participant=3, sync_group_type="trio", sync_max_wait_time=600,
        ),
        SuccessfulEndPage(),
    )
