"""Django admin: staff only, every page renders with real data, actions go through services."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from experiments import services
from experiments.deployment import deployment_create
from experiments.loading import get_experiment
from experiments.models import Deployment, ModuleState, Participant, Response, TimelineEvent
from experiments.selectors import current_page

pytestmark = pytest.mark.django_db


def take_pages(participant: Participant, n: int) -> Participant:
    """Submit the bot answer to `n` pages, through the same service as a browser."""
    for _ in range(n):
        page = current_page(participant)
        answer = page.get_bot_response({"participant": participant})
        participant = services.response_submit(
            token=participant.token, page_uuid=participant.page_uuid, raw_answer=answer
        ).participant
    return participant


def make_participants(n: int, pages: int = 4, prefix: str = "w") -> list[Participant]:
    return [take_pages(services.participant_create(worker_id=f"{prefix}-{i}"), pages) for i in range(n)]


def changelist(model) -> str:
    return reverse(f"admin:experiments_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:experiments_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.mark.parametrize("model", [Participant, Response, ModuleState, TimelineEvent, Deployment])
def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(client, model):
    make_participants(1)
    url = changelist(model)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))

    User.objects.create_user("participant-like", password="pw", is_staff=False)
    client.login(username="participant-like", password="pw")
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_every_admin_page_renders_with_data(admin_client):
    alice = make_participants(1, pages=9, prefix="alice")[0]
    deployment = deployment_create(experiment=get_experiment())
    response = Response.objects.filter(participant=alice, page_label="age").get()
    state = ModuleState.objects.filter(participant=alice).first()
    event = TimelineEvent.objects.filter(participant=alice).first()
    assert state is not None and event is not None

    pages = [changelist(m) for m in (Participant, Response, ModuleState, TimelineEvent, Deployment)]
    pages += [change(o) for o in (alice, response, state, event, deployment)]
    pages += [reverse("admin:index")]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url

    detail = admin_client.get(change(alice)).content.decode()
    assert "alice-0" in detail and "questionnaire" in detail          # module state inline
    assert f"?participant__id__exact={alice.pk}" in detail              # links to their rows
    assert f"{alice.responses.count()} responses" in detail
    # A response links back to its participant and shows the answer pretty-printed.
    body = admin_client.get(change(response)).content.decode()
    assert change(alice) in body and "<pre" in body and "30" in body
    # The participant's responses, reached from the link, are exactly theirs.
    listing = admin_client.get(changelist(Response), {"participant__id__exact": alice.pk})
    assert listing.context["cl"].result_count == alice.responses.count() == 9


def test_engine_fields_are_read_only_and_status_goes_through_the_service(admin_client):
    alice = make_participants(1)[0]
    before = Participant.objects.get(pk=alice.pk)
    form = admin_client.get(change(alice)).context["adminform"].form
    assert list(form.fields) == ["status"]
    response = admin_client.post(change(alice), {
        "status": "approved", "position": 0, "progress": 0, "page_label": "hacked",
        "module_states-TOTAL_FORMS": 0, "module_states-INITIAL_FORMS": 0,
    })
    assert response.status_code == 302
    after = Participant.objects.get(pk=alice.pk)
    assert after.status == "approved"
    assert (after.position, after.page_label, after.progress) == (
        before.position, before.page_label, before.progress)
    # Nothing can be added by hand.
    assert admin_client.get(reverse("admin:experiments_participant_add")).status_code == 403
    assert admin_client.get(reverse("admin:experiments_response_add")).status_code == 403


def test_fail_action_asks_for_a_reason_then_fails_through_the_service(admin_client):
    alice, bob, carol = make_participants(3)
    services.participant_fail(participant_id=carol.pk, reason="earlier")
    url = changelist(Participant)
    selection = {"action": "fail_participants", "_selected_action": [alice.pk, carol.pk]}

    confirm = admin_client.post(url, selection)
    assert confirm.status_code == 200 and b"Fail 2 participants" in confirm.content
    assert not Participant.objects.get(pk=alice.pk).failed           # nothing happens yet

    done = admin_client.post(url, {**selection, "apply": "yes", "reason": "spoke to the experimenter"})
    assert done.status_code == 302
    alice, bob, carol = (Participant.objects.get(pk=p.pk) for p in (alice, bob, carol))
    assert alice.failed and alice.failed_reason == "spoke to the experimenter"
    assert "admin" in alice.failure_tags and alice.failed_at is not None
    assert current_page(alice).terminal                                # moved to the failure page
    assert not bob.failed
    assert carol.failed_reason == "earlier"                            # idempotent: kept its reason
    messages = [str(m) for m in admin_client.get(url).context["messages"]]
    assert any("Failed 1 participant(s). 1 had already failed." in m for m in messages)


def test_fail_action_refuses_an_empty_reason(admin_client):
    alice = make_participants(1)[0]
    response = admin_client.post(changelist(Participant), {
        "action": "fail_participants", "_selected_action": [alice.pk], "apply": "yes", "reason": "",
    })
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not Participant.objects.get(pk=alice.pk).failed


def test_search_by_worker_id_and_assignment_id(admin_client):
    services.participant_create(worker_id="alice-123", assignment_id="A-1")
    services.participant_create(worker_id="bob-456", assignment_id="A-2")
    url = changelist(Participant)

    def found(q):
        return sorted(p.worker_id for p in admin_client.get(url, {"q": q}).context["cl"].result_list)

    assert found("alice") == ["alice-123"]
    assert found("456") == ["bob-456"]
    assert found("A-2") == ["bob-456"]
    assert found("nobody") == []
    # Responses are searchable by their participant's worker id.
    take_pages(Participant.objects.get(worker_id="alice-123"), 2)
    rows = admin_client.get(changelist(Response), {"q": "alice-123"}).context["cl"].result_list
    assert len(rows) == 2 and all(r.participant.worker_id == "alice-123" for r in rows)


def test_filters_narrow_the_participant_list(admin_client):
    alice, bob = make_participants(2)
    services.participant_fail(participant_id=bob.pk, reason="test")
    url = changelist(Participant)
    assert [p.pk for p in admin_client.get(url, {"failed__exact": 1}).context["cl"].result_list] == [bob.pk]
    assert [p.pk for p in admin_client.get(url, {"status": "working", "failed__exact": 0})
            .context["cl"].result_list] == [alice.pk]


@pytest.mark.parametrize("model", [Participant, Response, ModuleState, TimelineEvent])
def test_changelist_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries, model):
    make_participants(2, pages=9)
    admin_client.get(changelist(model))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(changelist(model)).status_code == 200
    make_participants(20, pages=9, prefix="more")
    assert len(few.captured_queries) <= 8  # session, user, counts, rows, filter choices
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(changelist(model))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) > 20


@pytest.mark.parametrize("model", [Response, ModuleState, TimelineEvent, Deployment])
def test_engine_rows_cannot_be_deleted_or_edited_one_by_one(admin_client, model):
    make_participants(1, pages=9)
    deployment_create(experiment=get_experiment())
    row = model.objects.first()
    delete_url = reverse(f"admin:experiments_{model._meta.model_name}_delete", args=[row.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.post(change(row), {}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()
