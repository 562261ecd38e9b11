"""Many participants at once, from real threads, each on its own PostgreSQL connection: nothing
accepted is lost or doubled, nobody skips or repeats a page, and a double submit is taken once."""

import threading

import pytest
from django.db import connections
from django.test import Client

from experiments.models import Participant, Response

N_PARTICIPANTS = 50

QUESTIONNAIRE = ["consent", "name", "age", "music", "genre", "instruments", "country"]


def answer_for(label: str, plays: bool):
    return {"name": "Bot", "age": 30, "music": "yes" if plays else "no", "genre": "pop",
            "instruments": ["piano"], "country": "uk", "practice": 3, "mood": "2"}.get(label)


def expected_labels(plays: bool) -> list[str]:
    return [*QUESTIONNAIRE, "practice" if plays else "listener", "mood", "mood"]


def run_in_threads(target, n: int) -> list[BaseException]:
    """Run target(i) in n threads released together; return the exceptions they raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a participant thread hung"
    return errors


@pytest.mark.django_db(transaction=True)
def test_fifty_participants_start_and_submit_concurrently():
    tokens: dict[int, str] = {}
    seen: dict[int, list[str]] = {}

    def participant(i: int) -> None:
        client = Client()
        plays = i % 2 == 0
        reply = client.get("/start/", {"worker_id": f"w{i}"})
        assert reply.status_code == 302, reply.status_code
        token = reply["Location"].rstrip("/").rsplit("/", 1)[-1]
        tokens[i] = token
        page = client.get(f"/api/p/{token}/page").json()
        seen[i] = []
        while not page["terminal"]:
            seen[i].append(page["label"])
            body = {"page_uuid": page["page_uuid"], "answer": answer_for(page["label"], plays)}
            reply = client.post(f"/api/p/{token}/response", body, content_type="application/json")
            assert reply.status_code == 200, (reply.status_code, reply.content)
            next_page = reply.json()
            # Every other page, the same submit arrives again (a double click, a retry).
            if len(seen[i]) % 2:
                replay = client.post(f"/api/p/{token}/response", body,
                                     content_type="application/json")
                assert replay.status_code == 409, (replay.status_code, replay.content)
                assert replay.json()["page"]["page_uuid"] == next_page["page_uuid"]
            page = next_page
        assert page["label"] == "end_successful"

    errors = run_in_threads(participant, N_PARTICIPANTS)
    assert not errors, errors[:3]

    assert Participant.objects.count() == N_PARTICIPANTS
    for i, token in tokens.items():
        participant = Participant.objects.get(token=token)
        expected = expected_labels(plays=i % 2 == 0)
        responses = list(participant.responses.order_by("id").values_list("page_label", "page_uuid"))
        assert [label for label, _ in responses] == expected, (i, responses)
        assert seen[i] == expected
        assert len({page_uuid for _, page_uuid in responses}) == len(expected)
        assert participant.complete and not participant.failed
        assert participant.worker_id == f"w{i}"
    total = sum(len(expected_labels(plays=i % 2 == 0)) for i in range(N_PARTICIPANTS))
    assert Response.objects.count() == total


@pytest.mark.django_db(transaction=True)
def test_the_same_page_submitted_from_two_threads_at_once_is_accepted_once():
    token = Client().get("/start/")["Location"].rstrip("/").rsplit("/", 1)[-1]
    answers = iter([None, "Bot", 30, "no", "pop", ["piano"], "uk", None, "1", "1"])
    races = 0
    while True:
        before = Participant.objects.get(token=token)
        responses_before = before.responses.count()
        page = Client().get(f"/api/p/{token}/page").json()
        if page["terminal"]:
            break
        body = {"page_uuid": page["page_uuid"], "answer": next(answers)}
        statuses: list[int] = []

        def submit(_: int, body=body, statuses=statuses) -> None:
            reply = Client().post(f"/api/p/{token}/response", body, content_type="application/json")
            statuses.append(reply.status_code)

        errors = run_in_threads(submit, 2)
        assert not errors, errors
        assert sorted(statuses) == [200, 409], statuses
        after = Participant.objects.get(token=token)
        assert Response.objects.filter(participant=after).count() == responses_before + 1
        assert after.page_uuid != before.page_uuid
        races += 1
    assert races == 10
    labels = list(Response.objects.filter(participant__token=token).values_list("page_label", flat=True))
    assert labels == expected_labels(plays=False)
