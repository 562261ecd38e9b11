"""A barrier's waiting page in Chromium: polls the status without reloading, moves on once
released (the partner arrives through the service layer meanwhile)."""

from pathlib import Path

import pytest

from experiments import services
from experiments.models import Participant
from experiments.selectors import current_page

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUTS = Path(__file__).resolve().parents[1] / "sync" / "experiments" / "timeouts"


def submit(participant: Participant) -> None:
    participant = Participant.objects.get(pk=participant.pk)
    services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                             raw_answer=current_page(participant).get_bot_response({}))


def test_waiting_page_polls_without_reloading_and_moves_on_when_released(page, start, use_experiment):
    use_experiment(TIMEOUTS)
    status_calls: list[str] = []
    page.on("request", lambda r: status_calls.append(r.url) if r.url.endswith("/sync/status") else None)
    start(page, "w-sync")
    page.click("#next")                                          # welcome -> the pair grouper
    page.wait_for_selector("#sync-status:has-text('1 of 2 participants needed are here')")
    page.evaluate("window.__sameDocument = true")
    page.wait_for_function("Number(document.getElementById('page').dataset.syncPolls || 0) >= 3",
                           timeout=20000)
    assert page.evaluate("window.__sameDocument") is True        # polled 3 times, never reloaded
    assert len(status_calls) >= 3
    me = Participant.objects.get(worker_id="w-sync")
    assert me.page_label == "sync_wait:pair_grouper"

    partner = services.participant_create(worker_id="partner")
    submit(partner)                                  # arrives at the grouper: pairs them at once
    page.wait_for_selector("text=You have a partner", timeout=20000)
    assert Participant.objects.get(pk=me.pk).page_label == "paired"
