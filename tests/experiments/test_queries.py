"""Cost per request in SQL queries: a small constant, whatever the number of participants."""

import pytest
from django.test import Client

from experiments.models import Participant

# transaction=True: count the statements a real request runs (no test-wrapping savepoints).
pytestmark = pytest.mark.django_db(transaction=True)

#: Statements one submit may cost: BEGIN, lock the participant, insert the Response, update
#: the participant, COMMIT (5), plus at most one insert each for timeline events and module states.
SUBMIT_QUERIES = 7
#: Is recruitment open (one primary-key read by the monitor's start guard), BEGIN, insert the
#: participant, save where the timeline put them, COMMIT.
START_QUERIES = 5
#: One read of the participant by token.
PAGE_QUERIES = 1

ANSWERS = {"name": "Bot", "age": 30, "music": "yes", "genre": "pop", "instruments": ["piano"],
           "country": "uk", "practice": 3, "mood": "2"}


def add_participants(n: int) -> None:
    """Bulk-create n participants spread over the timeline, as a busy deployment would have."""
    Participant.objects.bulk_create(
        [Participant(worker_id=f"bulk{i}", position=i % 12, page_label="bulk") for i in range(n)],
        batch_size=5000,
    )


def walk_counting_queries(client: Client, assert_max_queries) -> tuple[list[int], int, int]:
    """One participant through the whole demo over HTTP; the query count of each request."""
    with assert_max_queries(START_QUERIES) as start_queries:
        reply = client.get("/start/", {"worker_id": "counted"})
    assert reply.status_code == 302
    token = reply["Location"].rstrip("/").rsplit("/", 1)[-1]
    with assert_max_queries(PAGE_QUERIES) as page_queries:
        page = client.get(f"/api/p/{token}/page").json()
    submit_counts = []
    while not page["terminal"]:
        with assert_max_queries(SUBMIT_QUERIES) as captured:
            reply = client.post(f"/api/p/{token}/response",
                                {"page_uuid": page["page_uuid"], "answer": ANSWERS.get(page["label"])},
                                content_type="application/json")
        assert reply.status_code == 200, reply.content
        submit_counts.append(len(captured))
        page = reply.json()
    return submit_counts, len(start_queries), len(page_queries)


def test_a_submit_costs_the_same_few_queries_with_10_or_10000_participants(
        django_assert_max_num_queries):
    client = Client()
    add_participants(10)
    small = walk_counting_queries(client, django_assert_max_num_queries)

    add_participants(10_000 - Participant.objects.count())
    assert Participant.objects.count() == 10_000
    large = walk_counting_queries(client, django_assert_max_num_queries)

    assert small == large
    submit_counts = small[0]
    assert len(submit_counts) == 10
    # Pages that enter no module and log no branch or loop cost exactly the base five.
    assert submit_counts.count(5) >= 6, submit_counts


def test_a_refused_submit_is_cheap_too(django_assert_max_num_queries):
    add_participants(1000)
    client = Client()
    token = client.get("/start/")["Location"].rstrip("/").rsplit("/", 1)[-1]
    page_uuid = client.get(f"/api/p/{token}/page").json()["page_uuid"]
    assert client.post(f"/api/p/{token}/response", {"page_uuid": page_uuid},
                       content_type="application/json").status_code == 200
    # A replay: BEGIN, lock, see it is stale, ROLLBACK, re-read the page to answer with it.
    with django_assert_max_num_queries(4):
        reply = client.post(f"/api/p/{token}/response", {"page_uuid": page_uuid},
                            content_type="application/json")
    assert reply.status_code == 409
    # Malformed input and unknown tokens never reach the database at all.
    with django_assert_max_num_queries(0):
        assert client.post(f"/api/p/{token}/response", "{oops",
                           content_type="application/json").status_code == 400
        assert client.get("/api/p/%00/page").status_code == 404
    with django_assert_max_num_queries(1):
        assert client.get(f"/api/p/{'x' * 43}/page").status_code == 404
