"""The participant JSON API: the happy path, and every kind of bad input answered with a clear
4xx that changes nothing in the database."""

import json
import uuid

import pytest
from django.test import Client

from experiments import services
from experiments.models import ModuleState, Participant, Response, TimelineEvent
from experiments.selectors import current_page

pytestmark = pytest.mark.django_db


def api_page(token: str) -> str:
    return f"/api/p/{token}/page"


def api_response(token: str) -> str:
    return f"/api/p/{token}/response"


def post_json(client: Client, token: str, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    # CONTENT_TYPE also for an empty body (the test client only sets it when there is data).
    return client.post(api_response(token), data=data, content_type="application/json",
                       CONTENT_TYPE="application/json", **extra)


def snapshot() -> dict:
    """Everything a submit could change: row counts and every participant's state."""
    return {
        "responses": Response.objects.count(),
        "events": TimelineEvent.objects.count(),
        "module_states": ModuleState.objects.count(),
        "participants": list(
            Participant.objects.order_by("id").values(
                "id", "position", "page_uuid", "page_label", "vars", "answer", "time_credit",
                "progress", "timeline_state", "failed", "complete", "page_started_at",
                "last_active_at",
            )
        ),
    }


def start(client: Client, **params) -> str:
    """Enter through /start/ like a participant; return the token from the redirect."""
    reply = client.get("/start/", params)
    assert reply.status_code == 302
    token = reply["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert Participant.objects.filter(token=token).exists()
    return token


def advance_to(token: str, label: str) -> Participant:
    """Answer pages with their bot responses (through the service layer) until `label`."""
    participant = Participant.objects.get(token=token)
    while (page := current_page(participant)).label != label:
        assert not page.terminal, f"never reached {label}"
        answer = page.get_bot_response({"participant": participant})
        participant = services.response_submit(
            token=token, page_uuid=participant.page_uuid, raw_answer=answer
        ).participant
    return participant


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def token(client) -> str:
    return start(client, worker_id="w1")


# --- the happy path -------------------------------------------------------------------------


def test_get_page_returns_the_current_page(client, token):
    reply = client.get(api_page(token))
    assert reply.status_code == 200
    body = reply.json()
    participant = Participant.objects.get(token=token)
    assert body["label"] == "consent"
    assert body["page_uuid"] == str(participant.page_uuid)
    assert body["control"]["kind"] == "next"
    assert body["terminal"] is False and body["error"] is None


def test_submit_stores_the_response_and_returns_the_next_page(client, token):
    page_uuid = client.get(api_page(token)).json()["page_uuid"]
    reply = post_json(client, token, {"page_uuid": page_uuid, "answer": None,
                                      "metadata": {"client_time": 123}})
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert body["label"] == "name"
    participant = Participant.objects.get(token=token)
    assert body["page_uuid"] == str(participant.page_uuid) != page_uuid
    response = Response.objects.get(participant=participant)
    assert (response.page_label, str(response.page_uuid), response.metadata) == (
        "consent", page_uuid, {"client_time": 123})
    # The page the submit returned is the page a reload shows.
    assert client.get(api_page(token)).json() == body


def test_a_participant_walks_the_whole_demo_over_http(client, token):
    labels = []
    page = client.get(api_page(token)).json()
    answers = {"name": "Ada", "age": 33, "music": "yes", "genre": "jazz",
               "instruments": ["drums", "piano"], "country": "uk", "practice": 5, "mood": "4"}
    while not page["terminal"]:
        labels.append(page["label"])
        reply = post_json(client, token, {"page_uuid": page["page_uuid"],
                                          "answer": answers.get(page["label"])})
        assert reply.status_code == 200, reply.content
        page = reply.json()
    assert page["label"] == "end_successful" and page["complete"] and page["progress"] == 1.0
    assert labels == ["consent", "name", "age", "music", "genre", "instruments", "country",
                      "practice", "mood", "mood"]
    participant = Participant.objects.get(token=token)
    assert list(participant.responses.values_list("page_label", flat=True)) == labels
    assert participant.responses.get(page_label="instruments").answer == ["piano", "drums"]
    assert participant.var.answers == {"name": "Ada", "music": "yes"}
    # Nothing more can be submitted once the experiment has ended.
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": page["page_uuid"], "answer": None})
    assert reply.status_code == 409
    assert reply.json()["page"]["label"] == "end_successful"
    assert snapshot() == before


# --- replays --------------------------------------------------------------------------------


def test_a_repeated_submit_gets_409_with_the_current_page_and_changes_nothing(client, token):
    first_uuid = client.get(api_page(token)).json()["page_uuid"]
    assert post_json(client, token, {"page_uuid": first_uuid}).status_code == 200
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": first_uuid})
    assert reply.status_code == 409
    body = reply.json()
    assert "already submitted" in body["error"]
    assert body["page"]["label"] == "name"
    assert body["page"]["page_uuid"] == str(Participant.objects.get(token=token).page_uuid)
    assert snapshot() == before


def test_a_stale_or_made_up_page_uuid_gets_409_and_changes_nothing(client, token):
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": str(uuid.uuid4()), "answer": None})
    assert reply.status_code == 409
    assert reply.json()["page"]["label"] == "consent"
    assert snapshot() == before


def test_the_unique_constraint_backs_the_lock(client, token):
    """If a Response for the current page exists already (however it got there), the submit is
    refused as a replay by the (participant, page_uuid) constraint, not a 500."""
    participant = Participant.objects.get(token=token)
    Response.objects.create(participant=participant, page_uuid=participant.page_uuid,
                            page_label="consent")
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": str(participant.page_uuid)})
    assert reply.status_code == 409
    assert reply.json()["page"]["label"] == "consent"
    assert snapshot() == before


# --- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        ("{not json", "JSON parse error"),
        ("", "page_uuid"),
        ("[1, 2]", "JSON object"),
        ('"a string"', "JSON object"),
        ("null", "JSON object"),
        ('{"page_uuid": NaN}', "JSON parse error"),
        ('{"answer": 1e999, "page_uuid": "x"}', "JSON parse error"),
        ("[" * 100_000 + "]" * 100_000, "JSON parse error"),
        (b'{"page_uuid": "\xff\xfe"}', "JSON parse error"),
    ],
    ids=["broken", "empty", "list", "string", "null", "nan", "infinite", "deeply-nested", "not-utf8"],
)
def test_malformed_json_gets_400_with_a_message(client, token, body, message):
    before = snapshot()
    reply = post_json(client, token, body)
    assert reply.status_code == 400, reply.content
    assert message in reply.json()["error"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"answer": None},
        {"page_uuid": None},
        {"page_uuid": "not-a-uuid"},
        {"page_uuid": ["a"]},
        {"page_uuid": {"$ne": None}},
    ],
    ids=["empty", "missing", "null", "garbage", "list", "object"],
)
def test_a_missing_or_invalid_page_uuid_gets_400(client, token, payload):
    before = snapshot()
    reply = post_json(client, token, payload)
    assert reply.status_code == 400, reply.content
    assert reply.json()["error"].startswith("page_uuid:")
    assert snapshot() == before


