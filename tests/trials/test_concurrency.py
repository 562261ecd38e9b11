"""Many participants at once, each in its own thread with its own PostgreSQL connection."""

import threading
import time
from collections import Counter

import pytest
from django.db import OperationalError, connection

from experiments import services
from trials.models import Network, Node, Trial

from . import sources
from .helpers import current

pytestmark = pytest.mark.django_db(transaction=True)


def connect(attempts: int = 50) -> None:
    """Open this thread's connection; the server is shared with other test runs, so a full
    connection table is waited out rather than failing the test."""
    for attempt in range(attempts):
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if "too many clients" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.2)


def run_concurrently(n: int, *, pause_on_wait: float = 0.005) -> list[int]:
    """Start n participants at the same moment and run each to the end; return their ids."""
    barrier = threading.Barrier(n)
    ids: list[int] = []
    errors: list[BaseException] = []

    def participant_thread(index: int) -> None:
        try:
            connect()
            barrier.wait(timeout=60)
            participant = services.participant_create(worker_id=f"w{index}", is_bot=True)
            for _ in range(1000):
                runner, page = current(participant)
                if page.terminal:
                    break
                if page.label.endswith(":wait"):
                    time.sleep(pause_on_wait)
                answer = page.get_bot_response(runner.available())
                participant = services.response_submit(
                    token=participant.token, page_uuid=participant.page_uuid, raw_answer=answer).participant
            else:
                raise AssertionError(f"participant {participant.pk} never finished")
            ids.append(participant.pk)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=participant_thread, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(ids) == n
    return ids


def assert_counters_match_trials(trial_maker_id: str) -> None:
    live = Counter(Trial.objects.filter(trial_maker_id=trial_maker_id, failed=False, is_repeat_trial=False)
                   .values_list("node_id", flat=True))
    for node_id, n_trials in Node.objects.filter(trial_maker_id=trial_maker_id).values_list("id", "n_trials"):
        assert n_trials == live.get(node_id, 0), f"node {node_id}: counter {n_trials}, trials {live.get(node_id, 0)}"


def assert_no_participant_repeats_a_node() -> None:
    pairs = Counter(Trial.objects.values_list("participant_id", "node_id"))
    assert max(pairs.values()) == 1, [pair for pair, n in pairs.items() if n > 1]


def test_50_concurrent_participants_on_a_static_maker_one_round(make_experiment):
    """150 trials over 150 nodes: a racy allocator would give some node twice and another none."""
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(150)]",
                                   expected_trials_per_participant=3))
    run_concurrently(50)
    counts = list(Node.objects.values_list("n_trials", flat=True))
    assert counts == [1] * 150
    assert Trial.objects.count() == 150 and Trial.objects.filter(finalized=True).count() == 150
    assert_no_participant_repeats_a_node()
    assert_counters_match_trials("m")


def test_50_concurrent_participants_on_a_static_maker_several_rounds(make_experiment):
    """50 trials over 8 nodes: every node gets 6 or 7, however the requests interleave."""
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(8)]",
                                   expected_trials_per_participant=1))
    run_concurrently(50)
    counts = list(Node.objects.values_list("n_trials", flat=True))
    assert sum(counts) == 50 and max(counts) - min(counts) <= 1, counts
    assert_no_participant_repeats_a_node()
    assert_counters_match_trials("m")
    numbers = Counter(Trial.objects.values_list("participant_id", "number"))
    assert max(numbers.values()) == 1  # no duplicate trials


def test_20_concurrent_participants_on_across_chains_grow_without_forks(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=3, trials_per_node=2,
                                  expected_trials_per_participant=3, wait_for_networks=True, max_wait_time=120))
    run_concurrently(20)
    assert Trial.objects.filter(finalized=True, failed=False).count() == 60  # 20 participants × 3 chains
    for network in Network.objects.all():
        nodes = list(network.nodes.order_by("degree"))
        assert not any(n.failed for n in nodes)
        assert [n.degree for n in nodes] == list(range(len(nodes)))  # no forks, no duplicated nodes
        assert [n.parent_id for n in nodes] == [None] + [n.pk for n in nodes[:-1]]
        assert network.head_id == nodes[-1].pk and network.n_nodes == len(nodes)
        for node in nodes[:-1]:  # one new node per trials_per_node trials
            assert node.trials.filter(finalized=True).count() == 2
            assert sorted(node.children.get().seed["from"]) == sorted(node.trials.values_list("pk", flat=True))
        assert nodes[-1].trials.count() < 2
        assert network.trials.count() == 20  # each participant visited each chain once
    assert_no_participant_repeats_a_node()
    assert_counters_match_trials("c")
