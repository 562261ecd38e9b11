"""Timeline semantics, driven through the service layer with chosen answers.

The experiment is tests/experiments/fixtures/semantics: a module with assets, a conditional, a
switch (one branch an UnsuccessfulEndPage), PageMakers (one page, a list), a while_loop.
"""

import time
from pathlib import Path

import pytest

from experiments import services
from experiments.models import ModuleState, Participant, Response, TimelineEvent
from experiments.selectors import current_page

FIXTURES = Path(__file__).parent / "fixtures"
RED_PATH = ["welcome", "colour", "red_page", "switch_red", "made_single", "made_1", "made_2",
            "again", "again", "again"]
# 2 + 3 + 1 + 1 (the longest branch of the switch) + 2 + 4 + 3 × 2
ESTIMATED = 19.0

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def semantics(use_experiment):
    use_experiment(FIXTURES / "semantics")


def submit(participant: Participant, answer=None) -> Participant:
    return services.response_submit(
        token=participant.token, page_uuid=participant.page_uuid, raw_answer=answer
    ).participant


def take(participant: Participant, answers: dict[str, object]) -> tuple[Participant, list[str]]:
    """Answer pages until a terminal one, choosing answers by page label; return labels seen."""
    seen = []
    while not (page := current_page(participant)).terminal:
        seen.append(page.label)
        participant = submit(participant, answers.get(page.label))
        assert len(seen) < 50, "the timeline did not end"
    return participant, seen


def events(participant: Participant) -> list[tuple[str, str, object]]:
    return list(TimelineEvent.objects.filter(participant=participant).values_list("kind", "label", "value"))


def test_red_goes_down_the_true_branch_and_the_red_switch_branch():
    participant, seen = take(services.participant_create(worker_id="w"),
                             {"colour": "red", "again": "more"})
    assert seen == RED_PATH
    assert participant.complete and not participant.failed
    assert participant.page_label == "end_successful"
    assert [e for e in events(participant) if e[0] == "branch"] == [
        ("branch", "is_red", True), ("branch", "by_colour", "red"),
    ]


def test_blue_goes_down_the_false_branch_and_the_blue_switch_branch():
    participant, seen = take(services.participant_create(), {"colour": "blue", "again": "more"})
    assert seen[:4] == ["welcome", "colour", "other_page", "switch_blue"]
    assert participant.complete
    assert [e for e in events(participant) if e[0] == "branch"] == [
        ("branch", "is_red", False), ("branch", "by_colour", "blue"),
    ]


def test_unsuccessful_end_page_fails_the_participant_with_its_reason_and_tags():
    participant, seen = take(services.participant_create(), {"colour": "green"})
    assert seen == ["welcome", "colour", "other_page"]
    assert participant.failed and not participant.complete
    assert participant.failed_reason == "green is not allowed"
    assert participant.failure_tags == ["screened_out"]
    assert participant.failed_at is not None
    assert current_page(participant).label == "end_unsuccessful"
    # The end page takes no answers.
    with pytest.raises(services.StalePage):
        submit(participant)


def test_while_loop_repeats_until_its_condition_is_false_and_logs_each_round():
    participant, seen = take(services.participant_create(), {"colour": "red", "again": "more"})
    assert seen.count("again") == 3
    assert [e for e in events(participant) if e[0] == "loop"] == [
        ("loop", "repeat", 1), ("loop", "repeat", 2), ("loop", "repeat", 3),
    ]
    participant, seen = take(services.participant_create(), {"colour": "red", "again": "stop"})
    assert seen.count("again") == 1 and participant.complete


