"""Asset rows, links and holders; kinds and their declarations; function assets' cache keys."""

import pytest

from assets.functions import cache_key, fill_arguments
from assets.holders import AssetDict, AssetHolder, module_assets
from assets.kinds import (
    CachedAsset,
    CachedFunctionAsset,
    ExperimentAsset,
    ExternalAsset,
    ExternalS3Asset,
    FastFunctionAsset,
)
from assets.models import Asset, AssetLink
from assets.services import asset_link, asset_register, assets_register_declared, holder_add_assets
from experiments import services
from experiments.loading import get_experiment
from experiments.selectors import current_page
from experiments.timeline import ExperimentError, Runner

from .conftest import EXPERIMENTS
from .experiments.local.stimuli import synth_tone

LOCAL = EXPERIMENTS / "local"


def tone_a(path, frequency, duration=0.1):
    synth_tone(path, frequency, duration)


def tone_b(path, frequency, duration=0.1):
    synth_tone(path, frequency * 2, duration)


class FakeNode(AssetHolder):
    """A holder like the trials' Node: any object with a pk, a kind and a definition."""

    asset_holder_kind = "node"

    def __init__(self, pk, definition=None):
        self.pk, self.definition = pk, definition or {}


class FakeTrial(AssetHolder):
    asset_holder_kind = "trial"

    def __init__(self, pk, node, definition=None):
        self.pk, self.node = pk, node
        self.definition = definition if definition is not None else dict(node.definition)

    def asset_parents(self):
        return [self.node]


@pytest.fixture
def local_experiment(use_experiment, asset_dirs):
    use_experiment(LOCAL)
    return get_experiment()


@pytest.mark.django_db
def test_standard_queries_and_dict_access_by_local_key(local_experiment):
    participant = services.participant_create(worker_id="w1")
    dog = asset_register(spec=CachedAsset("logo.png", key_within_experiment="dog"),
                         holder=participant, local_key="pet")
    assert Asset.objects.get(key_within_experiment="dog") == dog
    assert participant.assets["pet"] == dog
    assert dict(participant.assets) == {"pet": dog}
    assert "missing" not in participant.assets
    with pytest.raises(KeyError, match="pet"):
        participant.assets["missing"]


@pytest.mark.django_db
def test_one_asset_has_different_keys_on_different_holders(local_experiment):
    participant = services.participant_create(worker_id="w1")
    first_trial, second_trial = FakeTrial(1, FakeNode(10)), FakeTrial(2, FakeNode(11))
    recording = asset_register(spec=CachedAsset("bot.wav"), holder=first_trial, local_key="response")
    asset_link(asset=recording, holder=second_trial, local_key="stimulus")
    asset_link(asset=recording, holder=participant, local_key="last_recording")
    assert first_trial.assets["response"] == recording
    assert second_trial.assets["stimulus"] == recording
    assert participant.assets["last_recording"] == recording
    assert AssetLink.objects.filter(asset=recording).count() == 3


@pytest.mark.django_db
def test_trials_see_their_nodes_assets_and_their_own_keys_win(local_experiment):
    node = FakeNode(5, definition={"frequency": 330})
    trial = FakeTrial(7, node)
    holder_add_assets(holder=node, assets={
        "stimulus": CachedFunctionAsset(function=tone_a, extension=".wav"),
        "logo": CachedAsset("logo.png"),
    })
    own = asset_register(spec=FastFunctionAsset(function=tone_a, extension=".wav"), holder=trial,
                         local_key="stimulus")
    assert set(trial.assets) == {"stimulus", "logo"}
    assert trial.assets["stimulus"] == own
    assert node.assets["stimulus"] != own
    assert node.assets["stimulus"].arguments == {"frequency": 330}


@pytest.mark.django_db
def test_holder_assets_load_in_one_query(local_experiment, django_assert_max_num_queries):
    node = FakeNode(5, definition={"frequency": 330})
    holder_add_assets(holder=node, assets={f"a{i}": CachedAsset("logo.png") for i in range(20)})
    trial = FakeTrial(9, node)
    with django_assert_max_num_queries(1):
        urls = {key: asset.key_within_experiment for key, asset in trial.assets.items()}
    assert len(urls) == 20


def test_function_arguments_are_filled_from_the_definition_by_name():
    assert fill_arguments(tone_a, {"duration": 0.5}, {"frequency": 440, "other": 1}) == {
        "duration": 0.5, "frequency": 440}
    with pytest.raises(ExperimentError, match="frequency"):
        fill_arguments(tone_a, {}, {})
    with pytest.raises(ExperimentError, match="lambda"):
        CachedFunctionAsset(function=lambda path: None, extension=".wav")


