"""Trial pages over the participant API: render, replay, bad answers change nothing."""

import pytest

from experiments import services
from trials.models import Node, Trial

pytestmark = pytest.mark.django_db


def post(client, token, page_uuid, answer):
    return client.post(f"/api/p/{token}/response", {"page_uuid": page_uuid, "answer": answer},
                       content_type="application/json")


def test_a_static_trial_over_http(client, use_demo):
    use_demo("static")
    participant = services.participant_create()
    page = client.get(f"/api/p/{participant.token}/page").json()
    assert page["label"] == "instructions"
    page = post(client, participant.token, page["page_uuid"], None).json()
    assert page["label"] == "compare" and page["control"]["kind"] == "push_button"
    trial = Trial.objects.get(participant=participant)
    assert page == client.get(f"/api/p/{participant.token}/page").json()  # reload: the same trial page

    wrong_choice = post(client, participant.token, page["page_uuid"], "middle")
    assert wrong_choice.status_code == 400
    trial.refresh_from_db()
    assert not trial.finalized and Trial.objects.filter(participant=participant).count() == 1

    feedback = post(client, participant.token, page["page_uuid"], trial.definition["correct"]).json()
    assert feedback["label"] == "feedback" and feedback["prompt"]["text"] == "Correct!"
    replay = post(client, participant.token, page["page_uuid"], trial.definition["correct"])
    assert replay.status_code == 409 and replay.json()["page"]["label"] == "feedback"
    trial.refresh_from_db()
    assert trial.finalized and trial.score == 1.0
    assert Trial.objects.filter(participant=participant).count() == 1  # the replay allocated nothing
    assert sum(Node.objects.values_list("n_trials", flat=True)) == 1
