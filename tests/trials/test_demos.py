"""The demos run end to end with bots, through the service layer."""

import pytest

from experiments.bots import Bot
from trials.models import Network, Node, Trial


def run_bot(experiment, worker_id: str) -> Bot:
    """The platform's in-process bot (the same one `manage.py test_experiment` runs)."""
    bot = Bot(worker_id=worker_id, experiment=experiment)
    bot.run()
    bot.participant.refresh_from_db()
    return bot


@pytest.mark.django_db
def test_static_demo_bots_take_every_node_once_then_a_repeat_and_pass(use_demo):
    experiment = use_demo("static")
    bots = [run_bot(experiment, f"bot{i}") for i in range(experiment.test_n_bots)]
    for bot in bots:
        experiment.test_check_bot(bot)
        assert bot.participant.vars["performance_check"]["compare"] == {"score": 1.0, "passed": True}
    counts = list(Node.objects.filter(trial_maker_id="compare").values_list("n_trials", flat=True))
    assert counts == [len(bots)] * 9
    # Each bot went through the three blocks one after another.
    for bot in bots:
        blocks = [t.block for t in Trial.objects.filter(participant=bot.participant, is_repeat_trial=False)
                  .order_by("number")]
        assert [blocks[i] for i in (0, 3, 6)] == list(dict.fromkeys(blocks))
        assert len(set(blocks[0:3])) == len(set(blocks[3:6])) == len(set(blocks[6:9])) == 1


@pytest.mark.django_db
def test_chain_demo_grows_three_chains_of_five_generations(use_demo):
    experiment = use_demo("chain")
    for i in range(experiment.test_n_bots):
        experiment.test_check_bot(run_bot(experiment, f"bot{i}"))
    networks = list(Network.objects.filter(trial_maker_id="reproduction").order_by("position"))
    assert len(networks) == 3
    for network, start in zip(networks, [137, 4821, 56], strict=True):
        nodes = list(network.nodes.order_by("degree"))
        assert [n.degree for n in nodes] == [0, 1, 2, 3, 4, 5]
        assert network.full and network.n_nodes == 6 and network.head_id == nodes[-1].pk
        # Each generation reproduces the previous one (bots forget a little at odd generations).
        numbers = [n.definition["number"] for n in nodes]
        expected = [start]
        for degree in range(5):
            expected.append(expected[-1] - 1 if degree % 2 else expected[-1])
        assert numbers == expected
        assert all(n.trials.count() == 1 for n in nodes[:-1]) and nodes[-1].trials.count() == 0
    assert experiment.program.modules["reproduction"].is_complete()
