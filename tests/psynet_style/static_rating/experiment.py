"""A static rating experiment written the PsyNet way (for docs/porting.md; not PsyNet's code).

Porting it changed only the import line below (PsyNet: `from psynet.asset import asset`,
`from psynet.page import ...`, `from psynet.trial.static import ...`, `from psynet.utils import
get_logger`, ...). It reads files next to experiment.py at import and in a function asset,
returns code blocks between the pages of `show_trial`, saves an answer to a participant variable
with `save_answer=`, answers bots with a page's `bot_response=` taking `bot`, and reads
`Trial.position`, `participant.all_trials` and `bot.alive_trials`.
"""

import csv

from experiments.api import (  # port: the one changed line (PsyNet's modules → experiments.api)
    CodeBlock,
    Experiment,
    InfoPage,
    ModularPage,
    Prompt,
    PushButtonControl,
    StaticNode,
    StaticTrial,
    StaticTrialMaker,
    SuccessfulEndPage,
    Timeline,
    asset,
    get_logger,
)

logger = get_logger()

with open("words.csv") as file:  # a file next to experiment.py, read at import
    WORDS = [row["word"] for row in csv.DictReader(file)]


def make_card(path, word):
    """A stimulus file made from a template that sits next to experiment.py."""
    with open("card_template.txt") as template:
        text = template.read().format(word=word)
    with open(path, "w") as out:
        out.write(text)


def count_code_block(participant):
    participant.var.inc("code_blocks_run")


class RateTrial(StaticTrial):
    time_estimate = 6

    def show_trial(self, experiment, participant):
        word = self.definition["word"]
        return [
            ModularPage(
                "rate",
                Prompt(f"Trial {self.position + 1}: how pleasant is the word '{word}'?"),
                PushButtonControl(["1", "2", "3", "4", "5"]),
                time_estimate=3,
                save_answer="last_rating",
                bot_response=lambda bot: str(2 + bot.id % 3),
            ),
            CodeBlock(count_code_block),
            ModularPage(
                "sure",
                Prompt("How sure are you?"),
                PushButtonControl(["sure", "unsure"]),
                time_estimate=3,
                bot_response="sure",
            ),
        ]


class Exp(Experiment):
    label = "PsyNet-style static rating"
    test_n_bots = 2

    timeline = Timeline(
        InfoPage("Rate how pleasant each word is.", time_estimate=3),
        StaticTrialMaker(
            id_="ratings",
            trial_class=RateTrial,
            nodes=[
                StaticNode(definition={"word": word},
                           assets={"card": asset(make_card, extension=".txt")})
                for word in WORDS
            ],
            expected_trials_per_participant=len(WORDS),
            max_trials_per_participant=len(WORDS),
            check_performance_at_end=False,
            check_performance_every_trial=False,
            balance_across_nodes=True,
            recruit_mode="n_participants",
            target_n_participants=2,
        ),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot, **kwargs):
        assert not bot.failed
        trials = bot.alive_trials
        assert len(trials) == len(WORDS)
        assert [trial.position for trial in trials] == list(range(len(WORDS)))
        assert all(trial.answer == "sure" for trial in trials)
        assert bot.var.last_rating == str(2 + bot.id % 3)
        assert bot.var.code_blocks_run == len(WORDS)
        logger.info("bot %s rated %s words", bot.id, len(trials))
