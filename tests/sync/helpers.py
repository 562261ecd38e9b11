"""Drive participants through the service layer from real threads (each with its own DB
connection), as browsers would: submit pages, poll the barrier status while waiting."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, connection

from experiments import services
from experiments.models import Participant
from experiments.selectors import current_page
from sync.selectors import wait_status


def run_in_threads(function: Callable[..., Any], items: list[Any], *, threads: int) -> list[Any]:
    """Call function(item) for every item from `threads` real threads that all start at once.
    Returns the results in item order; re-raises the first exception."""
    results: list[Any] = [None] * len(items)
    errors: list[BaseException] = []
    start = threading.Barrier(threads)
    lock = threading.Lock()
    queue = list(enumerate(items))

    def worker() -> None:
        try:
            start.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    index, item = queue.pop(0)
                results[index] = function(item)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in pool), "a thread did not finish"
    return results


def submit(participant: Participant, answer: Any = None, *, bot: bool = True) -> Participant:
    """Submit the participant's current page (with the page's bot response by default)."""
    participant = Participant.objects.get(pk=participant.pk)
    page = current_page(participant)
    if bot:
        answer = page.get_bot_response({"participant": participant})
    return services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                    raw_answer=answer).participant


def label(participant: Participant) -> str:
    return Participant.objects.get(pk=participant.pk).page_label


def run_bot(token: str, *, answers: Callable[[Participant, Any], Any] | None = None,
            poll: float = 0.02, pace: float = 0.0, seen: list | None = None,
            timeout: float = 60) -> Participant:
    """Take a participant to the end: answer pages, and at a waiting page poll the status
    endpoint's selector until released (as the page's JS does), then submit it. `pace` is a
    pause before answering an ordinary page; `seen` collects (label, text) of pages shown."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            close_old_connections()
            participant = Participant.objects.get(token=token)
            page = current_page(participant)
            if page.terminal:
                return participant
            if page.control.kind == "sync_wait":
                status = wait_status(participant)
                if not status["released"] and status["page_uuid"] == str(participant.page_uuid):
                    time.sleep(poll)
                    continue
            if seen is not None and (not seen or seen[-1][0] != str(participant.page_uuid)):
                seen.append((str(participant.page_uuid), page.label, page.prompt.to_dict().get("text", "")))
            if pace:
                time.sleep(pace)
            answer = page.get_bot_response({"participant": participant})
            if answers is not None:
                custom = answers(participant, page)
                if custom is not None:
                    answer = custom
            try:
                services.response_submit(token=token, page_uuid=participant.page_uuid, raw_answer=answer)
            except services.StalePage:
                continue  # moved meanwhile (e.g. failed by a timeout): read the page again
        raise AssertionError(f"bot {token[:8]} did not finish within {timeout} s")
    finally:
        connection.close()
