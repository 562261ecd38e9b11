# ruff: noqa: F403, F405
"""Test experiment: a synced trial maker reached without a group (no grouper before it)."""

from experiments.api import *


def never(group):
    raise AssertionError("on_round_complete ran without a group")


class PickTrial(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return ModularPage("pick", "Pick one", PushButtonControl(["a", "b"], ["A", "B"]), time_estimate=2)


class SyncedAlone(Experiment):
    label = "Sync test: a synced trial maker without a group"
    timeline = join(
        StaticTrialMaker("solo", PickTrial, [StaticNode(definition={"n": n}) for n in range(3)],
                         expected_trials_per_participant=2, sync_group_type="pair", on_round_complete=never),
        SuccessfulEndPage(),
    )
