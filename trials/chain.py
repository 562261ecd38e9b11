"""Chain trial makers: each node's trials seed the next node (iterated learning, serial
reproduction).

    ChainTrialMaker(id_="chain", node_class=CustomNode, trial_class=CustomTrial, chain_type="across",
                    chains_per_experiment=3, max_nodes_per_chain=6, trials_per_node=1,
                    expected_trials_per_participant=3)

- "across": `chains_per_experiment` shared chains, created at deploy; a participant takes at most
  one trial per chain (unless `allow_revisiting_networks`); shorter chains first
  (`balance_across_chains`).
- "within": `chains_per_participant` chains of their own, created when the participant arrives.

When a chain's newest node (its head) has `trials_per_node` finalized trials, the next node is
created from them: `head.summarize_trials(trials, experiment, participant)` gives the seed and
`new_node.create_definition_from_seed(seed, experiment, participant)` the definition. A chain is
full once `max_nodes_per_chain` nodes have taken their trials (as in PsyNet: a chain yields
`max_nodes_per_chain * trials_per_node` trials); one more node, grown from the last answers, records
the chain's end state and takes no trials. With `propagate_failure` (default), a failed participant's trials fail and every
node grown from them too: the chain is cut back and regrows.
"""

from typing import Any

from experiments.timeline.elements import ExperimentError
from experiments.timeline.injection import call_with_args

from . import selectors, services
from .maker import WAIT, TrialMaker
from .models import Network, Node, Trial

CHAIN_TYPES = ("within", "across")


class ChainNetwork(Network):
    """One chain."""


class ChainNode(Node):
    """A generation of a chain. Override `create_initial_seed` (unless start nodes are given),
    `summarize_trials` and `create_definition_from_seed` as the paradigm needs."""

    def create_initial_seed(self, experiment, participant) -> Any:
        """The seed of a chain's first node when no `start_nodes` are given."""
        raise NotImplementedError(f"{type(self).__name__} needs create_initial_seed(self, experiment, participant) "
                                  "or the trial maker needs start_nodes")

    def create_definition_from_seed(self, seed: Any, experiment, participant) -> dict[str, Any]:
        """Turn a seed into this node's definition (default: the seed itself, which must be a dict)."""
        if not isinstance(seed, dict):
            raise ExperimentError(f"{type(self).__name__}: the seed {seed!r} is not a dict; override "
                                  "create_definition_from_seed to build a definition from it")
        return dict(seed)

    def summarize_trials(self, trials: list[Trial], experiment, participant) -> Any:
        """The seed for the next node, from this node's finalized trials (default: the answer of
        a single trial, or the list of answers)."""
        answers = [trial.answer for trial in trials]
        return answers[0] if len(answers) == 1 else answers


class ChainTrial(Trial):
    """A trial on a ChainNode. Override `show_trial`."""