def test_cache_key_changes_with_the_function_source_and_arguments():
    key = cache_key(tone_a, {"frequency": 440}, ".wav")
    assert key == cache_key(tone_a, {"frequency": 440}, ".wav")
    assert key != cache_key(tone_b, {"frequency": 440}, ".wav")  # same signature, other code
    assert key != cache_key(tone_a, {"frequency": 441}, ".wav")
    assert key != cache_key(tone_a, {"frequency": 440}, ".mp3")


@pytest.mark.django_db
def test_module_assets_reach_page_makers_after_registration(local_experiment):
    participant = services.participant_create(worker_id="w1")
    module = local_experiment.program.modules["intro"]
    before = module_assets(module, participant)
    assert isinstance(before["tone"], CachedFunctionAsset)  # a declaration until deploy registers it
    assets_register_declared(experiment=local_experiment)
    after = module_assets(module, participant)
    assert isinstance(after, AssetDict)
    tone = after["tone"]
    assert tone.kind == "cached_function" and tone.arguments == {"frequency": 440}
    assert Asset.objects.get(key_within_experiment="logo") == after["logo"]
    page = current_page(participant)  # the PageMaker received `assets`
    assert page.to_dict()["prompt"]["url"] == tone.url
    # Registering again (a redeploy) keeps the same rows.
    assets_register_declared(experiment=local_experiment)
    assert module_assets(module, participant)["tone"] == tone
    assert Asset.objects.filter(kind="cached_function").count() == 1


@pytest.mark.django_db
def test_module_state_assets_override_module_assets_for_that_participant(local_experiment):
    participant = services.participant_create(worker_id="w1")
    assets_register_declared(experiment=local_experiment)
    state = participant.module_states.get(module_id="intro")
    mine = asset_register(spec=CachedAsset("bot.wav"), holder=("module_state", state.pk), local_key="tone")
    other = services.participant_create(worker_id="w2")
    module = local_experiment.program.modules["intro"]
    assert module_assets(module, participant)["tone"] == mine
    assert module_assets(module, other)["tone"] != mine
    assert Runner(local_experiment.program, local_experiment, participant).available()["assets"].factory()["tone"] == mine


@pytest.mark.django_db
def test_every_declarable_kind_registers_with_its_fields(local_experiment):
    holder = FakeNode(1, definition={"frequency": 200})
    rows = holder_add_assets(holder=holder, assets={
        "ext": ExternalAsset("https://example.org/a.mp3"),
        "s3": ExternalS3Asset("someone-elses-bucket", "sounds/a.wav"),
        "fast": FastFunctionAsset(function=tone_a, extension=".wav"),
        "cached_fn": CachedFunctionAsset(function=tone_a, extension=".wav"),
        "file": CachedAsset("logo.png"),
        "folder": CachedAsset("."),
    })
    assert rows["ext"].url == "https://example.org/a.mp3"
    assert rows["ext"].status == rows["s3"].status == rows["fast"].status == "deposited"
    assert rows["s3"].bucket == "someone-elses-bucket" and rows["s3"].storage_key == "sounds/a.wav"
    assert rows["cached_fn"].status == "pending"
    assert rows["cached_fn"].storage_key == f"cache/function/{rows['cached_fn'].cache_key}.wav"
    assert rows["file"].storage_key == f"cache/sha256/{rows['file'].sha256}.png"
    assert rows["folder"].is_folder and rows["folder"].storage_key.startswith("cache/folders/")
    with pytest.raises(ExperimentError, match="input"):
        asset_register(spec=ExperimentAsset(local_key="x"), holder=holder, local_key="x")


@pytest.mark.django_db
def test_an_edited_file_resets_its_row_to_pending(local_experiment, tmp_path):
    source = tmp_path / "stimulus.txt"
    source.write_text("one")
    row = asset_register(spec=CachedAsset(source, key_within_experiment="s"))
    Asset.objects.filter(pk=row.pk).update(status="deposited")
    source.write_text("two")
    again = asset_register(spec=CachedAsset(source, key_within_experiment="s"))
    assert again.pk == row.pk and again.status == "pending" and again.sha256 != row.sha256


@pytest.mark.django_db
def test_registering_many_node_assets_takes_a_few_queries(local_experiment, django_assert_max_num_queries):
    nodes = [FakeNode(i, definition={"frequency": 100 + i}) for i in range(50)]
    from assets.services import assets_register_many

    with django_assert_max_num_queries(5):  # savepoint, select, insert rows, upsert links, release
        rows = assets_register_many(items=[
            (CachedFunctionAsset(function=tone_a, extension=".wav"), node, "stimulus") for node in nodes])
    assert len({row.pk for row in rows}) == 50
    assert nodes[7].assets["stimulus"].arguments == {"frequency": 107}
