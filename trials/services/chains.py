"""Chains: creating networks with their start node, growing a chain by one node, cutting one
back.

Growth runs under the maker lock and a row lock on the network, reading the head and the
node's finalized trials fresh under them, so a chain grows exactly once per quota.
Creating networks is idempotent (by position).
"""

from django.utils import timezone

from assets.services import holders_register_pending
from experiments.locks import lock_rows
from experiments.timeline.elements import ExperimentError

from ..models import Network, Node, Trial
from .async_deploy import nodes_async_deploy_schedule
from .locking import joined_transaction, trial_maker_lock
from .nodes import node_from_template


def node_chain_cut(*, network: Network, node: Node, reason: str) -> list[int]:
    """Fail every alive node after `node` in its chain (and their trials); `node` becomes head."""
    later = list(Node.objects.filter(network_id=network.pk, degree__gt=node.degree, failed=False)
                 .values_list("pk", flat=True))
    now = timezone.now()
    if later:
        Node.objects.filter(pk__in=later).update(failed=True, failed_reason=reason[:1024], failed_at=now)
        Trial.objects.filter(node_id__in=later, failed=False).update(
            failed=True, failed_reason=f"its node failed: {reason}"[:1024], failed_at=now)
    network.head, network.n_nodes, network.full = node, node.degree + 1, False
    network.save(update_fields=["head", "n_nodes", "full", "updated_at"])
    return later


def chain_network_create(*, maker, experiment, participant, position: int, start_node: Node | None) -> Network:
    """One chain with its start node (from a template, or from `create_initial_seed`)."""
    network = maker.network_class(trial_maker_id=maker.id, participant=participant, position=position)
    network.save(force_insert=True)
    fields = {"trial_maker_id": maker.id, "network": network, "degree": 0}
    if start_node is not None:
        node = node_from_template(start_node, cls=type(start_node), **fields)
    else:
        node = maker.node_class(**fields)
        node.seed = node.create_initial_seed(experiment, participant)
        node.definition = node.create_definition_from_seed(node.seed, experiment, participant)
        node.ready = not node.has_async_on_deploy()
    node.save(force_insert=True)
    holders_register_pending([node])
    network.head, network.n_nodes = node, 1
    network.full = False  # its start node takes trials (max_nodes_per_chain >= 1)
    network.save(update_fields=["head", "n_nodes", "full", "updated_at"])
    if not node.ready:
        nodes_async_deploy_schedule(node_ids=[node.pk])
    return network


def chain_networks_deploy(*, maker, experiment) -> int:
    """Create the missing shared chains of an 'across' maker (idempotent)."""
    with joined_transaction():
        trial_maker_lock(trial_maker_id=maker.id)
        existing = set(Network.objects.filter(trial_maker_id=maker.id, participant__isnull=True)
                       .values_list("position", flat=True))
        templates = maker.start_nodes_for(experiment=experiment, participant=None)
        created = 0
        for position in range(maker.chains_per_experiment):
            if position not in existing:
                chain_network_create(maker=maker, experiment=experiment, participant=None, position=position,
                                     start_node=templates[position] if templates else None)
                created += 1
        nodes_async_deploy_schedule(trial_maker_id=maker.id)
        return created


def chain_networks_create_for_participant(*, maker, experiment, participant) -> int:
    """Create a 'within' maker's chains for one participant (idempotent)."""
    with joined_transaction():
        existing = set(Network.objects.filter(trial_maker_id=maker.id, participant_id=participant.pk)
                       .values_list("position", flat=True))
        templates = maker.start_nodes_for(experiment=experiment, participant=participant)
        created = 0
        for position in range(maker.chains_per_participant):
            if position not in existing:
                chain_network_create(maker=maker, experiment=experiment, participant=participant, position=position,
                                     start_node=templates[position] if templates else None)
                created += 1
        return created


def chain_grow(*, maker, trial: Trial, participant, experiment) -> Node | None:
    """If `trial` completed its node's quota, create the next node of the chain, exactly once.

    Runs under the maker lock and a row lock on the network; the head and the count of the
    node's finalized trials are read fresh under them, so concurrent submits cannot fork.
    """
    if trial.is_repeat_trial or trial.network_id is None:
        return None
    with joined_transaction():
        trial_maker_lock(trial_maker_id=maker.id)
        network = lock_rows(Network.objects.select_related("head").filter(pk=trial.network_id)).first()
        if network is None or network.failed or network.head_id != trial.node_id:
            return None
        node = network.head
        if node.failed:
            return None
        trials = list(Trial.objects.filter(node=node, finalized=True, failed=False, is_repeat_trial=False)
                      .order_by("id"))
        if len(trials) < maker.trials_per_node:
            return None
        seed = node.summarize_trials(trials, experiment, participant)
        child = maker.node_class(trial_maker_id=maker.id, network=network, parent=node, degree=node.degree + 1,
                                 block=node.block, seed=seed)
        definition = child.create_definition_from_seed(seed, experiment, participant)
        if not isinstance(definition, dict):
            raise ExperimentError(f"{type(child).__name__}.create_definition_from_seed must return a dict")
        child.definition = definition
        child.ready = not child.has_async_on_deploy()
        child.save(force_insert=True)
        holders_register_pending([child])
        network.head, network.n_nodes = child, child.degree + 1
        # PsyNet's count: max_nodes_per_chain nodes take trials; the node grown from the last of
        # them keeps the chain's end state and takes none.
        network.full = maker.max_nodes_per_chain is not None and network.n_nodes > maker.max_nodes_per_chain
        network.save(update_fields=["head", "n_nodes", "full", "updated_at"])
        if not child.ready:
            nodes_async_deploy_schedule(node_ids=[child.pk])
        return child
