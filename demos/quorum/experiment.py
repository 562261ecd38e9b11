"""A quorum lobby: groups start with three, late arrivals top up groups that lost a member.

SimpleGrouper(join_existing_groups=True): a newcomer first joins an active group of this type
with room (below max_group_size; smallest first, never a closed one), otherwise waits in the
lobby; once a group has started (released at the quorum barrier) it takes no more top-ups.
While anyone waits — in the lobby or at the quorum barrier for a missing member — they
rate words (filler trials) instead of watching a spinner. A group below its minimum size keeps
waiting for a top-up rather than failing, up to max_wait_time.
"""

from experiments.api import *

WORDS = ["river", "lantern", "pebble", "thunder", "velvet", "orchard", "compass", "meadow"]


def filler_page(participant):
    n = participant.var.get("n_filler", 0)
    word = WORDS[(participant.pk + n) % len(WORDS)]
    return ModularPage("filler", f"While we wait for your group: how pleasant is the word “{word}”?",
                       PushButtonControl(["1", "2", "3", "4", "5"]), time_estimate=3)


def store_filler(participant, answer):
    participant.var.n_filler = participant.var.get("n_filler", 0) + 1


filler_trial = join(PageMaker(filler_page, time_estimate=3, label="filler"), CodeBlock(store_filler))


def start(group):
    """on_release of the quorum barrier: the group has started, so it takes no more top-ups
    (a newcomer would wait at the quorum barrier for members who have moved on)."""
    group.join_existing_groups = False


def start_page(participant):
    group = participant.active_sync_groups["lobby"]
    return InfoPage(f"Your group of {group.n_active_participants} is complete. Let's start!",
                    time_estimate=2, label="started")


class Quorum(Experiment):
    label = "Quorum lobby with top-ups"
    test_n_bots = 3

    timeline = join(
        InfoPage("We are gathering groups of three to four participants.", time_estimate=3,
                 label="instructions"),
        SimpleGrouper("lobby", initial_group_size=3, max_group_size=4, join_existing_groups=True,
                      waiting_logic=filler_trial, waiting_logic_expected_repetitions=5, max_wait_time=300),
        GroupBarrier("quorum", group_type="lobby", waiting_logic=filler_trial, on_release=start,
                     waiting_logic_expected_repetitions=5, max_wait_time=300),
        PageMaker(start_page, time_estimate=2, label="started"),
        GroupCloser("lobby"),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot):
        super().test_check_bot(bot)
        (group,) = bot.participant.sync_groups
        assert group.n_active_participants >= 3 and not group.active
