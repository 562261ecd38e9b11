"""Trials moved from the experiments app to its own app: a database migrated before the move
keeps every row, and the new app's models read them (the tables keep their names)."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from trials.models import Network, Node, Trial

BEFORE_MOVE = [("trials", None)]  # unapplies experiments.0003 too: the state before the move


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_a_populated_database_migrates_to_the_trials_app_without_losing_rows():
    _migrate(BEFORE_MOVE)
    try:
        old = MigrationExecutor(connection).loader.project_state(
            [("experiments", "0002_trials")]).apps
        Participant = old.get_model("experiments", "Participant")
        OldNetwork, OldNode, OldTrial = (old.get_model("experiments", name)
                                         for name in ("Network", "Node", "Trial"))
        participant = Participant.objects.create()
        network = OldNetwork.objects.create(type="ChainNetwork", trial_maker_id="m")
        node = OldNode.objects.create(type="ChainNode", trial_maker_id="m", network=network,
                                      definition={"x": 1}, shuffle=7)
        network.head = node
        network.save()
        OldTrial.objects.create(type="ChainTrial", trial_maker_id="m", node=node, network=network,
                                participant=participant, number=1, answer={"a": 2})
        old_ct = ContentType.objects.get_or_create(app_label="experiments", model="trial")[0]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    trial = Trial.objects.select_related("node__network").get()
    assert (trial.answer, trial.node.definition, trial.node.network.head_id) == ({"a": 2}, {"x": 1}, node.pk)
    assert (Network.objects.count(), Node.objects.count()) == (1, 1)
    assert ContentType.objects.get(pk=old_ct.pk).app_label == "trials"  # admin history follows
    Trial.objects.create(trial_maker_id="m", node=trial.node, participant=trial.participant, number=2)
    assert Trial.objects.count() == 2  # the id sequence carried over too


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
