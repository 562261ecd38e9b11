# ruff: noqa: F403, F405
"""Test experiment: triads formed by a SimpleGrouper, then synchronised at a GroupBarrier."""

from experiments.api import *


def record_release(group, participants):
    group.var.releases = group.var.get("releases", 0) + 1
    for participant in participants:
        participant.var.partners = sorted(p.pk for p in participants if p.pk != participant.pk)
        participant.var.leader = group.leader_id


class Grouping(Experiment):
    label = "Sync test: grouping"
    timeline = join(
        InfoPage("Welcome", time_estimate=1, label="welcome"),
        SimpleGrouper("triad", initial_group_size=3, max_wait_time=600),
        InfoPage("You are in a group", time_estimate=1, label="grouped"),
        GroupBarrier("triad_sync", group_type="triad", on_release=record_release, max_wait_time=600),
        InfoPage("Everyone is here", time_estimate=1, label="together"),
        SuccessfulEndPage(),
    )