def test_metadata_must_be_an_object(client, token):
    page_uuid = client.get(api_page(token)).json()["page_uuid"]
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": page_uuid, "metadata": [1, 2]})
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("metadata:")
    assert snapshot() == before


@pytest.mark.parametrize("where", ["answer", "metadata", "key"])
def test_a_nul_character_is_refused_with_400_not_a_database_error(client, token, where):
    """PostgreSQL's jsonb cannot store U+0000; it must be a 400, not a 500 from the database."""
    participant = advance_to(token, "name")
    payload = {"page_uuid": str(participant.page_uuid), "answer": "Ada"}
    if where == "answer":
        payload["answer"] = "A\u0000da"
    elif where == "metadata":
        payload["metadata"] = {"note": ["ok", "bad\u0000"]}
    else:
        payload["metadata"] = {"k\u0000": 1}
    before = snapshot()
    reply = post_json(client, token, payload)
    assert reply.status_code == 400, reply.content
    assert "NUL" in reply.json()["error"]
    assert snapshot() == before


def test_an_answer_of_the_wrong_shape_gets_400_and_changes_nothing(client, token):
    participant = advance_to(token, "music")
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": str(participant.page_uuid), "answer": "maybe"})
    assert reply.status_code == 400
    assert "not one of the choices" in reply.json()["error"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", '{"page_uuid": "x"}'),
        ("application/x-www-form-urlencoded", "page_uuid=x"),
        ("multipart/form-data; boundary=xyz", "--xyz--"),
        ("application/xml", "<page_uuid/>"),
    ],
)
def test_a_wrong_content_type_gets_415(client, token, content_type, body):
    page_uuid = str(Participant.objects.get(token=token).page_uuid)
    before = snapshot()
    reply = client.post(api_response(token), data=body.replace("x", page_uuid),
                        content_type=content_type)
    assert reply.status_code == 415, reply.content
    assert content_type.split(";")[0] in reply.json()["error"]
    assert snapshot() == before


