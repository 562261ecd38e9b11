"""PsyNet's names, options and hooks: what Chorus takes as PsyNet means it, and what it refuses
at load with the Chorus way to do it (never silently ignored)."""

import logging

import pytest

from assets.kinds import CachedAsset, CachedFunctionAsset, ExternalAsset, FastFunctionAsset, asset
from experiments import api, services
from experiments.bots import Bot
from experiments.loading import ExperimentLoadError
from experiments.selectors import current_page
from experiments.timeline.elements import Sequence

pytestmark = pytest.mark.django_db

TRIAL = '''
class T(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return ModularPage("answer", "Pick one", PushButtonControl(["a", "b"]), time_estimate=2)
'''


def static_source(*, maker_class="StaticTrialMaker", maker_body="", trial=TRIAL, knobs=""):
    return f'''
{trial}

class M({maker_class}):
    pass
{maker_body}

class Exp(Experiment):
    label = "names"
    timeline = join(
        M(id_="m", trial_class=T, nodes=[StaticNode(definition={{"i": i}}) for i in range(2)],
          expected_trials_per_participant=2{knobs}),
        SuccessfulEndPage(),
    )
'''


def test_keyword_defaults_fall_back_to_the_subclass_class_attributes(experiment_from_source):
    body = "M.performance_threshold = 0.8\nM.n_repeat_trials = 1"
    experiment = experiment_from_source(static_source(maker_body=body), deploy=False)
    maker = experiment.program.modules["m"]
    assert maker.performance_threshold == 0.8 and maker.n_repeat_trials == 1
    # A keyword given in the call wins over the class attribute.
    experiment = experiment_from_source(static_source(maker_body=body, knobs=", performance_threshold=0.1"),
                                        deploy=False)
    assert experiment.program.modules["m"].performance_threshold == 0.1
    # Chorus's own classes keep Chorus's defaults.
    plain = experiment_from_source(static_source(maker_class="StaticTrialMaker"), deploy=False)
    assert plain.program.modules["m"].performance_threshold == 0.0


@pytest.mark.parametrize(("where", "name", "chorus_way"), [
    ("maker", "def compute_performance_reward(self, score, passed):\n        return 0.1", "participant.var"),
    ("maker", "def prioritize_networks(self, networks, participant, experiment):\n        return networks",
     "one SQL statement"),
    ("maker", "def custom_network_filter(self, candidates, participant):\n        return candidates", "blocks"),
    ("maker", "async_timeout_sec = 5", "score_answer"),
    ("trial", "def async_post_trial(self):\n        pass", "score_answer"),
    ("trial", "run_async_post_trial = True", "FastFunctionAsset"),
])
def test_psynet_hooks_chorus_does_not_run_are_refused_at_load_naming_the_chorus_way(
        experiment_from_source, where, name, chorus_way):
    if where == "maker":
        source = static_source(maker_body="").replace("class M(StaticTrialMaker):\n    pass",
                                                     f"class M(StaticTrialMaker):\n    {name}")
    else:
        source = static_source(trial=TRIAL + f"\n    {name}\n")
    with pytest.raises(ExperimentLoadError) as info:
        experiment_from_source(source, deploy=False)
    message = str(info.value)
    assert name.split("(")[0].replace("def ", "").split(" =")[0] in message
    assert "Chorus does not run it" in message and chorus_way in message


def test_another_performance_check_type_is_refused(experiment_from_source):
    with pytest.raises(ExperimentLoadError, match="override performance_check"):
        experiment_from_source(static_source(knobs=', performance_check_type="performance"'), deploy=False)


def test_code_blocks_before_between_and_after_pages_of_show_trial_run_once_each(experiment_from_source):
    trial = '''
def mark(participant, what):
    participant.var.log = participant.var.get("log", []) + [what]

class T(StaticTrial):
    time_estimate = 2

    def show_trial(self, experiment, participant):
        return join(
            CodeBlock(lambda participant: mark(participant, "before")),
            InfoPage("one", time_estimate=1, label="one"),
            CodeBlock(lambda participant: mark(participant, "between")),
            ModularPage("two", "Pick", PushButtonControl(["a", "b"]), time_estimate=1),
            CodeBlock(lambda bot: mark(bot, "after")),
        )
'''
    experiment_from_source(static_source(trial=trial))
    participant = services.participant_create()
    labels = []
    for _ in range(10):
        page = current_page(participant)
        labels.append(page.label)
        if page.terminal:
            break
        answer = "a" if page.label == "two" else None
        participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                               raw_answer=answer).participant
        current_page(participant)  # a reload runs no code block again
    assert labels == ["one", "two", "one", "two", "end_successful"]
    participant.refresh_from_db()
    assert participant.vars["log"] == ["before", "between", "after"] * 2
    assert [t.answer for t in participant.trials.order_by("number")] == ["a", "a"]


