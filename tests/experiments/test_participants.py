"""Participant semantics: failing (idempotent, hooks once), entry parameters, admin failing."""

import importlib
from pathlib import Path

import pytest

from experiments import services
from experiments.loading import get_experiment
from experiments.models import Participant
from experiments.selectors import current_page

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.django_db


@pytest.fixture
def failure_hooks(use_experiment):
    use_experiment(FIXTURES / "semantics")
    return importlib.import_module(type(get_experiment()).__module__).FAILED


def test_fail_is_idempotent_and_runs_failure_hooks_once(failure_hooks):
    participant = services.participant_create()
    participant.fail("first reason", tags=["a"])
    failed_at = participant.failed_at
    participant.fail("second reason", tags=["b"])
    assert participant.failed
    assert participant.failed_reason == "first reason"
    assert participant.failure_tags == ["a"]
    assert participant.failed_at == failed_at
    assert failure_hooks.count(participant.id) == 1


def test_a_participant_failed_on_a_page_lands_on_the_failure_page_at_the_next_step(failure_hooks):
    participant = services.participant_create()
    participant.fail("caught cheating", tags=["cheat"])
    participant.save()  # as the service saves a participant failed by code during a request
    participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                           raw_answer=None).participant
    assert participant.page_label == "end_unsuccessful"
    assert current_page(participant).terminal
    assert participant.failed_reason == "caught cheating" and not participant.complete


def test_failing_from_outside_moves_the_participant_to_the_failure_page_once(failure_hooks):
    participant = services.participant_create()
    assert services.participant_fail(participant_id=participant.id, reason="by admin", tags=["admin"])
    assert not services.participant_fail(participant_id=participant.id, reason="again")
    participant.refresh_from_db()
    assert participant.failed_reason == "by admin" and participant.failure_tags == ["admin"]
    assert participant.page_label == "end_unsuccessful"
    assert failure_hooks.count(participant.id) == 1
    # The page they had open is no longer theirs to submit.
    with pytest.raises(services.StalePage):
        services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                 raw_answer=None)


def test_start_keeps_identity_and_entry_parameters(client):
    response = client.get("/start/", {"worker_id": "W1", "assignment_id": "A1",
                                      "recruiter": "prolific", "study": "s9", "session": "x"})
    assert response.status_code == 302
    participant = Participant.objects.get()
    assert response["Location"] == f"/p/{participant.token}/"
    assert (participant.worker_id, participant.assignment_id, participant.recruiter) == ("W1", "A1", "prolific")
    assert participant.entry_params == {"study": "s9", "session": "x"}
    assert not participant.is_bot
    assert len(participant.token) >= 22 and str(participant.id) not in response["Location"].split("/")


def test_start_without_parameters_is_a_direct_participant(client):
    client.get("/start/")
    participant = Participant.objects.get()
    assert (participant.worker_id, participant.recruiter, participant.entry_params) == ("", "direct", {})


def test_recruiter_bot_marks_http_bots_that_send_the_bot_token(client):
    from experiments.bots import BOT_TOKEN_HEADER, bot_token

    client.get("/start/", {"worker_id": "bot-1", "recruiter": "bot"}, headers={BOT_TOKEN_HEADER: bot_token()})
    assert Participant.objects.get().is_bot


@pytest.mark.django_db
def test_the_participant_page_is_titled_with_the_experiment_label(client):
    response = client.get("/start/?worker_id=title-check", follow=True)
    assert response.status_code == 200
    assert "<title>Hello world</title>" in response.content.decode()
