"""Preparing a trial costs a bounded number of queries, whatever the size of the experiment."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experiments import services
from experiments.models import Participant
from trials.models import Node, Trial

from . import sources
from .helpers import page_label, submit

pytestmark = pytest.mark.django_db

#: Queries of a submit that stores a trial's answer and allocates the next trial.
MAX_QUERIES = 16


def submit_counting(participant):
    with CaptureQueriesContext(connection) as queries:
        participant = submit(participant)
    return participant, len(queries)


def allocation_costs(maker_id: str) -> list[int]:
    """Queries of: intro → first trial, answer → second trial, answer → third trial."""
    participant = services.participant_create()
    costs = []
    for _ in range(3):
        participant, n = submit_counting(participant)
        assert page_label(participant) == "rate"
        costs.append(n)
    assert Trial.objects.filter(participant=participant, trial_maker_id=maker_id).count() == 3
    return costs


def bulk_history(maker_id: str, *, n_participants: int, trials_each: int) -> None:
    """Past participants and their finalized trials, spread evenly over the nodes (one SQL insert)."""
    Participant.objects.bulk_create([Participant(worker_id=f"old{i}") for i in range(n_participants)])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO experiments_trial (type, vars, trial_maker_id, node_id, participant_id, number, block,
                                           definition, answer, finalized, is_repeat_trial, failed, failed_reason,
                                           created_at, updated_at)
            SELECT 'StaticTrial', '{}', %(maker)s, n.ids[((p.rn * %(k)s + k) %% n.cnt) + 1], p.id, k + 1,
                   'default', '{}', '"a"', true, false, false, '', now(), now()
            FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM experiments_participant
                  WHERE worker_id LIKE 'old%%') p
            CROSS JOIN generate_series(0, %(k)s - 1) AS k
            CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS cnt FROM experiments_node
                        WHERE trial_maker_id = %(maker)s) n
            """,
            {"maker": maker_id, "k": trials_each},
        )
        cursor.execute("ANALYZE experiments_trial")
    nodes = Node.objects.filter(trial_maker_id=maker_id)
    nodes.update(n_trials=n_participants * trials_each // nodes.count())


def test_allocation_queries_do_not_grow_with_nodes_and_trials(make_experiment, django_assert_max_num_queries):
    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(3)]",
                                   expected_trials_per_participant=3).replace('id_="m"', 'id_="small"'))
    small = allocation_costs("small")

    make_experiment(sources.static(nodes="[StaticNode(definition={'i': i}) for i in range(2000)]",
                                   expected_trials_per_participant=3).replace('id_="m"', 'id_="big"'))
    bulk_history("big", n_participants=2000, trials_each=10)
    assert Node.objects.filter(trial_maker_id="big").count() == 2000
    assert Trial.objects.filter(trial_maker_id="big").count() == 20_000
    big = allocation_costs("big")

    assert big == small, (big, small)
    assert max(big) <= MAX_QUERIES
    # The same, asserted the standard way for the largest case.
    participant = submit(services.participant_create())
    with django_assert_max_num_queries(MAX_QUERIES):
        submit(participant)
    assert sorted(set(Node.objects.filter(trial_maker_id="big").values_list("n_trials", flat=True))) == [10, 11]


def test_chain_allocation_and_growth_queries_are_bounded(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=3, expected_trials_per_participant=3))
    costs = allocation_costs_chain()
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=300, expected_trials_per_participant=3)
                    .replace('id_="c"', 'id_="c2"'))
    for _ in range(5):
        participant = services.participant_create()
        while page_label(participant) != "end_successful":
            participant = submit(participant)
    assert allocation_costs_chain() == costs
    # Growth adds the maker lock (again), the locked network, the node's trials, the node, the head.
    assert max(costs) <= MAX_QUERIES + 5


def allocation_costs_chain() -> list[int]:
    participant = services.participant_create()
    costs = []
    for _ in range(3):
        participant, n = submit_counting(participant)
        assert page_label(participant) == "answer"
        costs.append(n)
    return costs
