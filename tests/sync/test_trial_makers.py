"""Trial makers in sync (`sync_group_type`): pairs from real threads on PostgreSQL take two
synced static trial makers; the leader's allocation decides each round's node, and the round
hook scores the round with both answers."""

from collections import Counter, defaultdict

import pytest

from experiments import services
from experiments.deployment import deployment_create
from experiments.loading import get_experiment
from experiments.models import Participant
from experiments.selectors import current_page
from experiments.timeline.elements import ExperimentError
from sync.models import BarrierWait, SyncGroup
from sync.selectors import wait_status
from trials.chain import ChainTrial, ChainTrialMaker
from trials.models import Node, Trial
from trials.static import StaticNode, StaticTrial, StaticTrialMaker

from .helpers import run_bot, run_in_threads, submit

pytestmark = pytest.mark.django_db(transaction=True)


class SyncOptionsTrial(StaticTrial):
    time_estimate = 1


class SyncOptionsChainTrial(ChainTrial):
    time_estimate = 1


def play(sync_experiment, n: int) -> list[Participant]:
    sync_experiment("synced_trials")
    deployment_create(experiment=get_experiment())
    bots = [services.participant_create(worker_id=f"bot{i}", is_bot=True) for i in range(n)]
    finished = run_in_threads(lambda b: run_bot(b.token, timeout=90), bots, threads=n)
    assert all(p.complete and not p.failed for p in finished)
    return [Participant.objects.get(pk=p.pk) for p in finished]


def test_pairs_take_each_round_on_the_node_their_leader_was_allocated(sync_experiment):
    play(sync_experiment, 4)
    groups = list(SyncGroup.objects.filter(group_type="pair"))
    assert len(groups) == 2
    for group in groups:
        members = [m.pk for m in group.participants]
        assert len(members) == 2 and group.leader_id in members
        follower = next(pk for pk in members if pk != group.leader_id)
        for maker_id, n_rounds in (("colors", 3), ("shapes", 2)):
            trials = defaultdict(dict)
            for trial in Trial.objects.filter(trial_maker_id=maker_id, participant_id__in=members):
                assert not trial.failed and trial.finalized
                trials[trial.number][trial.participant_id] = trial
            assert sorted(trials) == list(range(1, n_rounds + 1)), (maker_id, dict(trials))
            for pair in trials.values():
                leader, other = pair[group.leader_id], pair[follower]
                assert leader.node_id == other.node_id, "members of a pair got different nodes"
                # The leader's allocation came first; the follower's trial was made from it.
                assert leader.pk < other.pk and leader.created_at <= other.created_at
            # A pair that stays together never meets a node twice.
            nodes = [pair[group.leader_id].node_id for pair in trials.values()]
            assert len(set(nodes)) == len(nodes)
    # Node counts include the followers' trials.
    for node in Node.objects.all():
        assert node.n_trials == Trial.objects.filter(node=node, failed=False).count()
    # "shapes" has 2 nodes for 3 expected rounds: after two rounds the leader gets none and the
    # pair stops together; both pairs used both nodes.
    assert Counter(Node.objects.filter(trial_maker_id="shapes").values_list("n_trials", flat=True)) == {4: 2}


def test_the_round_hook_sees_both_answers_and_scores_the_round(sync_experiment):
    participants = play(sync_experiment, 4)
    for group in SyncGroup.objects.filter(group_type="pair"):
        assert group.vars["rounds"] == 3 and group.vars["shape_rounds"] == 2   # once per round
        assert not group.active                                                # the GroupCloser ran
    by_pk = {p.pk: p for p in participants}
    for participant in participants:
        rounds = participant.var.rounds
        assert [r["number"] for r in rounds] == [1, 2, 3]
        partner = next(p for p in participant.sync_groups[0].participants if p.pk != participant.pk)
        mine = {t.number: t for t in Trial.objects.filter(trial_maker_id="colors", participant=participant)}
        theirs = {t.number: t for t in Trial.objects.filter(trial_maker_id="colors", participant=partner)}
        for r in rounds:
            number = r["number"]
            # Both members' answers, as stored on their trials.
            assert r["answers"] == {str(participant.pk): mine[number].answer,
                                    str(partner.pk): theirs[number].answer}
            expected = 1.0 if mine[number].answer == theirs[number].answer else 0.0
            assert r["score"] == expected and mine[number].score == expected    # score saved on the trial
            assert r["node"] == mine[number].node_id == theirs[number].node_id
        assert by_pk[partner.pk].var.rounds == rounds          # the same round, seen by both
        assert len(participant.var.shape_nodes) == 2
        assert all(a == b for a, b in participant.var.shape_nodes)


