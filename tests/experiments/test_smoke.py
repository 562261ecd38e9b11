import pytest

from experiments import services
from experiments.models import Response
from experiments.selectors import current_page


@pytest.mark.django_db
def test_hello_world_runs_to_the_end_through_the_service_layer():
    participant = services.participant_create(worker_id="w-smoke")
    labels = []
    while not current_page(participant).terminal:
        page = current_page(participant)
        labels.append(page.label)
        answer = page.get_bot_response({"participant": participant})
        participant = services.response_submit(
            token=participant.token, page_uuid=participant.page_uuid, raw_answer=answer
        ).participant
    assert participant.complete and not participant.failed
    assert labels == ["consent", "name", "age", "music", "genre", "instruments", "country",
                      "practice", "mood", "mood"]
    assert Response.objects.filter(participant=participant).count() == len(labels)
    assert participant.progress == 1.0