def test_max_loop_time_fails_the_participant_onto_the_failure_page():
    participant = services.participant_create()
    for answer in (None, "red", None, None, None, None, None):
        participant = submit(participant, answer)
    assert current_page(participant).label == "again"
    participant = submit(participant, "more")  # one round done, still within the time
    assert current_page(participant).label == "again" and not participant.failed
    # The loop started more than max_loop_time (60 s) ago: rewind its stored start, no sleeping.
    participant.timeline_state["loops"]["repeat"]["started"] = time.time() - 61
    participant.save(update_fields=["timeline_state"])

    participant = submit(participant, "more")

    assert participant.failed and not participant.complete
    assert participant.failure_tags == ["max_loop_time"]
    assert "max_loop_time exceeded in loop 'repeat'" in participant.failed_reason
    assert current_page(participant).label == "end_unsuccessful"
    assert current_page(participant).terminal
    assert ("loop_timeout", "repeat", 2) in events(participant)  # in its 2nd round
    participant.refresh_from_db()
    assert participant.failed and participant.page_label == "end_unsuccessful"


def test_module_state_records_when_the_participant_started_and_finished_it():
    participant = submit(services.participant_create())  # past welcome, into the module
    state = ModuleState.objects.get(participant=participant, module_id="intro")
    assert state.started_at is not None and state.finished_at is None
    participant = submit(participant, "blue")  # leaves the module
    state.refresh_from_db()
    assert state.finished and state.finished_at >= state.started_at
    assert Response.objects.get(participant=participant, page_label="colour").module_id == "intro"
    assert Response.objects.get(participant=participant, page_label="welcome").module_id == ""


def test_code_blocks_receive_arguments_by_name_and_set_participant_vars():
    participant = submit(services.participant_create(worker_id="named"))
    assert participant.var.injected == {
        "participant": "named", "experiment": "Semantics", "assets": {"greeting": "hello"},
        "module": "intro",
    }
    participant = submit(participant, "blue")
    participant.refresh_from_db()
    assert participant.var.colour == "blue"


def test_page_maker_makes_one_page_or_a_list_of_pages_from_participant_state():
    participant = services.participant_create()
    for answer in (None, "blue", None, None):
        participant = submit(participant, answer)
    page = current_page(participant)
    assert page.label == "made_single"
    assert page.prompt.to_dict()["text"] == "You chose blue."
    participant = submit(participant)
    first = current_page(participant)
    assert first.label == "made_1" and first.prompt.to_dict()["text"] == "First of two for blue."
    assert first.time_estimate == 2  # the PageMaker's 4 s, split between its two pages
    participant = submit(participant)
    assert current_page(participant).label == "made_2"
    participant = submit(participant)
    assert current_page(participant).label == "again"
    labels = list(Response.objects.filter(participant=participant).values_list("page_label", flat=True))
    assert labels[-3:] == ["made_single", "made_1", "made_2"]


def test_time_credit_and_progress_follow_time_estimates():
    participant = services.participant_create()
    assert participant.time_credit == 0 and participant.progress == 0
    participant = submit(participant)  # welcome: 2 s
    assert participant.time_credit == 2
    assert participant.progress == pytest.approx(2 / ESTIMATED)
    participant = submit(participant, "red")  # colour: 3 s
    assert participant.time_credit == 5
    assert participant.progress == pytest.approx(5 / ESTIMATED)
    participant, _ = take(participant, {"again": "more"})
    assert participant.time_credit == pytest.approx(ESTIMATED)
    assert participant.progress == 1.0


@pytest.mark.parametrize(("path", "rounds"), [("short", "stop"), ("long", "more")])
def test_fix_time_credit_credits_the_estimate_whatever_path_is_taken(use_experiment, path, rounds):
    use_experiment(FIXTURES / "time_credit")
    participant = submit(services.participant_create(), path)
    # Inside the branch, credit accrues page by page as usual.
    assert participant.time_credit == 1
    participant, seen = take(participant, {"round": rounds})
    assert seen.count("round") == (1 if rounds == "stop" else 3)
    # 1 (first page) + 10 (the longer branch) + 3 × 2 (expected rounds), on either path.
    assert participant.time_credit == 17
    assert participant.complete and participant.progress == 1.0


def test_without_fix_time_credit_the_short_path_earns_less():
    participant, _ = take(services.participant_create(), {"colour": "red", "again": "stop"})
    assert participant.time_credit == ESTIMATED - 2 * 2  # two expected rounds not taken
