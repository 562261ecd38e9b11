# ruff: noqa: F403, F405
"""Test experiment: pairs take a synced chain trial maker (shared chains). Both members'
answers on a node (trials_per_node=2) seed the chain's next node."""

from experiments.api import *


class PairNode(ChainNode):
    def create_definition_from_seed(self, seed, experiment, participant):
        return {"answers": sorted(seed) if isinstance(seed, list) else seed}


class PairTrial(ChainTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        choice = f"p{participant.pk}"
        return ModularPage("say", "Say something", PushButtonControl([choice], [choice]), time_estimate=2)


class SyncedChain(Experiment):
    label = "Sync test: a synced chain trial maker"
    timeline = join(
        InfoPage("Welcome", time_estimate=1, label="welcome"),
        SimpleGrouper("pair", initial_group_size=2, max_wait_time=600),
        ChainTrialMaker(
            "chains", node_class=PairNode, trial_class=PairTrial, chain_type="across",
            chains_per_experiment=2, start_nodes=[PairNode(definition={"start": i}) for i in range(2)],
            max_nodes_per_chain=3, trials_per_node=2, expected_trials_per_participant=2,
            sync_group_type="pair", sync_max_wait_time=600,
        ),
        SuccessfulEndPage(),
    )
