"""Chains: serial reproduction of a number, across participants.

Three shared chains start from a number each. A participant sees the current number of a chain,
then types it from memory; what they type becomes the number the next participant sees. Each
chain runs five generations (six nodes: the start plus five reproductions).
"""

from experiments.api import *

START_NUMBERS = [137, 4821, 56]


class NumberNode(ChainNode):
    def summarize_trials(self, trials, experiment, participant):
        return {"number": int(trials[0].answer)}

    def create_definition_from_seed(self, seed, experiment, participant):
        return {"number": seed["number"]}


def bot_memory(trial):
    """Bots remember imperfectly: every other generation drops the last digit's value by one."""
    number = trial.definition["number"]
    return number - 1 if trial.node.degree % 2 else number


class ReproduceTrial(ChainTrial):
    time_estimate = 8

    def show_trial(self, experiment, participant):
        number = self.definition["number"]
        return [
            InfoPage(f"Remember this number: {number}", time_estimate=3, label="memorize"),
            ModularPage("reproduce", "Type the number you just saw.",
                        NumberControl(integer=True, bot_response=bot_memory), time_estimate=5),
        ]


class ChainDemo(Experiment):
    label = "Chain demo: serial reproduction of numbers"
    test_n_bots = 5

    timeline = join(
        InfoPage("You will see numbers briefly and type them from memory.", time_estimate=3,
                 label="instructions"),
        ChainTrialMaker(
            id_="reproduction",
            node_class=NumberNode,
            trial_class=ReproduceTrial,
            chain_type="across",
            chains_per_experiment=len(START_NUMBERS),
            start_nodes=[NumberNode(definition={"number": n}) for n in START_NUMBERS],
            max_nodes_per_chain=5,  # five generations take trials; a sixth node keeps the end state
            trials_per_node=1,
            expected_trials_per_participant=len(START_NUMBERS),
            recruit_mode="n_trials",
        ),
        SuccessfulEndPage(),
    )

    def test_check_bot(self, bot):
        super().test_check_bot(bot)
        trials = list(bot.participant.trials.order_by("number"))
        assert len(trials) <= len(START_NUMBERS) and all(t.finalized for t in trials)
        assert len({t.network_id for t in trials}) == len(trials)  # one trial per chain
