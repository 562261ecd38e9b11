"""ChainTrialMaker: across and within chains, growth, fullness, waiting, failure propagation."""

import pytest

from experiments import services
from experiments.timeline.elements import ExperimentError
from trials.models import Network, Node, Trial

from . import sources
from .helpers import page_label, run_bot, run_to_end, submit
from .sources import Raw

pytestmark = pytest.mark.django_db


def chain_values(network: Network) -> list:
    return [n.definition["value"] for n in network.nodes.filter(failed=False).order_by("degree")]


def networks() -> list[Network]:
    return list(Network.objects.order_by("participant_id", "position"))


def test_across_chains_are_created_at_deploy_and_grow_from_each_answer(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=2, max_nodes_per_chain=4))
    assert [(n.n_nodes, chain_values(n)) for n in networks()] == [(1, [0]), (1, [0])]
    assert {type(n).__name__ for n in networks()} == {"ChainNetwork"}
    run_bot()  # one trial on each chain (no revisiting): each grows by one node
    assert [chain_values(n) for n in networks()] == [[0, 1], [0, 1]]
    run_bot()
    run_bot()
    assert not any(n.full for n in networks())  # 4 nodes have trials only once the 4th is answered
    run_bot()
    # As in PsyNet, max_nodes_per_chain=4 nodes take trials (4 per chain); the 5th keeps the end state.
    assert [chain_values(n) for n in networks()] == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]
    assert all(n.full for n in networks())
    assert Trial.objects.filter(finalized=True).count() == 8
    late = run_bot()  # chains are full: no trials, straight on
    assert not late.trials.exists() and late.complete
    for network in networks():
        nodes = list(network.nodes.order_by("degree"))
        assert [n.parent_id for n in nodes] == [None] + [n.pk for n in nodes[:-1]]
        assert nodes[1].seed == {"value": 1, "from": [nodes[0].trials.get().pk]}
        assert {type(n).__name__ for n in nodes} == {"CN"}


def test_trials_per_node_waits_for_that_many_answers(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, trials_per_node=2,
                                  max_nodes_per_chain=3, expected_trials_per_participant=1))
    run_bot()
    (network,) = networks()
    assert network.n_nodes == 1 and network.head.n_trials == 1
    run_bot()
    network.refresh_from_db()
    assert network.n_nodes == 2
    first = network.nodes.get(degree=0)
    assert sorted(network.head.seed["from"]) == sorted(first.trials.values_list("pk", flat=True))


def test_within_chains_belong_to_their_participant(make_experiment):
    make_experiment(sources.chain(chain_type="within", chains_per_participant=2, max_nodes_per_chain=3,
                                  expected_trials_per_participant=10))
    first, second = run_bot(), run_bot()
    for participant in (first, second):
        own = list(Network.objects.filter(participant=participant).order_by("position"))
        assert len(own) == 2 and all(n.full for n in own)
        assert [chain_values(n) for n in own] == [[0, 1, 2, 3], [0, 1, 2, 3]]
        # Round robin over the participant's chains: shortest chain first; 3 trials per chain.
        positions = [t.network.position for t in participant.trials.order_by("number")]
        assert positions == [0, 1, 0, 1, 0, 1]
    assert Network.objects.filter(participant__isnull=True).count() == 0


def test_start_nodes_as_a_list_or_a_function(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=2,
                                  start_nodes=Raw("[CN(definition={'value': 10}), CN(definition={'value': 20})]")))
    assert sorted(chain_values(n)[0] for n in networks()) == [10, 20]

    extra = '''
def starts(participant):
    return [CN(definition={"value": participant.pk * 100})]
'''
    make_experiment(sources.chain(chain_type="within", chains_per_participant=1, start_nodes=Raw("starts"),
                                  extra=extra))
    bot = run_bot()
    assert chain_values(Network.objects.get(participant=bot))[0] == bot.pk * 100


def test_balance_across_chains_serves_the_shortest_chain_first(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=3, expected_trials_per_participant=1,
                                  max_nodes_per_chain=10))
    for _ in range(6):
        run_bot()
    assert sorted(n.n_nodes for n in networks()) == [3, 3, 3]


def test_allow_revisiting_networks(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=3,
                                  max_nodes_per_chain=10))
    assert run_bot().trials.count() == 1
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=3,
                                  max_nodes_per_chain=10, allow_revisiting_networks=True).replace('id_="c"', 'id_="c2"'))
    assert run_bot().trials.count() == 3


def test_a_busy_chain_makes_participants_wait_when_asked(make_experiment, settings):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1,
                                  max_nodes_per_chain=5, wait_for_networks=True, max_wait_time=30))
    holder = submit(services.participant_create())
    assert page_label(holder) == "answer"  # holds the chain's only place
    waiter = submit(services.participant_create())
    assert page_label(waiter) == "c:wait"
    waiter = submit(waiter)
    assert page_label(waiter) == "c:wait"  # still busy
    holder = submit(holder)  # answers: the chain grows
    waiter = submit(waiter)
    assert page_label(waiter) == "answer"
    assert waiter.trials.get().node.degree == 1


