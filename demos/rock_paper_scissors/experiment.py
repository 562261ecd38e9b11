"""Rock, paper, scissors in pairs: three rounds, scored when both partners have chosen.

A SimpleGrouper makes dyads. Each round, both partners choose, then wait at a GroupBarrier;
the last to arrive releases the pair at once and `on_release` scores the round for both. Each
sees "You chose rock, your partner chose paper. You lost." A GroupCloser ends the pair.
"""

import random

from experiments.api import *

CHOICES = ["rock", "paper", "scissors"]
BEATS = {"rock": "scissors", "paper": "rock", "scissors": "paper"}
N_ROUNDS = 3


def outcome(mine: str, theirs: str) -> str:
    if mine == theirs:
        return "draw"
    return "won" if BEATS[mine] == theirs else "lost"


def feedback_text(mine: str, theirs: str, result: str) -> str:
    verdict = {"won": "You won!", "lost": "You lost.", "draw": "It's a draw."}[result]
    return f"You chose {mine}, your partner chose {theirs}. {verdict}"


def start(participant):
    participant.var.round = 0
    participant.var.score = 0
    participant.var.history = []


def store_choice(participant, answer):
    participant.var.choice = answer
    participant.var.round += 1


def score_round(group, participants):
    """on_release: runs once per pair and round, when the second partner arrives."""
    for me in participants:
        partner = next(p for p in participants if p.pk != me.pk)
        result = outcome(me.var.choice, partner.var.choice)
        me.var.history = [*me.var.history, {"round": me.var.round, "mine": me.var.choice,
                                            "theirs": partner.var.choice, "result": result}]
        me.var.score = me.var.score + (result == "won")
    group.var.rounds_played = group.var.get("rounds_played", 0) + 1


def bot_choice(participant):
    return random.Random(f"{participant.pk}-{participant.var.round}").choice(CHOICES)


def choice_page(participant):
    return ModularPage(
        "choose", f"Round {participant.var.round + 1} of {N_ROUNDS}: rock, paper or scissors?",
        PushButtonControl(CHOICES, ["Rock", "Paper", "Scissors"], bot_response=bot_choice),
        time_estimate=5,
    )


def feedback_page(participant):
    last = participant.var.history[-1]
    return InfoPage(feedback_text(last["mine"], last["theirs"], last["result"]),
                    time_estimate=3, label="feedback")


def final_page(participant):
    wins = participant.var.score
    return InfoPage(f"Game over: you won {wins} of {N_ROUNDS} rounds.", time_estimate=3,
                    label="final_score")


class RockPaperScissors(Experiment):
    label = "Rock, paper, scissors (pairs)"
    test_n_bots = 4

    timeline = join(
        InfoPage("You will play three rounds of rock, paper, scissors against another "
                 "participant. First we find you a partner.", time_estimate=5, label="instructions"),
        CodeBlock(start),
        SimpleGrouper("rps", initial_group_size=2, max_wait_time=120),
        while_loop(
            "rounds",
            lambda participant: participant.var.round < N_ROUNDS,
            join(
                PageMaker(choice_page, time_estimate=5, label="choose"),
                CodeBlock(store_choice),
                GroupBarrier("rps_round", group_type="rps", on_release=score_round, max_wait_time=60),
                PageMaker(feedback_page, time_estimate=3, label="feedback"),
            ),
            expected_repetitions=N_ROUNDS,
        ),
        GroupCloser("rps"),
        PageMaker(final_page, time_estimate=3, label="final_score"),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot):
        super().test_check_bot(bot)
        participant = bot.participant
        participant.refresh_from_db()
        history = participant.var.history
        assert [h["round"] for h in history] == [1, 2, 3], history
        assert participant.var.score == sum(h["result"] == "won" for h in history)
