"""A participant takes demos/hello_world in Chromium with every kind of control, on a desktop
screen, on a phone, and with the keyboard alone; the database then holds what they entered."""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from experiments.models import Participant, Response

from .helpers import moved_on, on_page, page_uuid, progress

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED_ANSWERS = [
    ("consent", None), ("name", "Ada Lovelace"), ("age", 36), ("music", "yes"), ("genre", "jazz"),
    ("instruments", ["piano", "drums"]), ("country", "us"), ("practice", 10.0), ("mood", "4"),
    ("mood", "2"),
]


# Nothing sticks out sideways (no horizontal scrolling), and every control is on screen and at
# least 44 px tall, big enough to tap (radios and checkboxes: their whole option row is the target).
LAYOUT_PROBLEMS = """() => {
  const width = window.innerWidth, problems = [];
  if (document.documentElement.scrollWidth > width) problems.push("the page is wider than the screen");
  for (const el of document.querySelectorAll("button, input, select, textarea, label.option")) {
    const box = el.getBoundingClientRect();
    if (box.left < 0 || box.right > width) problems.push("off screen: " + el.outerHTML);
    const inRow = el.tagName === "INPUT" && (el.type === "radio" || el.type === "checkbox");
    if (!inRow && box.height < 44) problems.push("under 44 px tall: " + el.outerHTML);
  }
  return problems;
}"""


def take_hello_world(page: Page, *, tap: bool, each_page: Callable[[Page], None]) -> None:
    """Answer every page of hello_world as a participant would; call `each_page` on each."""

    def press(locator) -> None:
        uuid = page_uuid(page)
        locator.tap() if tap else locator.click()
        moved_on(page, uuid)

    def next_button():
        return page.get_by_role("button", name="Next")

    on_page(page, "consent")
    each_page(page)
    expect(page.get_by_text("Press Next if you agree")).to_be_visible()
    press(next_button())

    on_page(page, "name")
    each_page(page)
    page.get_by_label("What should we call you?").fill("Ada Lovelace")
    press(next_button())

    on_page(page, "age")
    each_page(page)
    page.get_by_label("How old are you?").fill("36")
    press(next_button())

    on_page(page, "music")
    each_page(page)
    press(page.get_by_role("button", name="Yes"))

    on_page(page, "genre")
    each_page(page)
    page.get_by_role("radio", name="Jazz").check()
    press(next_button())

    on_page(page, "instruments")
    each_page(page)
    page.get_by_role("checkbox", name="Piano").check()
    page.get_by_role("checkbox", name="Drums").check()
    press(next_button())

    on_page(page, "country")
    each_page(page)
    page.get_by_label("Where do you live?").select_option(label="United States")
    press(next_button())

    on_page(page, "practice")
    each_page(page)
    slider = page.get_by_role("slider", name="How many hours a week do you practise?")
    expect(slider).to_have_value("2")
    slider.focus()
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#slider-value")).to_have_text("10")
    press(next_button())

    on_page(page, "mood")
    each_page(page)
    press(page.get_by_role("button", name="4"))
    on_page(page, "mood")  # the loop's second round: a new page with the same label
    each_page(page)
    press(page.get_by_role("button", name="2"))

    on_page(page, "end_successful")
    each_page(page)


def assert_stored(worker_id: str) -> None:
    participant = Participant.objects.get(worker_id=worker_id)
    assert participant.complete and not participant.failed
    assert participant.progress == 1.0
    responses = list(Response.objects.filter(participant=participant).order_by("id"))
    assert [(r.page_label, r.answer) for r in responses] == EXPECTED_ANSWERS
    assert all(r.metadata["time_on_page_ms"] >= 0 for r in responses)


def assert_end_page(page: Page) -> None:
    expect(page.get_by_text("Thank you for taking part")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    expect(page.get_by_role("button")).to_have_count(0)


def test_click_through_hello_world_with_every_control(page, start):
    start(page, "w-desktop")
    seen: list[tuple[int, float]] = []

    def record_progress(page: Page) -> None:
        bar = page.locator(".progress-bar").bounding_box()
        seen.append((progress(page), bar["width"]))

    take_hello_world(page, tap=False, each_page=record_progress)
    assert_end_page(page)
    assert_stored("w-desktop")
    percents = [p for p, _ in seen]
    widths = [w for _, w in seen]
    assert percents[0] == 0 and percents[-1] == 100
    assert percents == sorted(percents) and len(set(percents)) == len(percents), percents
    assert widths == sorted(widths) and widths[-1] > widths[0], widths


def test_phone_sized_screen_fits_and_has_large_targets(mobile_page, start):
    page = mobile_page
    start(page, "w-phone")

    assert page.evaluate("window.innerWidth") == 375

    def check_layout(page: Page) -> None:
        assert page.evaluate(LAYOUT_PROBLEMS) == []

    take_hello_world(page, tap=True, each_page=check_layout)
    assert_end_page(page)
    assert_stored("w-phone")


def test_keyboard_alone_answers_pages(page, start):
    start(page, "w-keys")
    keys = page.keyboard

    def enter_and_wait() -> None:
        uuid = page_uuid(page)
        keys.press("Enter")
        moved_on(page, uuid)

    on_page(page, "consent")
    keys.press("Tab")
    expect(page.get_by_role("button", name="Next")).to_be_focused()
    enter_and_wait()

    on_page(page, "name")  # the text field has focus already: type, then Enter
    expect(page.get_by_label("What should we call you?")).to_be_focused()
    keys.type("Kay")
    enter_and_wait()

    on_page(page, "age")
    keys.type("40")
    enter_and_wait()

    on_page(page, "music")
    keys.press("Tab")
    keys.press("Tab")
    expect(page.get_by_role("button", name="No")).to_be_focused()
    enter_and_wait()

    on_page(page, "genre")
    keys.press("Tab")  # into the radio group
    keys.press("ArrowDown")  # moves to and selects the second option
    expect(page.get_by_role("radio", name="Jazz")).to_be_checked()
    enter_and_wait()

    on_page(page, "instruments")
    keys.press("Tab")
    keys.press("Space")  # Piano
    keys.press("Tab")
    keys.press("Tab")
    keys.press("Space")  # Drums
    keys.press("Tab")
    expect(page.get_by_role("button", name="Next")).to_be_focused()
    enter_and_wait()

    on_page(page, "country")
    keys.press("Tab")
    keys.press("ArrowDown")
    keys.press("ArrowDown")
    expect(page.get_by_label("Where do you live?")).to_have_value("1")
    keys.press("Tab")
    enter_and_wait()

    on_page(page, "listener")  # said "No" to playing music: the other branch
    participant = Participant.objects.get(worker_id="w-keys")
    answers = [(r.page_label, r.answer) for r in Response.objects.filter(participant=participant).order_by("id")]
    assert answers == [("consent", None), ("name", "Kay"), ("age", 40), ("music", "no"),
                       ("genre", "jazz"), ("instruments", ["piano", "drums"]), ("country", "us")]
