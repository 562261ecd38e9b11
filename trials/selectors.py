"""Reads for trial makers: allocation candidates, a participant's trials, progress.

Allocation queries are one statement each, served by the `node_alloc`, `network_alloc` and
`trial_participant` indexes; their cost does not grow with the number of trials in the table.
"""

from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q

from experiments.models import ModuleState

from .models import Network, Node, Trial


def trial_for_page(*, trial_id: int) -> Trial | None:
    """A trial with its node and network (one query): what show_trial usually needs."""
    return Trial.objects.select_related("node", "network").filter(pk=trial_id).first()


def participant_trials(*, trial_maker_id: str, participant_id: int, finalized: bool = True,
                       include_failed: bool = False) -> list[Trial]:
    queryset = Trial.objects.filter(trial_maker_id=trial_maker_id, participant_id=participant_id)
    if finalized:
        queryset = queryset.filter(finalized=True)
    if not include_failed:
        queryset = queryset.filter(failed=False)
    return list(queryset.order_by("number"))


_CANDIDATE_SQL = """
WITH lowest AS (
    SELECT m.id, m.n_trials FROM {node} m
    WHERE m.trial_maker_id = %s AND m.block = %s AND NOT m.failed AND m.ready {exclude_m}
    ORDER BY m.n_trials, m.shuffle LIMIT 1
)
SELECT * FROM {node} WHERE id = COALESCE(
    (SELECT n.id FROM {node} n
     WHERE n.trial_maker_id = %s AND n.block = %s AND NOT n.failed AND n.ready
       AND n.n_trials = (SELECT n_trials FROM lowest) AND n.shuffle >= %s {exclude_n}
     ORDER BY n.shuffle LIMIT 1),
    (SELECT id FROM lowest))
"""
_EXCLUDE_USED = "AND NOT EXISTS (SELECT 1 FROM {trial} t WHERE t.participant_id = %s AND t.node_id = {alias}.id)"


def static_node_candidate(*, trial_maker_id: str, participant_id: int, block: str, allow_repeated_nodes: bool,
                          pivot: int, balance: bool = True) -> Node | None:
    """The node to give next in `block`: one of the least used eligible nodes, the first at or
    after `pivot` (random) in the nodes' random `shuffle` order, wrapping around.

    One statement (hand-written: it is the hot path, and the ORM took longer to compile it than
    PostgreSQL to run it); both lookups walk the `node_alloc` index and stop at the first
    eligible row, so the cost does not grow with the number of nodes or trials. The caller
    counts the trial with a conditional update on the `n_trials` read here
    (services.static_trial_allocate), which makes the choice race-free.
    """
    if not balance:  # balance_across_nodes=False: any eligible node, counts ignored
        queryset = Node.objects.filter(trial_maker_id=trial_maker_id, block=block, failed=False, ready=True)
        if not allow_repeated_nodes:
            queryset = queryset.filter(~Exists(Trial.objects.filter(participant_id=participant_id, node=OuterRef("pk"))))
        return queryset.order_by("?").first()
    node_table, trial_table = Node._meta.db_table, Trial._meta.db_table
    exclude_m = exclude_n = ""
    if not allow_repeated_nodes:
        exclude_m = _EXCLUDE_USED.format(trial=trial_table, alias="m")
        exclude_n = _EXCLUDE_USED.format(trial=trial_table, alias="n")
    sql = _CANDIDATE_SQL.format(node=node_table, exclude_m=exclude_m, exclude_n=exclude_n)
    used = [participant_id] if not allow_repeated_nodes else []
    params = [trial_maker_id, block, *used, trial_maker_id, block, pivot, *used]
    return next(iter(Node.objects.raw(sql, params)), None)


def static_nodes_pending(*, trial_maker_id: str, participant_id: int, blocks: list[str]) -> bool:
    """Whether nodes the participant could get are still deploying (so: wait, don't end)."""
    return Node.objects.filter(trial_maker_id=trial_maker_id, block__in=blocks, failed=False, ready=False).filter(
        ~Exists(Trial.objects.filter(participant_id=participant_id, node=OuterRef("pk")))
    ).exists()


def _chain_networks(maker, participant_id: int):
    queryset = Network.objects.filter(trial_maker_id=maker.id, failed=False, full=False)
    if maker.chain_type == "within":
        return queryset.filter(participant_id=participant_id)
    queryset = queryset.filter(participant__isnull=True)
    if not maker.allow_revisiting_networks:
        queryset = queryset.filter(~Exists(Trial.objects.filter(participant_id=participant_id, network=OuterRef("pk"))))
    return queryset


def chain_network_candidate(*, maker, participant_id: int) -> Network | None:
    """The chain to give a trial on next (its head has room), with its head node."""
    queryset = _chain_networks(maker, participant_id).filter(
        head__isnull=False, head__ready=True, head__failed=False, head__n_trials__lt=maker.trials_per_node,
    )
    if maker.chain_type == "within":
        order = ("n_nodes", "position")
    elif maker.balance_across_chains:
        order = ("n_nodes", "?")
    else:
        order = ("?",)
    return queryset.select_related("head").order_by(*order).first()


def chain_networks_busy(*, maker, participant_id: int) -> bool:
    """Whether chains the participant could join are only busy (heads full of in-progress
    trials, or still deploying): worth waiting for."""
    return _chain_networks(maker, participant_id).exists()


def repeat_trial_source(*, trial_maker_id: str, participant_id: int) -> Trial | None:
    """A random finalized main trial of the participant that has not been repeated yet."""
    return (
        Trial.objects.filter(trial_maker_id=trial_maker_id, participant_id=participant_id, finalized=True,
                             failed=False, is_repeat_trial=False)
        .filter(~Exists(Trial.objects.filter(repeat_of=OuterRef("pk"))))
        .select_related("node", "network").order_by("?").first()
    )


def network_chain(*, network_id: int, include_failed: bool = True) -> list[Node]:
    """A chain's nodes in order (degree, then creation)."""
    queryset = Node.objects.filter(network_id=network_id)
    if not include_failed:
        queryset = queryset.filter(failed=False)
    return list(queryset.order_by("degree", "id"))


def trial_maker_progress(*, maker) -> dict[str, Any]:
    """Counts for one trial maker, and whether its recruitment target is met."""
    trials = Trial.objects.filter(trial_maker_id=maker.id).aggregate(
        total=Count("id"),
        finalized=Count("id", filter=Q(finalized=True, failed=False)),
        failed=Count("id", filter=Q(failed=True)),
    )
    nodes = Node.objects.filter(trial_maker_id=maker.id, failed=False).aggregate(
        n=Count("id"), min_trials=Min("n_trials"),
    )
    finished = ModuleState.objects.filter(module_id=maker.id, finished_at__isnull=False,
                                          participant__failed=False).count()
    progress: dict[str, Any] = {
        "trial_maker": maker.id,
        "n_trials": trials["total"], "n_finalized_trials": trials["finalized"], "n_failed_trials": trials["failed"],
        "n_nodes": nodes["n"], "min_trials_per_node": nodes["min_trials"],
        "n_participants_finished": finished,
        "recruit_mode": maker.recruit_mode,
    }
    progress.update(maker.recruitment_target_met(progress))
    return progress
