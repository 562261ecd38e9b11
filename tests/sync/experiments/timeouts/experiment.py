# ruff: noqa: F403, F405
"""Test experiment: pairs, then a GroupBarrier whose timeout policy the participant's entry
parameter chooses (both members of a pair are started with the same policy)."""

from experiments.api import *


class Timeouts(Experiment):
    label = "Sync test: timeouts"
    timeline = join(
        InfoPage("Welcome", time_estimate=1, label="welcome"),
        SimpleGrouper("pair", initial_group_size=2, max_wait_time=30),
        InfoPage("You have a partner", time_estimate=1, label="paired"),
        switch("policy", lambda participant: participant.entry_params.get("policy", "fail"), {
            "fail": GroupBarrier("meet_fail", "pair", max_wait_time=30),
            "proceed": GroupBarrier("meet_proceed", "pair", max_wait_time=30, on_timeout="proceed"),
            "kick": GroupBarrier("meet_kick", "pair", max_wait_time=30, on_timeout="kick"),
        }),
        InfoPage("Met", time_estimate=1, label="met"),
        GroupBarrier("again", "pair", max_wait_time=30),
        InfoPage("Met again", time_estimate=1, label="again_done"),
        SuccessfulEndPage(),
    )