def test_two_synced_makers_use_their_own_waiting_areas(sync_experiment):
    play(sync_experiment, 2)
    waits = Counter(BarrierWait.objects.values_list("barrier_id", flat=True))
    assert waits == {
        "pair_grouper": 2, "closer_pair": 2,
        # One allocate meeting per round, plus the last, where the leader got no trial (colors:
        # its 3 trials done; shapes: no node left) and the pair stopped together.
        "colors:sync_allocate": 8, "colors:sync_round": 6,
        "shapes:sync_allocate": 6, "shapes:sync_round": 4,
    }
    assert set(BarrierWait.objects.values_list("outcome", flat=True)) == {"released"}


@pytest.mark.parametrize("kwargs, message", [
    ({"on_round_complete": lambda group: None}, "on_round_complete needs sync_group_type"),
    ({"sync_group_type": "pair", "n_repeat_trials": 1}, "n_repeat_trials is not supported"),
    ({"sync_group_type": "pair", "sync_on_timeout": "proceed"}, "sync_on_timeout must be one of"),
    ({"sync_group_type": ""}, "sync_group_type must be a non-empty string"),
    ({"sync_group_type": "pair", "on_round_complete": "score"}, "on_round_complete must be a function"),
])
def test_invalid_sync_options_are_reported_when_the_experiment_loads(kwargs, message):
    with pytest.raises(ExperimentError, match=message):
        StaticTrialMaker("m", SyncOptionsTrial, [StaticNode(definition={})], 1, **kwargs)


def test_within_chains_cannot_be_synced():
    with pytest.raises(ExperimentError, match="sync_group_type needs shared chains"):
        ChainTrialMaker("c", trial_class=SyncOptionsChainTrial, chain_type="within", chains_per_participant=1,
                        expected_trials_per_participant=1, sync_group_type="pair")


def step_all(people: list[Participant], until) -> None:
    """Round-robin: everyone not waiting at an unreleased barrier answers their page, until
    `until()` holds or all are at an end page."""
    for _ in range(200):
        if until():
            return
        moved = False
        for p in people:
            participant = Participant.objects.get(pk=p.pk)
            page = current_page(participant)
            if page.terminal:
                continue
            if page.control.kind == "sync_wait" and not wait_status(participant)["released"]:
                continue
            submit(participant)
            moved = True
            if until():
                return
        if not moved:
            raise AssertionError("nobody can move")
    raise AssertionError("never got there")


def waiting_at(participant_id: int, barrier_id: str) -> bool:
    return BarrierWait.objects.filter(participant_id=participant_id, barrier_id=barrier_id,
                                      released_at__isnull=True).exists()


def has_trial(participant_id: int, number: int) -> bool:
    return Trial.objects.filter(participant_id=participant_id, trial_maker_id="picks", number=number).exists()


