"""An imitation chain written the PsyNet way (for docs/porting.md; not PsyNet's code).

Porting it changed only the import line below (PsyNet: `from psynet.trial.imitation_chain
import ...`, `from psynet.modular_page import ...`, ...). Each participant reproduces a number
in a chain of their own; `max_nodes_per_chain=4` gives four trials, as in PsyNet. The trial
maker's `performance_threshold` and `give_end_feedback_passed` are class attributes, and a
passed end check shows `get_end_feedback_passed_page(score)`.
"""

from experiments.api import (  # port: the one changed line (PsyNet's modules → experiments.api)
    Experiment,
    ImitationChainNode,
    ImitationChainTrial,
    ImitationChainTrialMaker,
    InfoPage,
    ModularPage,
    NumberControl,
    SuccessfulEndPage,
    Timeline,
)

START = 5000
GENERATIONS = 4


class NumberNode(ImitationChainNode):
    def create_initial_seed(self, experiment, participant):
        return {"number": START}

    def summarize_trials(self, trials, experiment, participant):
        return {"number": trials[0].answer}


class ReproduceTrial(ImitationChainTrial):
    time_estimate = 5

    def show_trial(self, experiment, participant):
        return ModularPage(
            "reproduce",
            f"Generation {self.position + 1}: type the number {self.definition['number']}.",
            NumberControl(bot_response=lambda bot: self.definition["number"] + bot.id % 2),
            time_estimate=5,
        )

    def score_answer(self, answer, definition):
        return 1.0 if answer == definition["number"] else 0.0


class ReproductionTrialMaker(ImitationChainTrialMaker):
    performance_threshold = 0.5
    give_end_feedback_passed = True

    def get_end_feedback_passed_page(self, score):
        return InfoPage(f"Well done: {score:.0%} of your copies were exact.", time_estimate=3,
                        label="end_feedback")


class Exp(Experiment):
    label = "PsyNet-style imitation chain"
    test_n_bots = 2

    timeline = Timeline(
        InfoPage("Copy each number exactly.", time_estimate=3),
        ReproductionTrialMaker(
            id_="reproduction",
            node_class=NumberNode,
            trial_class=ReproduceTrial,
            chain_type="within",
            chains_per_participant=1,
            chains_per_experiment=None,
            max_nodes_per_chain=GENERATIONS,
            trials_per_node=1,
            expected_trials_per_participant=GENERATIONS,
            max_trials_per_participant=GENERATIONS,
            balance_across_chains=False,
            check_performance_at_end=True,
            check_performance_every_trial=False,
            propagate_failure=False,
            recruit_mode="n_participants",
            target_n_participants=2,
            wait_for_networks=False,
        ),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot, **kwargs):
        trials = bot.all_trials
        assert len(trials) == GENERATIONS
        exact = bot.id % 2 == 0
        assert bot.failed is not exact
        assert len(bot.alive_trials) == (GENERATIONS if exact else 0)  # a failed check fails the trials
        if exact:
            assert [t.definition["number"] for t in trials] == [START] * GENERATIONS
