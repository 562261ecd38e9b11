"""A quiz written the PsyNet way (for docs/porting.md; not PsyNet's code).

Porting it changed only the import line below. The trial maker subclass sets
`performance_threshold` as a class attribute and checks performance after every trial; nodes
are drawn at random (`balance_across_nodes=False`); a page rejects an empty answer with
`FailedValidation`; the stimulus list comes from `asset(...)` on a file next to experiment.py.
Bots with an odd id answer wrongly and are failed at their first trial.
"""

from experiments.api import (  # port: the one changed line (PsyNet's modules → experiments.api)
    Experiment,
    FailedValidation,
    InfoPage,
    ModularPage,
    Module,
    StaticNode,
    StaticTrial,
    StaticTrialMaker,
    SuccessfulEndPage,
    TextControl,
    Timeline,
    asset,
)

QUESTIONS = {"2+2": "4", "3+3": "6", "5+5": "10"}


class AnswerPage(ModularPage):
    def validate(self, answer, **kwargs):
        if not str(answer).strip():
            return FailedValidation("Please type an answer.")
        return None


class QuizTrial(StaticTrial):
    time_estimate = 4

    def show_trial(self, experiment, participant):
        question = self.definition["question"]
        right = QUESTIONS[question]
        return AnswerPage(
            "answer", f"What is {question}?", TextControl(),
            time_estimate=4, bot_response=lambda bot: right if bot.id % 2 == 0 else "wrong",
        )

    def score_answer(self, answer, definition):
        return float(answer == QUESTIONS[definition["question"]])


class QuizTrialMaker(StaticTrialMaker):
    performance_threshold = 0.99


class Exp(Experiment):
    label = "PsyNet-style quiz"
    test_n_bots = 2

    timeline = Timeline(
        Module("intro", InfoPage("Answer three sums.", time_estimate=2),
               assets={"instructions": asset("instructions.txt")}),
        QuizTrialMaker(
            id_="quiz",
            trial_class=QuizTrial,
            nodes=[StaticNode(definition={"question": q}) for q in QUESTIONS],
            expected_trials_per_participant=len(QUESTIONS),
            check_performance_at_end=False,
            check_performance_every_trial=True,
            balance_across_nodes=False,
            recruit_mode="n_participants",
            target_n_participants=2,
        ),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot, **kwargs):
        if bot.id % 2 == 0:
            assert not bot.failed and len(bot.alive_trials) == len(QUESTIONS)
        else:
            assert bot.failed and len(bot.all_trials) == 1 and not bot.alive_trials