def test_when_the_leader_who_allocated_fails_the_new_leader_allocates_the_round_again(sync_experiment):
    """Trio (min size 2). Round 2: the leader allocates and waits, then the member who will
    lead next arrives (allocating nothing: it is not the leader yet), then the leader fails.
    When the third arrives, no active member has an allocation: the round is replayed with the
    new leader allocating, and the two go on together."""
    sync_experiment("synced_trio")
    deployment_create(experiment=get_experiment())
    people = [services.participant_create(worker_id=f"t{i}") for i in range(3)]
    step_all(people, lambda: SyncGroup.objects.filter(group_type="trio").exists()
             and has_trial(SyncGroup.objects.get().leader_id, 1))
    group = SyncGroup.objects.get(group_type="trio")
    old_leader = group.leader_id
    leader = next(p for p in people if p.pk == old_leader)
    survivors = sorted((p for p in people if p.pk != old_leader), key=lambda p: p.pk)
    next_leader, other = survivors        # check_leader: the active member with the smallest id
    step_all(survivors, lambda: all(waiting_at(p.pk, "picks:sync_round") for p in survivors))
    step_all([leader], lambda: has_trial(old_leader, 2) and waiting_at(old_leader, "picks:sync_allocate"))
    step_all([next_leader], lambda: waiting_at(next_leader.pk, "picks:sync_allocate"))
    assert not has_trial(next_leader.pk, 2) and not has_trial(other.pk, 2)
    abandoned = Trial.objects.get(participant_id=old_leader, trial_maker_id="picks", number=2)
    services.participant_fail(participant_id=old_leader, reason="closed the tab")
    step_all(survivors, lambda: all(current_page(Participant.objects.get(pk=p.pk)).terminal for p in survivors))

    group.refresh_from_db()
    assert group.active and group.leader_id == next_leader.pk and group.n_active_participants == 2
    abandoned.refresh_from_db()
    assert abandoned.failed
    for node in Node.objects.all():
        assert node.n_trials == Trial.objects.filter(node=node, failed=False).count()
    for p in survivors:
        p = Participant.objects.get(pk=p.pk)
        assert p.complete and not p.failed
        # Rounds 1, 2, 2 replayed, 3, and the meeting where the leader had no trial left.
        assert BarrierWait.objects.filter(participant_id=p.pk, barrier_id="picks:sync_allocate").count() == 5
    trials = defaultdict(dict)
    for trial in Trial.objects.filter(trial_maker_id="picks", participant_id__in=[p.pk for p in survivors],
                                      failed=False):
        trials[trial.number][trial.participant_id] = trial
    assert sorted(trials) == [1, 2, 3]
    for number in (2, 3):   # the new leader allocated, the other followed
        pair = trials[number]
        assert pair[next_leader.pk].node_id == pair[other.pk].node_id
        assert pair[next_leader.pk].pk < pair[other.pk].pk


def test_a_pair_takes_a_synced_chain_together_and_both_answers_seed_the_next_node(sync_experiment):
    sync_experiment("synced_chain")
    deployment_create(experiment=get_experiment())
    bots = [services.participant_create(worker_id=f"c{i}", is_bot=True) for i in range(2)]
    finished = run_in_threads(lambda b: run_bot(b.token, timeout=90), bots, threads=2)
    assert all(p.complete and not p.failed for p in finished)
    by_number = defaultdict(list)
    for trial in Trial.objects.filter(trial_maker_id="chains"):
        assert trial.finalized and not trial.failed
        by_number[trial.number].append(trial)
    assert sorted(by_number) == [1, 2]
    for pair in by_number.values():
        assert len(pair) == 2 and pair[0].node_id == pair[1].node_id and pair[0].network_id == pair[1].network_id
    # Each chain got one round from the pair, and grew once from both answers.
    assert {pair[0].network_id for pair in by_number.values()} == set(
        Node.objects.filter(trial_maker_id="chains", degree=0).values_list("network_id", flat=True))
    grown = list(Node.objects.filter(trial_maker_id="chains", degree=1, failed=False))
    assert len(grown) == 2
    for node in grown:
        assert node.definition == {"answers": sorted(f"p{p.pk}" for p in finished)}


def test_a_participant_without_a_group_plays_a_synced_maker_alone(sync_experiment):
    sync_experiment("synced_alone")
    deployment_create(experiment=get_experiment())
    participant = services.participant_create(worker_id="solo")
    done = run_bot(participant.token, timeout=30)
    assert done.complete and not done.failed
    trials = list(Trial.objects.filter(trial_maker_id="solo", participant=participant))
    assert [t.number for t in trials] == [1, 2] and len({t.node_id for t in trials}) == 2
    assert all(t.finalized and not t.failed for t in trials)
    assert set(BarrierWait.objects.values_list("outcome", flat=True)) == {"no_group"}
