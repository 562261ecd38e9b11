"""Static trial makers: a fixed set of stimuli (nodes), each rated by many participants.

    StaticTrialMaker(id_="main", trial_class=CustomTrial, nodes=[StaticNode(definition=..., block="A")],
                     expected_trials_per_participant=9)

Nodes are created by `manage.py deploy` (idempotent). Each participant goes through blocks in an
order from `choose_block_order` (random by default), takes each node at most once (unless
`allow_repeated_nodes`), and always gets the least-used eligible node (ties at random), counting
trials in progress, so trials per node stay balanced however many participants arrive at once.
"""

import hashlib
import json
import random
from typing import Any

from django.db.models import Count, Min, Q

from experiments.timeline.elements import ExperimentError

from . import selectors, services
from .maker import WAIT, TrialMaker
from .models import Node, Trial


class StaticNode(Node):
    """A stimulus of a static trial maker: `StaticNode(definition={...}, block="A", assets={...})`."""


class StaticTrial(Trial):
    """A trial on a StaticNode. Override `show_trial` (and optionally the other hooks)."""


class StaticTrialMaker(TrialMaker):
    """Fixed nodes, balanced allocation. Extra knobs: `nodes`, `allow_repeated_nodes`,
    `max_trials_per_block`, `target_trials_per_node` for `recruit_mode="n_trials"`, and
    `balance_across_nodes` (PsyNet's; False: any eligible node at random, ignoring counts)."""

    trial_base = StaticTrial

    def __init__(self, id_: str, trial_class: type[StaticTrial], nodes: list[StaticNode],
                 expected_trials_per_participant: int, *, allow_repeated_nodes: bool = False,
                 max_trials_per_block: int | None = None, target_trials_per_node: int | None = None,
                 balance_across_nodes: bool = True, **kwargs: Any) -> None:
        if callable(nodes):
            nodes = nodes()
        nodes = list(nodes or [])
        for node in nodes:
            if not isinstance(node, StaticNode):
                raise ExperimentError(f"static trial maker '{id_}': nodes must be StaticNode objects, got {node!r}")
            try:
                json.dumps(node.definition)
            except (TypeError, ValueError) as exc:
                raise ExperimentError(f"static trial maker '{id_}': a node's definition is not JSON: {exc}") from None
        if max_trials_per_block is not None and (not isinstance(max_trials_per_block, int) or max_trials_per_block < 1):
            raise ExperimentError(f"static trial maker '{id_}': max_trials_per_block must be an int >= 1")
        self.nodes = nodes
        self.blocks = list(dict.fromkeys(node.block or "default" for node in nodes))
        if allow_repeated_nodes and len(self.blocks) > 1 and max_trials_per_block is None:
            raise ExperimentError(f"static trial maker '{id_}': with allow_repeated_nodes and several blocks, "
                                  "set max_trials_per_block so participants move on to the next block")
        if kwargs.get("recruit_mode") == "n_trials" and not target_trials_per_node:
            raise ExperimentError(f"static trial maker '{id_}': recruit_mode='n_trials' needs target_trials_per_node")
        self.allow_repeated_nodes = allow_repeated_nodes
        self.balance_across_nodes = bool(balance_across_nodes)
        self.max_trials_per_block = max_trials_per_block
        self.target_trials_per_node = target_trials_per_node
        super().__init__(id_, trial_class, expected_trials_per_participant, **kwargs)

    def node_keys(self) -> list[str]:
        """Stable identity of each node across deploys: class, block and definition (+ repeat index)."""
        seen: dict[str, int] = {}
        keys = []
        for node in self.nodes:
            payload = json.dumps([type(node).__name__, node.block or "default", node.definition], sort_keys=True)
            digest = hashlib.sha256(payload.encode()).hexdigest()[:40]
            seen[digest] = seen.get(digest, -1) + 1
            keys.append(f"{digest}:{seen[digest]}")
        return keys

    def prepare(self, experiment, progress) -> None:
        services.static_nodes_deploy(maker=self, progress=progress)

    def choose_block_order(self, experiment, participant, blocks: list[str]) -> list[str]:
        """The order this participant takes the blocks in (default: random)."""
        return random.sample(blocks, len(blocks))

    def prepare_trial(self, *, experiment, participant, state: dict[str, Any], number: int) -> Trial | str | None:
        if state.get("blocks") is None:
            order = list(self.choose_block_order(experiment=experiment, participant=participant,
                                                 blocks=list(self.blocks)))
            if sorted(order) != sorted(self.blocks):
                raise ExperimentError(f"{type(self).__name__}.choose_block_order must return a permutation of "
                                      f"{self.blocks}")
            state.update(blocks=order, block_index=0, block_counts={})
        order, counts = state["blocks"], state["block_counts"]
        remaining = [block for block in order[state["block_index"]:]
                     if self.max_trials_per_block is None or counts.get(block, 0) < self.max_trials_per_block]
        if not remaining:
            return None
        trial = services.static_trial_allocate(maker=self, participant=participant, experiment=experiment,
                                               blocks=remaining, number=number)
        if trial is not None:
            state["block_index"] = order.index(trial.block)
            counts[trial.block] = counts.get(trial.block, 0) + 1
            return trial
        if selectors.static_nodes_pending(trial_maker_id=self.id, participant_id=participant.pk, blocks=remaining):
            return WAIT
        return None

    def recruitment_target_met(self, progress: dict[str, Any]) -> dict[str, Any]:
        if self.recruit_mode == "n_trials":
            least = Node.objects.filter(trial_maker_id=self.id, failed=False).annotate(
                done=Count("trials", filter=Q(trials__finalized=True, trials__failed=False,
                                              trials__is_repeat_trial=False)),
            ).aggregate(least=Min("done"))["least"]
            return {"target": self.target_trials_per_node, "min_finalized_trials_per_node": least,
                    "complete": least is not None and least >= self.target_trials_per_node}
        return super().recruitment_target_met(progress)