class ChainTrialMaker(TrialMaker):
    """Chains of nodes. See the module docstring for the knobs."""

    trial_base = ChainTrial
    propagate_failure_default = True
    is_chain = True

    def __init__(self, id_: str, *, trial_class: type[ChainTrial], node_class: type[ChainNode] = ChainNode,
                 network_class: type[ChainNetwork] = ChainNetwork, chain_type: str,
                 expected_trials_per_participant: int, chains_per_participant: int | None = None,
                 chains_per_experiment: int | None = None, max_nodes_per_chain: int | None = None,
                 trials_per_node: int = 1, balance_across_chains: bool = True, start_nodes: Any = None,
                 allow_revisiting_networks: bool = False, wait_for_networks: bool = False,
                 **kwargs: Any) -> None:
        def fail(message: str) -> ExperimentError:
            return ExperimentError(f"chain trial maker '{id_}': {message}")

        if chain_type not in CHAIN_TYPES:
            raise fail(f"chain_type must be one of {CHAIN_TYPES}")
        if not isinstance(node_class, type) or not issubclass(node_class, ChainNode):
            raise fail("node_class must be a subclass of ChainNode")
        if not isinstance(network_class, type) or not issubclass(network_class, ChainNetwork):
            raise fail("network_class must be a subclass of ChainNetwork")
        count_name, count = (("chains_per_participant", chains_per_participant) if chain_type == "within"
                             else ("chains_per_experiment", chains_per_experiment))
        if not isinstance(count, int) or count < 1:
            raise fail(f"chain_type='{chain_type}' needs {count_name} (an int >= 1)")
        if not isinstance(trials_per_node, int) or trials_per_node < 1:
            raise fail("trials_per_node must be an int >= 1")
        if max_nodes_per_chain is not None and (not isinstance(max_nodes_per_chain, int) or max_nodes_per_chain < 1):
            raise fail("max_nodes_per_chain must be an int >= 1 or None")
        if start_nodes is not None and not callable(start_nodes):
            start_nodes = list(start_nodes)
            if len(start_nodes) != count or not all(isinstance(n, ChainNode) for n in start_nodes):
                raise fail(f"start_nodes must be {count} ChainNode objects ({count_name}), or a function")
        if kwargs.get("sync_group_type") is not None and chain_type == "within":
            raise fail("sync_group_type needs shared chains (chain_type='across'): members share the leader's node")
        if kwargs.get("recruit_mode") == "n_trials" and chain_type == "within":
            raise fail("recruit_mode='n_trials' needs shared chains (chain_type='across')")
        self.node_class, self.network_class, self.chain_type = node_class, network_class, chain_type
        self.chains_per_participant = chains_per_participant if chain_type == "within" else None
        self.chains_per_experiment = chains_per_experiment if chain_type == "across" else None
        self.max_nodes_per_chain, self.trials_per_node = max_nodes_per_chain, trials_per_node
        self.balance_across_chains, self.start_nodes = balance_across_chains, start_nodes
        self.allow_revisiting_networks = allow_revisiting_networks
        kwargs.setdefault("wait_for_trials", wait_for_networks)
        super().__init__(id_, trial_class, expected_trials_per_participant, **kwargs)

    def start_nodes_for(self, *, experiment, participant) -> list[ChainNode] | None:
        """Templates of the start nodes of new chains (None: use `create_initial_seed`)."""
        if self.start_nodes is None:
            return None
        nodes = self.start_nodes
        if callable(nodes):
            nodes = list(call_with_args(nodes, {"experiment": experiment, "participant": participant}))
        count = self.chains_per_participant if self.chain_type == "within" else self.chains_per_experiment
        if len(nodes) != count or not all(isinstance(n, ChainNode) for n in nodes):
            raise ExperimentError(f"chain trial maker '{self.id}': start_nodes gave {len(nodes)} nodes, "
                                  f"expected {count} ChainNode objects")
        return nodes

    def prepare(self, experiment, progress) -> None:
        if self.chain_type == "across":
            services.chain_networks_deploy(maker=self, experiment=experiment)

    def prepare_trial(self, *, experiment, participant, state: dict[str, Any], number: int) -> Trial | str | None:
        if self.chain_type == "within" and not state.get("chains_created"):
            services.chain_networks_create_for_participant(maker=self, experiment=experiment, participant=participant)
            state["chains_created"] = True
        trial = services.chain_trial_allocate(maker=self, participant=participant, experiment=experiment,
                                              number=number)
        if trial is not None:
            return trial
        if self.wait_for_trials and selectors.chain_networks_busy(maker=self, participant_id=participant.pk):
            return WAIT
        return None

    def on_trial_finalized(self, *, trial: Trial, participant, experiment) -> None:
        if not trial.failed:
            services.chain_grow(maker=self, trial=trial, participant=participant, experiment=experiment)

    def recruitment_target_met(self, progress: dict[str, Any]) -> dict[str, Any]:
        if self.recruit_mode == "n_trials":
            open_chains = Network.objects.filter(trial_maker_id=self.id, failed=False, full=False).count()
            return {"open_chains": open_chains, "complete": open_chains == 0 and progress["n_nodes"] > 0}
        return super().recruitment_target_met(progress)
