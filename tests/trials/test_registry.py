"""Researcher subclasses of Trial/Node/Network load back as their class, with no migrations."""

import copy
import io
import pickle

import pytest
from django.apps import apps
from django.core.management import call_command

from experiments.models import Participant
from experiments.row_classes import registry
from experiments.timeline.elements import ExperimentError
from trials.chain import ChainNetwork, ChainTrial
from trials.models import Network, Node, Trial
from trials.static import StaticNode, StaticTrial

from . import sources
from .helpers import run_bot

pytestmark = pytest.mark.django_db


class RegTrial(StaticTrial):
    time_estimate = 1

    def describe(self) -> str:
        return f"reg {self.definition}"


class RegSubTrial(RegTrial):
    pass


class RegNode(StaticNode):
    class Meta:
        ordering = ["-id"]


class RegNetwork(ChainNetwork):
    pass


def make_rows():
    participant = Participant.objects.create()
    network = RegNetwork.objects.create(trial_maker_id="r")
    node = RegNode.objects.create(trial_maker_id="r", network=network, definition={"x": 1})
    plain_node = StaticNode.objects.create(trial_maker_id="r", definition={"x": 2})
    sub = RegSubTrial.objects.create(trial_maker_id="r", node=node, network=network, participant=participant,
                                     number=1, definition={"x": 1})
    reg = RegTrial.objects.create(trial_maker_id="r", node=plain_node, participant=participant, number=2)
    plain = StaticTrial.objects.create(trial_maker_id="r", node=plain_node, participant=participant, number=3)
    return sub, reg, plain


def test_rows_store_their_class_name_and_load_back_as_that_class():
    sub, reg, plain = make_rows()
    assert Trial.objects.filter(pk=sub.pk).values_list("type", flat=True).get() == "RegSubTrial"
    loaded = Trial.objects.get(pk=sub.pk)
    assert type(loaded) is RegSubTrial and loaded.describe() == "reg {'x': 1}"
    assert type(loaded.node) is RegNode and type(loaded.network) is RegNetwork  # lazy foreign keys
    joined = Trial.objects.select_related("node", "network").get(pk=sub.pk)
    assert type(joined.node) is RegNode and type(joined.network) is RegNetwork
    assert [type(t) for t in Trial.objects.order_by("number")] == [RegSubTrial, RegTrial, StaticTrial]
    assert {type(n) for n in Node.objects.all()} == {RegNode, StaticNode}
    assert type(Network.objects.get()) is RegNetwork
    assert type(loaded.node.trials.get()) is RegSubTrial  # reverse relations too


def test_subclass_querysets_hold_their_class_and_its_subclasses():
    sub, reg, plain = make_rows()
    assert set(StaticTrial.objects.values_list("pk", flat=True)) == {sub.pk, reg.pk, plain.pk}
    assert set(RegTrial.objects.values_list("pk", flat=True)) == {sub.pk, reg.pk}
    assert list(RegSubTrial.objects.values_list("pk", flat=True)) == [sub.pk]
    assert not ChainTrial.objects.exists()
    assert set(Trial.objects.values_list("pk", flat=True)) == {sub.pk, reg.pk, plain.pk}


def test_deferred_type_and_unknown_types_fall_back_to_the_queried_class():
    sub, reg, plain = make_rows()
    assert type(Trial.objects.only("id").get(pk=sub.pk)) is Trial
    Trial.objects.filter(pk=reg.pk).update(type="ClassThatWasDeleted")
    assert type(Trial.objects.get(pk=reg.pk)) is Trial


def test_subclasses_are_proxies_outside_any_installed_app():
    for cls in (RegTrial, RegSubTrial, RegNode, RegNetwork, StaticTrial, ChainNetwork):
        assert cls._meta.proxy and cls._meta.concrete_model in (Trial, Node, Network)
        assert cls not in apps.get_models()
    assert RegNode._meta.ordering == ["-id"]


def test_no_migration_is_needed_for_researcher_classes(make_experiment):
    make_experiment(sources.static(extra="class Extra(StaticNode):\n    pass\n"))
    run_bot()
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits non-zero on changes
    assert "No changes detected" in out.getvalue()


def test_pickle_and_deepcopy_keep_the_class():
    sub, reg, plain = make_rows()
    loaded = Trial.objects.get(pk=sub.pk)
    for clone in (pickle.loads(pickle.dumps(loaded)), copy.deepcopy(loaded)):
        assert type(clone) is RegSubTrial and clone.pk == sub.pk and clone.definition == {"x": 1}


def test_same_class_name_in_two_experiments_resolves_to_the_served_one(make_experiment, settings):
    source = sources.static(expected_trials_per_participant=1).replace(
        "class T(StaticTrial):", "class T(StaticTrial):\n    marker = 'MARKER'")
    first = make_experiment(source.replace("MARKER", "first"))
    first_folder = settings.EXPERIMENT
    bot = run_bot()
    second = make_experiment(source.replace("MARKER", "second"))
    assert len(registry._classes[Trial]["T"]) >= 2
    assert Trial.objects.get(participant=bot).marker == "second"
    settings.EXPERIMENT = first_folder
    assert Trial.objects.get(participant=bot).marker == "first"
    assert first is not second


def test_a_subclass_cannot_add_database_fields(make_experiment):
    extra = """
from django.db import models

class Rated(StaticTrial):
    rating = models.IntegerField(default=0)
"""
    with pytest.raises(ExperimentError, match="vars"):
        make_experiment(sources.static(extra=extra), deploy=False)
