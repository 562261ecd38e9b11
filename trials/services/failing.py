"""Failing trials and giving their places back: node counts go down, chains grown from a
failed trial are cut back.

Lock order: participant row, then the maker lock, then network rows (`select_for_update`).
Idempotent: trials already failed are not counted again.
"""

from collections import Counter, defaultdict

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from experiments.loading import get_experiment
from experiments.locks import lock_row, lock_rows
from experiments.models import Participant

from ..models import Network, Node, Trial
from .chains import node_chain_cut
from .locking import joined_transaction, trial_maker_lock


def participant_trials_fail(*, maker, participant, reason: str, include_finalized: bool = False) -> int:
    """Fail the participant's trials in this maker (unfinished ones; with `include_finalized`,
    all) and give their places back: node counts go down, chains grown from them are pruned."""
    with joined_transaction():
        trial_maker_lock(trial_maker_id=maker.id)
        queryset = Trial.objects.filter(trial_maker_id=maker.id, participant_id=participant.pk, failed=False)
        if not include_finalized:
            queryset = queryset.filter(finalized=False)
        trials = list(queryset.select_related("node"))
        if not trials:
            return 0
        Trial.objects.filter(pk__in=[t.pk for t in trials]).update(
            failed=True, failed_reason=reason[:1024], failed_at=timezone.now())
        counted = [t for t in trials if not t.is_repeat_trial and not t.node.failed]
        if maker.is_chain:
            _chain_release(maker=maker, trials=counted)
        else:
            _nodes_decrement(Counter(t.node_id for t in counted))
        return len(trials)


def trials_release_abandoned(*, limit: int = 500) -> int:
    """Beat: unfinished trials of abandoned participants fail, giving their places back (a chain
    head held by someone who left would otherwise wait for ever). Returns trials released."""
    abandoned = Participant.Status.ABANDONED
    experiment = get_experiment()
    pairs = list(Trial.objects.filter(finalized=False, failed=False, participant__status=abandoned)
                 .values_list("participant_id", "trial_maker_id").distinct()[:limit])
    released = 0
    for participant_id, trial_maker_id in pairs:
        maker = experiment.program.modules.get(trial_maker_id)
        if not hasattr(maker, "trial_class"):
            continue  # a trial maker no longer in the experiment
        with transaction.atomic():  # lock order: participant row, then the maker (as a submit does)
            participant = lock_row(Participant, participant_id, no_key=True)
            if participant is not None and participant.status == abandoned:
                released += participant_trials_fail(maker=maker, participant=participant,
                                                    reason="participant abandoned the experiment")
    return released


def _nodes_decrement(counts: Counter) -> None:
    by_amount: dict[int, list[int]] = defaultdict(list)
    for node_id, amount in counts.items():
        by_amount[amount].append(node_id)
    for amount, node_ids in by_amount.items():
        Node.objects.filter(pk__in=node_ids).update(n_trials=F("n_trials") - amount)


def _chain_release(*, maker, trials: list[Trial]) -> None:
    """Failed trials on chains: a head gets its place back; with propagate_failure, a chain
    grown from a failed trial is cut back to that trial's node, which then takes a new trial."""
    by_network: dict[int, list[Trial]] = defaultdict(list)
    for trial in trials:
        if trial.network_id is not None:
            by_network[trial.network_id].append(trial)
    if not by_network:
        return
    networks = {network.pk: network for network in lock_rows(Network.objects.filter(pk__in=list(by_network)))}
    decrements: Counter = Counter()
    for network_id, network_trials in by_network.items():
        network = networks.get(network_id)
        if network is None or network.failed:
            continue
        earliest = min(network_trials, key=lambda t: t.node.degree)
        if network.head_id == earliest.node_id:
            decrements.update(t.node_id for t in network_trials if t.node_id == network.head_id)
        elif maker.propagate_failure:
            node_chain_cut(network=network, node=earliest.node,
                           reason=f"grown from trial {earliest.pk}, which failed")
            decrements.update(t.node_id for t in network_trials if t.node_id == earliest.node_id)
    _nodes_decrement(decrements)
