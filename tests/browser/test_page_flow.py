"""What the page does when things go wrong: refused answers, reloads, stale tabs, a lost
network, double clicks. Each keeps what the participant typed and never loses or repeats a page."""

import pytest
from playwright.sync_api import Page, expect

from experiments import services
from experiments.models import Response
from experiments.selectors import current_page

from .helpers import moved_on, on_page, page_uuid, progress

pytestmark = pytest.mark.django_db(transaction=True)


def answers(worker_id: str) -> list[tuple[str, object]]:
    return [(r.page_label, r.answer) for r in
            Response.objects.filter(participant__worker_id=worker_id).order_by("id")]


def go_to(page: Page, live_server, worker_id: str, label: str) -> str:
    """Create a participant, answer (through the service layer, as a bot) up to the page
    `label`, and open their link in the browser. Returns the token."""
    participant = services.participant_create(worker_id=worker_id)
    while current_page(participant).label != label:
        answer = current_page(participant).get_bot_response({"participant": participant})
        participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                               raw_answer=answer).participant
    page.goto(f"{live_server.url}/p/{participant.token}/")
    on_page(page, label)
    return participant.token


def test_validate_message_shows_on_the_same_page_and_keeps_the_answer(page, live_server):
    go_to(page, live_server, "w-validate", "age")
    uuid = page_uuid(page)
    age = page.get_by_label("How old are you?")
    age.fill("150")
    page.get_by_role("button", name="Next").click()

    error = page.get_by_role("alert")
    expect(error).to_have_text("Please enter a number of at most 120.")
    on_page(page, "age")
    assert page_uuid(page) == uuid  # no reload, the same page
    expect(age).to_have_value("150")  # what was typed is still there
    expect(age).to_have_attribute("aria-invalid", "true")
    expect(age).to_be_focused()  # ready to be corrected
    expect(age).to_be_editable()  # the page is usable again after the refusal
    assert [label for label, _ in answers("w-validate")] == ["consent", "name"]  # nothing stored

    age.fill("4")  # correcting clears the old message; a second refusal shows its own
    expect(error).to_have_text("")
    page.get_by_role("button", name="Next").click()
    expect(error).to_have_text("Please enter a number of at least 18.")

    age.fill("18")
    page.get_by_role("button", name="Next").click()
    moved_on(page, uuid)
    on_page(page, "music")
    assert answers("w-validate")[-1] == ("age", 18)


def test_choice_left_empty_is_refused_with_its_message(page, live_server):
    go_to(page, live_server, "w-empty", "genre")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_have_text("Please choose an option.")
    expect(page.get_by_role("group", name="Which genre do you like best?")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("radio", name="Classical")).to_be_focused()  # back in the options
    page.get_by_role("radio", name="Pop").check()
    page.get_by_role("button", name="Next").click()
    on_page(page, "instruments")
    assert answers("w-empty")[-1] == ("genre", "pop")


def test_reload_resumes_the_same_page(page, live_server, start):
    token = start(page, "w-reload")
    page.get_by_role("button", name="Next").click()
    on_page(page, "name")
    uuid, percent = page_uuid(page), progress(page)

    page.get_by_label("What should we call you?").fill("half-typed")
    page.reload()
    on_page(page, "name")
    assert page_uuid(page) == uuid and progress(page) == percent

    # The link opened afresh (another tab, or the next day) shows the same page too.
    other = page.context.new_page()
    other.goto(f"{live_server.url}/p/{token}/")
    on_page(other, "name")
    assert page_uuid(other) == uuid
    other.close()

    page.get_by_label("What should we call you?").fill("Grace")
    page.get_by_role("button", name="Next").click()
    on_page(page, "age")
    assert answers("w-reload") == [("consent", None), ("name", "Grace")]


def test_stale_tab_moves_to_the_current_page_without_storing(page, live_server, start):
    token = start(page, "w-stale")
    stale = page.context.new_page()
    stale.goto(f"{live_server.url}/p/{token}/")
    on_page(stale, "consent")

    page.get_by_role("button", name="Next").click()
    on_page(page, "name")

    # The second tab still shows the consent page; submitting it gets 409 and then shows the
    # participant's current page.
    statuses = []
    stale.on("response", lambda r: statuses.append(r.status) if r.request.method == "POST" else None)
    stale.get_by_role("button", name="Next").click()
    on_page(stale, "name")
    assert statuses == [409]
    assert answers("w-stale") == [("consent", None)]
    stale.close()


def test_network_failure_says_so_and_keeps_the_answer(page, live_server):
    """The network is cut by Playwright's request interception (a real outage cannot be made
    for one browser while the live server keeps serving others)."""
    go_to(page, live_server, "w-offline", "name")
    name = page.get_by_label("What should we call you?")
    name.fill("Hedy")
    page.route("**/api/p/*/response", lambda route: route.abort("internetdisconnected"))
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("Could not reach the server")
    on_page(page, "name")
    expect(name).to_have_value("Hedy")
    expect(name).not_to_have_attribute("aria-invalid", "true")  # the answer was fine; the network was not
    assert answers("w-offline") == [("consent", None)]

    page.unroute("**/api/p/*/response")  # back online: the same answer goes through
    page.get_by_role("button", name="Next").click()
    on_page(page, "age")
    assert answers("w-offline") == [("consent", None), ("name", "Hedy")]


def test_server_error_is_reported_and_the_page_stays(page, live_server):
    """A 500 is made by interception too: the real services have no way to fail on demand."""
    go_to(page, live_server, "w-500", "age")
    page.get_by_label("How old are you?").fill("33")
    page.route("**/api/p/*/response", lambda route: route.fulfill(status=500, body="oops"))
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("Something went wrong on our side (500)")
    expect(page.get_by_label("How old are you?")).to_have_value("33")
    page.unroute("**/api/p/*/response")
    page.get_by_role("button", name="Next").click()
    on_page(page, "music")
    assert answers("w-500")[-1] == ("age", 33)


@pytest.mark.parametrize(("label", "button", "then"), [("consent", "Next", "name"), ("music", "Yes", "genre")])
def test_double_click_submits_once(page, live_server, label, button, then):
    go_to(page, live_server, f"w-double-{label}", label)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_role("button", name=button).dblclick()
    on_page(page, then)  # one page further, not two
    assert len(posts) == 1, posts
    assert [lab for lab, _ in answers(f"w-double-{label}")].count(label) == 1