def test_waiting_ends_after_max_wait_time(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1,
                                  wait_for_networks=True, max_wait_time=0))
    submit(services.participant_create())
    waiter = submit(services.participant_create())
    assert page_label(waiter) == "end_successful" and not waiter.trials.exists()


def test_without_waiting_a_busy_chain_is_skipped(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1))
    submit(services.participant_create())
    assert page_label(submit(services.participant_create())) == "end_successful"


def test_failing_a_participant_cuts_the_chain_back_to_their_node(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1,
                                  max_nodes_per_chain=10))
    first, second = run_bot(), run_bot()
    third = submit(services.participant_create())  # in progress on degree 2
    (network,) = networks()
    assert chain_values(network) == [0, 1, 2]
    assert services.participant_fail(participant_id=first.pk, reason="failed attention check")
    network.refresh_from_db()
    assert chain_values(network) == [0] and network.n_nodes == 1 and network.head.degree == 0
    assert network.head.n_trials == 0
    assert Node.objects.filter(network=network, failed=True).count() == 2
    assert all(t.failed for t in Trial.objects.all())
    assert not second.failed and not Trial.objects.filter(participant=third, failed=False).exists()
    # The third participant still answers (kept, but grows nothing); then the chain regrows.
    third = run_to_end(third)
    assert third.trials.get().answer == 3 and third.trials.get().failed
    network.refresh_from_db()
    assert network.n_nodes == 1
    run_bot()
    network.refresh_from_db()
    assert chain_values(network) == [0, 1] and network.nodes.filter(degree=1).count() == 2


def test_without_propagate_failure_the_chain_keeps_their_contribution(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1,
                                  max_nodes_per_chain=10, propagate_failure=False))
    first = run_bot()
    run_bot()
    services.participant_fail(participant_id=first.pk, reason="x")
    (network,) = networks()
    assert chain_values(network) == [0, 1, 2]
    assert not first.trials.get().failed


def test_an_unfinished_trial_of_a_failed_participant_frees_the_head(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1,
                                  max_nodes_per_chain=10))
    holder = submit(services.participant_create())
    assert networks()[0].head.n_trials == 1
    services.participant_fail(participant_id=holder.pk, reason="left")
    assert networks()[0].head.n_trials == 0
    bot = run_bot()
    assert bot.trials.get().node.degree == 0
    assert chain_values(networks()[0]) == [0, 1]


def test_repeat_trials_do_not_grow_chains(make_experiment):
    make_experiment(sources.chain(chain_type="across", chains_per_experiment=2, expected_trials_per_participant=2,
                                  n_repeat_trials=1, max_nodes_per_chain=10))
    bot = run_bot()
    trials = list(bot.trials.order_by("number"))
    assert [t.is_repeat_trial for t in trials] == [False, False, True]
    assert sorted(n.n_nodes for n in networks()) == [2, 2]


def test_node_definitions_must_be_dicts(make_experiment):
    trial = sources.CHAIN_TRIAL.replace('return {"value": seed["value"]}', 'return seed["value"]')
    make_experiment(sources.chain(trial=trial, chain_type="across", chains_per_experiment=1,
                                  start_nodes=Raw("[CN(definition={'value': 1})]"), max_nodes_per_chain=3))
    with pytest.raises(ExperimentError, match="create_definition_from_seed"):
        run_bot()


@pytest.mark.parametrize("knobs, message", [
    ({"chain_type": "sideways", "chains_per_experiment": 1}, "chain_type"),
    ({"chain_type": "across"}, "chains_per_experiment"),
    ({"chain_type": "within", "chains_per_experiment": 2}, "chains_per_participant"),
    ({"chain_type": "across", "chains_per_experiment": 1, "trials_per_node": 0}, "trials_per_node"),
    ({"chain_type": "across", "chains_per_experiment": 1, "max_nodes_per_chain": 0}, "max_nodes_per_chain"),
    ({"chain_type": "across", "chains_per_experiment": 2, "start_nodes": Raw("[CN()]")}, "start_nodes"),
    ({"chain_type": "within", "chains_per_participant": 1, "recruit_mode": "n_trials"}, "across"),
    ({"chain_type": "across", "chains_per_experiment": 1, "node_class": Raw("StaticNode")}, "node_class"),
])
def test_bad_chain_knobs_are_reported_at_load(make_experiment, knobs, message):
    source = sources.chain(**knobs)
    if "node_class" in knobs:
        source = source.replace("node_class=CN, ", "")
    with pytest.raises(ExperimentError, match=message):
        make_experiment(source, deploy=False)


def test_trials_of_abandoned_participants_are_released(make_experiment):
    from trials import services as trial_services

    make_experiment(sources.chain(chain_type="across", chains_per_experiment=1, expected_trials_per_participant=1,
                                  max_nodes_per_chain=10))
    holder = submit(services.participant_create())
    assert page_label(submit(services.participant_create())) == "end_successful"  # the head is taken
    assert trial_services.trials_release_abandoned() == 0  # still working: nothing to release
    assert services.participants_mark_abandoned(idle_seconds=-1) >= 1
    assert trial_services.trials_release_abandoned() == 1
    assert holder.trials.get().failed and networks()[0].head.n_trials == 0
    bot = run_bot()
    assert bot.trials.get().node.degree == 0 and chain_values(networks()[0]) == [0, 1]
