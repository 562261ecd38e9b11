"""Regrouping: teams of three do a task, the teams are closed, then everyone is re-paired.

A group_type can be reassigned only after its group is closed: the GroupCloser waits for the
whole triad, closes it, and the second SimpleGrouper (its own id_) forms new pairs.
"""

from experiments.api import *


def remember_word(participant, answer):
    participant.var.word = answer


def collect_words(group, participants):
    group.var.words = sorted(p.var.word for p in participants)


def team_page(participant):
    team = participant.active_sync_groups["team"]
    others = len(team.participants) - 1
    return InfoPage(f"You are now in a team with {others} other participant{'s' if others != 1 else ''}.",
                    time_estimate=2, label="team_info")


def words_page(participant):
    team = participant.active_sync_groups["team"]
    return InfoPage("Your team's words: " + ", ".join(team.var.get("words", [])),
                    time_estimate=3, label="team_words")


class Regroup(Experiment):
    label = "Regroup: triads, then pairs"
    test_n_bots = 6

    timeline = join(
        InfoPage("First you will work in a team of three, then with one new partner.",
                 time_estimate=3, label="instructions"),
        SimpleGrouper("team", initial_group_size=3, id_="triads", max_wait_time=120),
        PageMaker(team_page, time_estimate=2, label="team_info"),
        ModularPage("word", "Suggest a word for your team.", TextControl(max_length=30, bot_response="bot"),
                    time_estimate=5),
        CodeBlock(remember_word),
        GroupBarrier("triad_words", group_type="team", on_release=collect_words, max_wait_time=60),
        PageMaker(words_page, time_estimate=3, label="team_words"),
        GroupCloser("team", id_="close_triads"),
        SimpleGrouper("team", initial_group_size=2, id_="pairs", max_wait_time=120),
        PageMaker(team_page, time_estimate=2, label="pair_info"),
        GroupBarrier("pair_sync", group_type="team", max_wait_time=60),
        GroupCloser("team", id_="close_pairs"),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot):
        super().test_check_bot(bot)
        sizes = [len(g.participants) for g in bot.participant.sync_groups]
        assert sizes == [3, 2], sizes
        assert not bot.participant.active_sync_groups
