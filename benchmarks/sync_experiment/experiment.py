# ruff: noqa: F403, F405
"""The experiment benchmarks/sync.py measures: pairs meeting at a GroupBarrier, and a crowd
grouper (fed directly with waiting rows) for the 10,000-participant grouping figure."""

from experiments.api import *


class NaiveGrouper(SimpleGrouper):
    """Same grouping through the generic path (researcher-style `group()` + ORM)."""

    def group(self, participants):
        return super().group(participants)


class SyncBenchmark(Experiment):
    label = "Sync benchmark"
    timeline = join(
        InfoPage("Welcome", time_estimate=1, label="welcome"),
        switch("path", lambda participant: participant.entry_params.get("path", "pairs"), {
            "pairs": join(
                SimpleGrouper("pair", initial_group_size=2, max_wait_time=None),
                InfoPage("Paired", time_estimate=1, label="paired"),
                GroupBarrier("meet", "pair", max_wait_time=None),
                InfoPage("Met", time_estimate=1, label="met"),
            ),
            "plain": InfoPage("A page without a barrier", time_estimate=1, label="plain"),
            "lonely": SimpleGrouper("lonely", initial_group_size=1000, max_wait_time=None),
            "crowd": join(
                SimpleGrouper("crowd", initial_group_size=3, max_wait_time=None),
                NaiveGrouper("crowd", id_="crowd_generic", initial_group_size=3, max_wait_time=None),
            ),
        }),
        SuccessfulEndPage(),
    )
