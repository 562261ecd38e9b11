"""PsyNet-style experiments (ported by changing only their import lines) run with bots.

Each experiment's own `test_check_bot` (PsyNet's style: no `super()`) checks each bot, and these
tests check what it cannot see: chain lengths, files next to experiment.py, feedback pages.
"""

import os

import pytest

from assets.models import Asset
from experiments.bots import Bot
from trials.models import Network, Trial

# transaction=True: deploy makes cached assets in threads, on their own connections.
pytestmark = pytest.mark.django_db(transaction=True)


def run_bots(experiment, n=None):
    bots = [Bot(experiment=experiment).run() for _ in range(n or experiment.test_n_bots)]
    for bot in bots:
        assert bot.error is None, bot.traceback
        experiment.test_check_bot(bot)
    return bots


def test_static_rating_reads_files_next_to_experiment_py_and_runs_code_blocks_in_show_trial(
        psynet_style, tmp_path):
    cwd = os.getcwd()
    experiment = psynet_style("static_rating")
    assert os.getcwd() == cwd  # the folder is the working directory only while experiment code runs
    cards = Asset.objects.filter(kind="cached_function")
    assert cards.count() == 3 and set(cards.values_list("status", flat=True)) == {"deposited"}
    stored = sorted((tmp_path / "storage" / key).read_text() for key in cards.values_list("storage_key", flat=True))
    assert stored == ["CARD for meadow\n", "CARD for thunder\n", "CARD for velvet\n"]  # from card_template.txt

    bots = run_bots(experiment)
    for bot in bots:
        assert bot.pages == ["info"] + ["rate", "sure"] * 3 and bot.participant.page_label == "end_successful"
        # save_answer="last_rating" kept the rating; the trial's answer is the last page's.
        assert bot.participant.vars["last_rating"] == str(2 + bot.participant.pk % 3)
        assert bot.participant.answer == "sure"


def test_imitation_chain_gives_max_nodes_per_chain_trials_and_end_feedback(psynet_style):
    experiment = psynet_style("imitation_chain")
    maker = experiment.program.modules["reproduction"]
    assert maker.performance_threshold == 0.5 and maker.give_end_feedback_passed  # class attributes
    bots = run_bots(experiment)
    for bot in bots:
        network = Network.objects.get(participant=bot.participant)
        # As in PsyNet: 4 nodes take trials; a 5th keeps the chain's end state and takes none.
        assert network.full and network.n_nodes == 5
        assert Trial.objects.filter(network=network).count() == 4
        exact = bot.participant.pk % 2 == 0
        assert ("end_feedback" in bot.pages) is exact
        if exact:
            assert bot.participant.vars["performance_check"]["reproduction"] == {"score": 1.0, "passed": True}


def test_quiz_checks_performance_every_trial_with_a_class_attribute_threshold(psynet_style, client):
    experiment = psynet_style("checks_and_options")
    maker = experiment.program.modules["quiz"]
    assert maker.performance_threshold == 0.99 and not maker.balance_across_nodes
    assert Asset.objects.get(kind="cached").status == "deposited"  # asset("instructions.txt")
    bots = run_bots(experiment, n=4)
    wrong = [bot for bot in bots if bot.participant.pk % 2]
    assert wrong and all(bot.pages == ["info", "answer"] for bot in wrong)  # failed at the first miss
    assert all(bot.participant.page_label == "end_unsuccessful" for bot in wrong)


def test_failed_validation_keeps_the_participant_on_the_page(psynet_style):
    from experiments import services
    from experiments.services import AnswerRejected

    psynet_style("checks_and_options")
    participant = services.participant_create()
    participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                           raw_answer=None).participant
    assert participant.page_label == "answer"
    with pytest.raises(AnswerRejected, match="Please type an answer."):
        services.response_submit(token=participant.token, page_uuid=participant.page_uuid, raw_answer="  ")
    participant.refresh_from_db()
    assert participant.page_label == "answer" and not participant.trials.filter(finalized=True).exists()