def test_a_body_without_a_content_type_gets_415(client, token):
    page_uuid = str(Participant.objects.get(token=token).page_uuid)
    before = snapshot()
    reply = client.generic("POST", api_response(token), json.dumps({"page_uuid": page_uuid}),
                           content_type="")
    assert reply.status_code == 415
    assert "Unsupported media type" in reply.json()["error"]
    assert snapshot() == before


def test_a_body_over_the_limit_gets_413(client, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    page_uuid = str(Participant.objects.get(token=token).page_uuid)
    body = json.dumps({"page_uuid": page_uuid, "answer": "x" * 10_000})
    before = snapshot()
    reply = post_json(client, token, body)
    assert reply.status_code == 413, reply.content
    assert "too large" in reply.json()["error"]
    assert snapshot() == before
    # Just under the limit, the same submit is accepted.
    reply = post_json(client, token, {"page_uuid": page_uuid, "answer": "x" * 9_000})
    assert reply.status_code == 200


def test_the_default_limit_is_enforced(client, token, settings):
    page_uuid = str(Participant.objects.get(token=token).page_uuid)
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": page_uuid, "answer": big})
    assert reply.status_code == 413
    assert snapshot() == before


def test_get_is_the_only_method_on_page_and_post_the_only_one_on_response(client, token):
    before = snapshot()
    assert client.post(api_page(token), data="{}", content_type="application/json").status_code == 405
    reply = client.get(api_response(token))
    assert reply.status_code == 405 and "GET" in reply.json()["error"]
    assert client.put(api_response(token), data="{}", content_type="application/json").status_code == 405
    assert snapshot() == before


# --- answers that validate() rejects --------------------------------------------------------


def test_an_answer_failing_validate_gets_422_with_the_message_and_the_same_page(client, token):
    participant = advance_to(token, "age")
    before = snapshot()
    reply = post_json(client, token, {"page_uuid": str(participant.page_uuid), "answer": 12})
    assert reply.status_code == 422
    body = reply.json()
    assert body["error"] == "Please enter a number of at least 18."
    assert body["page"]["label"] == "age"
    assert body["page"]["error"] == body["error"]
    assert body["page"]["page_uuid"] == str(participant.page_uuid)
    assert snapshot() == before
    # The participant corrects the answer on the same page.
    reply = post_json(client, token, {"page_uuid": str(participant.page_uuid), "answer": 40})
    assert reply.status_code == 200 and reply.json()["label"] == "music"


# --- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_token",
    ["x" * 43, "1", "%00", "a%00b", "x" * 500, "%F0%9F%98%80", "%27%20OR%201=1--"],
    ids=["unknown", "integer", "nul", "embedded-nul", "long", "emoji", "quote"],
)
def test_an_unknown_token_gets_404_and_changes_nothing(client, token, bad_token):
    page_uuid = str(Participant.objects.get(token=token).page_uuid)
    before = snapshot()
    reply = client.get(api_page(bad_token))
    assert reply.status_code == 404 and reply.json()["error"] == "unknown participant token"
    reply = post_json(client, bad_token, {"page_uuid": page_uuid})
    assert reply.status_code == 404 and reply.json()["error"] == "unknown participant token"
    assert client.get(f"/p/{bad_token}/").status_code == 404
    assert snapshot() == before


def test_one_participants_token_never_reads_or_writes_another_participants_state(client):
    alice, bob = start(client, worker_id="alice"), start(client, worker_id="bob")
    alice_participant = advance_to(alice, "age")
    bob_page = client.get(api_page(bob)).json()
    alice_page = client.get(api_page(alice)).json()
    # Each token reads only its own page.
    assert (alice_page["label"], bob_page["label"]) == ("age", "consent")
    assert alice_page["page_uuid"] == str(alice_participant.page_uuid) != bob_page["page_uuid"]
    # Alice's token with Bob's page_uuid (and the reverse) is refused and changes nothing.
    before = snapshot()
    reply = post_json(client, alice, {"page_uuid": bob_page["page_uuid"], "answer": None})
    assert reply.status_code == 409 and reply.json()["page"]["label"] == "age"
    reply = post_json(client, bob, {"page_uuid": alice_page["page_uuid"], "answer": 30})
    assert reply.status_code == 409 and reply.json()["page"]["label"] == "consent"
    assert snapshot() == before
    # Bob answering his own page leaves Alice exactly as she was.
    alice_before = Participant.objects.filter(token=alice).values().get()
    reply = post_json(client, bob, {"page_uuid": bob_page["page_uuid"], "answer": None})
    assert reply.status_code == 200
    assert Participant.objects.filter(token=alice).values().get() == alice_before
    assert Response.objects.filter(participant__token=alice).count() == 2
    assert Response.objects.filter(participant__token=bob).count() == 1