def test_save_answer_false_keeps_the_previous_answer_and_a_name_keeps_it_in_a_variable(experiment_from_source):
    experiment_from_source('''
class Exp(Experiment):
    label = "save_answer"
    timeline = join(
        ModularPage("first", "Pick", PushButtonControl(["a", "b"]), time_estimate=1, save_answer="first_pick"),
        ModularPage("second", "Pick", PushButtonControl(["c", "d"]), time_estimate=1, save_answer=False),
        SuccessfulEndPage(),
    )
''', deploy=False)
    participant = services.participant_create()
    participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                           raw_answer="b").participant
    participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                           raw_answer="c").participant
    participant.refresh_from_db()
    assert participant.answer == "b" and participant.vars["first_pick"] == "b"
    assert list(participant.responses.order_by("id").values_list("answer", flat=True)) == ["b", "c"]


def test_a_refused_bot_response_says_chorus_submits_it_as_the_raw_answer(experiment_from_source):
    experiment_from_source('''
class Exp(Experiment):
    label = "bot_response"
    timeline = join(
        ModularPage("age", "Age?", NumberControl(), time_estimate=1, bot_response="not a number"),
        SuccessfulEndPage(),
    )
''', deploy=False)
    bot = Bot().run()
    assert bot.failed and "Chorus submits bot_response as the raw answer, as a browser would" in bot.failed_reason


def test_participant_sync_group_is_the_active_group(experiment_from_source):
    from sync.models import SyncGroup, SyncGroupMember

    experiment_from_source(static_source(), deploy=False)
    participant = services.participant_create()
    assert participant.sync_group is None
    pair = SyncGroup.objects.create(group_type="pair")
    SyncGroupMember.objects.create(group=pair, participant=participant)
    assert participant.sync_group == pair
    trio = SyncGroup.objects.create(group_type="trio")
    SyncGroupMember.objects.create(group=trio, participant=participant)
    with pytest.raises(api.ExperimentError, match=r"active_sync_groups\[group_type\]"):
        _ = participant.sync_group


def test_psynet_names_are_exported_and_mean_what_they_mean_in_psynet(tmp_path):
    timeline = api.Timeline(api.InfoPage("hi", time_estimate=1))
    assert isinstance(timeline, Sequence) and len(timeline.elts) == 1
    assert isinstance(api.get_logger(), logging.Logger)
    assert api.Bot is Bot and api.Participant.__name__ == "Participant"
    assert api.ImitationChainTrialMaker is api.ChainTrialMaker and api.ImitationChainNode is api.ChainNode
    assert api.FailedValidation() and api.FailedValidation("Too short").message == "Too short"
    assert isinstance(asset("https://example.org/a.wav"), ExternalAsset)
    assert isinstance(asset("stimuli/a.wav"), CachedAsset)
    assert isinstance(asset(_tone, extension=".wav"), CachedFunctionAsset)
    assert isinstance(asset(_tone, cache=False, extension=".wav"), FastFunctionAsset)
    for name in ("Timeline", "get_logger", "Bot", "Participant", "FailedValidation", "asset",
                 "ImitationChainTrialMaker", "ImitationChainNode", "ImitationChainTrial", "ImitationChainNetwork"):
        assert name in api.__all__


def _tone(path):
    with open(path, "w") as out:
        out.write("tone")


@pytest.mark.parametrize(("name", "chorus_way"), [
    ("MainConsent", "PushButtonControl"),
    ("db", "docs/porting.md"),
    ("GibbsTrialMaker", "subclass ChainTrialMaker"),
    ("HeadphoneTest", "StaticTrialMaker"),
])
def test_importing_a_psynet_name_chorus_lacks_names_the_chorus_way(experiment_from_source, name, chorus_way):
    with pytest.raises(ExperimentLoadError) as info:
        experiment_from_source(f"from experiments.api import {name}\n" + static_source(), deploy=False)
    assert f"{name} is PsyNet's" in str(info.value) and chorus_way in str(info.value)
    with pytest.raises(AttributeError, match="has no attribute 'NotAName'"):
        _ = api.NotAName