def test_a_token_with_a_slash_matches_no_route(client, token):
    before = snapshot()
    assert client.get(api_page("..%2F..%2Fetc")).status_code == 404
    assert post_json(client, "..%2F" + token, {"page_uuid": str(uuid.uuid4())}).status_code == 404
    assert snapshot() == before


def test_participant_urls_carry_an_unguessable_token_not_an_id(client, token):
    participant = Participant.objects.get(token=token)
    assert len(token) >= 43 and str(participant.pk) not in token
    assert client.get(api_page(str(participant.pk))).status_code == 404


# --- the OpenAPI schema ---------------------------------------------------------------------


def test_the_openapi_schema_describes_both_endpoints(client):
    reply = client.get("/api/schema/", {"format": "json"})
    assert reply.status_code == 200
    schema = reply.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Chorus participant API"

    page = schema["paths"]["/api/p/{token}/page"]
    assert set(page) == {"get", "parameters"} or set(page) == {"get"}
    assert {"200", "404"} <= set(page["get"]["responses"])

    submit = schema["paths"]["/api/p/{token}/response"]["post"]
    assert set(submit["responses"]) == {"200", "400", "404", "409", "413", "415", "422"}
    body_schema = _resolve(schema, submit["requestBody"]["content"]["application/json"]["schema"])
    assert body_schema["required"] == ["page_uuid"]
    assert body_schema["properties"]["page_uuid"]["format"] == "uuid"
    assert list(submit["requestBody"]["content"]) == ["application/json"]
    # The described page is the page the API returns: same fields.
    page_schema = _resolve(schema, submit["responses"]["200"]["content"]["application/json"]["schema"])
    token = start(client)
    assert set(client.get(api_page(token)).json()) == set(page_schema["properties"])
    error_schema = _resolve(schema, submit["responses"]["409"]["content"]["application/json"]["schema"])
    assert set(error_schema["properties"]) == {"error", "page"}

    from drf_spectacular.validation import validate_schema

    validate_schema(schema)  # raises on an invalid OpenAPI document


def test_the_schema_is_also_served_as_yaml(client):
    reply = client.get("/api/schema/")
    assert reply.status_code == 200
    import yaml

    assert "/api/p/{token}/response" in yaml.safe_load(reply.content)["paths"]


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if not ref:
        return node
    name = ref.rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


# --- /start/ --------------------------------------------------------------------------------


def test_start_keeps_the_entry_parameters(client):
    token = start(client, worker_id="w-9", assignment_id="a-1", recruiter="prolific", study="s1")
    participant = Participant.objects.get(token=token)
    assert (participant.worker_id, participant.assignment_id, participant.recruiter) == (
        "w-9", "a-1", "prolific")
    assert participant.entry_params == {"study": "s1"}
    assert participant.page_label == "consent"


@pytest.mark.parametrize("params", [{"worker_id": "w\x00"}, {"study": "s\x00"}, {"k\x00": "v"}],
                         ids=["worker_id", "value", "key"])
def test_start_drops_nul_characters_instead_of_failing(client, params):
    """Query strings may carry %00; PostgreSQL refuses NUL in text and jsonb."""
    token = start(client, **params)
    participant = Participant.objects.get(token=token)
    assert "\x00" not in participant.worker_id + repr(participant.entry_params)


def test_start_only_answers_get(client):
    assert client.post("/start/").status_code == 405
    assert Participant.objects.count() == 0


def test_the_schema_generates_without_warnings(tmp_path):
    """drf-spectacular warns when it has to guess a view's shape; guessing is not describing."""
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/p/{token}/response" in (tmp_path / "s.yml").read_text()


def test_the_page_a_submit_returns_is_the_page_the_participant_is_on(client, tmp_path,
                                                                      use_experiment):
    """A participant failed on the way to the success page ends on the failure page; the submit
    must answer with that page, as a reload would."""
    (tmp_path / "experiment.py").write_text(
        "from experiments.api import *\n\n"
        "class Failing(Experiment):\n"
        "    label = 'failing'\n"
        "    timeline = join(\n"
        "        InfoPage('hello', time_estimate=1, label='hello'),\n"
        "        CodeBlock(lambda participant: participant.fail('screened out')),\n"
        "        SuccessfulEndPage(),\n"
        "    )\n"
    )
    use_experiment(tmp_path)
    token = start(client)
    page = client.get(api_page(token)).json()
    reply = post_json(client, token, {"page_uuid": page["page_uuid"]})
    assert reply.status_code == 200
    assert reply.json() == client.get(api_page(token)).json()
    assert reply.json()["label"] == "end_unsuccessful" and reply.json()["failed"] is True