@pytest.mark.parametrize(("attribute", "chorus_way"), [
    ('config = {"initial_recruitment_size": 1}', "environment variables"),
    ("initial_recruitment_size = 1", "/start/ link"),
])
def test_psynet_experiment_attributes_chorus_does_not_read_are_refused(experiment_from_source, attribute, chorus_way):
    source = static_source().replace('    label = "names"', f'    label = "names"\n    {attribute}')
    with pytest.raises(ExperimentLoadError, match=chorus_way):
        experiment_from_source(source, deploy=False)


def test_make_definition_is_refused_naming_finalize_definition(experiment_from_source):
    trial = TRIAL + "\n    def make_definition(self, experiment, participant):\n        return {}\n"
    with pytest.raises(ExperimentLoadError, match="finalize_definition"):
        experiment_from_source(static_source(trial=trial), deploy=False)


def test_gives_feedback_switches_show_feedback_off(experiment_from_source):
    trial = TRIAL + '''
    def show_feedback(self, experiment, participant):
        return InfoPage("feedback", time_estimate=1, label="feedback")

    def gives_feedback(self, experiment, participant):
        return self.number == 1
'''
    experiment_from_source(static_source(trial=trial).replace("timeline = join(", "timeline = join(NoConsent(),"))
    bot = Bot().run()
    assert bot.complete and bot.pages == ["answer", "feedback", "answer"]


def test_var_set_and_inc(experiment_from_source):
    experiment_from_source(static_source(), deploy=False)
    participant = services.participant_create()
    participant.var.set("colour", "red")
    assert participant.var.inc("n") == 1 and participant.var.inc("n", 2) == 3
    assert participant.vars == {"colour": "red", "n": 3}
    assert api.OnDemandAsset is FastFunctionAsset


def test_the_porting_guide_is_linked_from_the_readme_and_names_every_refused_psynet_name():
    from pathlib import Path

    from experiments.compat import MISSING_PSYNET_NAMES, UNSUPPORTED_EXPERIMENT_NAMES
    from trials.maker import UNSUPPORTED_MAKER_NAMES, UNSUPPORTED_TRIAL_NAMES

    root = Path(__file__).resolve().parents[2]
    assert "(docs/porting.md)" in (root / "README.md").read_text()
    guide = (root / "docs" / "porting.md").read_text()
    refused = [*UNSUPPORTED_MAKER_NAMES, *UNSUPPORTED_TRIAL_NAMES, *UNSUPPORTED_EXPERIMENT_NAMES]
    missing = [name for name in refused if name not in guide]
    families = ("Gibbs", "MCMCP")  # the guide names these as `Gibbs*`, `MCMCP*`
    missing += [name for name in MISSING_PSYNET_NAMES if name not in guide
                and not any(name.startswith(f) and f"`{f}*`" in guide for f in families)]
    assert not missing, f"docs/porting.md does not mention {missing}"


def test_deploy_runs_start_nodes_in_the_experiment_folder(experiment_from_source):
    import os

    cwd = os.getcwd()
    experiment_from_source('''
def starts():
    with open("seeds.txt") as file:
        return [ChainNode(definition={"value": int(line)}) for line in file if line.strip()]

class CT(ChainTrial):
    time_estimate = 1

    def show_trial(self, experiment, participant):
        return ModularPage("copy", str(self.definition["value"]), NumberControl(), time_estimate=1)

class Exp(Experiment):
    label = "seeds"
    timeline = join(
        ChainTrialMaker(id_="c", trial_class=CT, chain_type="across", chains_per_experiment=2,
                        start_nodes=starts, max_nodes_per_chain=2, expected_trials_per_participant=2),
        SuccessfulEndPage(),
    )
''', files={"seeds.txt": "7\n11\n"})
    assert os.getcwd() == cwd
    from trials.models import Node

    assert sorted(Node.objects.values_list("definition__value", flat=True)) == [7, 11]
