"""Page kinds beyond the questionnaire: waiting, end pages, media prompts, a researcher's own
control (its template and script plugged into the page through window.ChorusControls)."""

import sys

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from experiments.loading import get_experiment
from experiments.models import Participant, Response

from .helpers import EXPERIMENTS, moved_on, on_page, page_uuid

pytestmark = pytest.mark.django_db(transaction=True)


def test_wait_page_moves_on_by_itself_even_through_a_network_failure(page, start, use_experiment):
    """The wait page's first automatic submit is cut by Playwright's request interception (a real
    outage cannot be made for one browser alone); the page says so, retries and moves on."""
    use_experiment(EXPERIMENTS / "wait")
    start(page, "w-wait")
    posts = []

    def second_post_fails(route) -> None:
        posts.append(route.request.url)
        route.abort("connectionreset") if len(posts) == 2 else route.continue_()

    page.route("**/api/p/*/response", second_post_fails)
    page.get_by_role("button", name="Next").click()

    on_page(page, "pause")
    expect(page.get_by_text("Hold on a moment…")).to_be_visible()
    expect(page.locator(".spinner")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)  # nothing to press: it goes on alone
    expect(page.get_by_role("alert")).to_contain_text("Trying again")

    on_page(page, "end_successful")
    expect(page.get_by_text("All done, thank you.")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    assert len(posts) == 3  # ready, the failed automatic submit, its retry
    participant = Participant.objects.get(worker_id="w-wait")
    assert participant.complete
    assert list(Response.objects.filter(participant=participant).order_by("id")
                .values_list("page_label", flat=True)) == ["ready", "pause"]


def test_end_page_reload_still_shows_only_its_text(page, start, use_experiment):
    use_experiment(EXPERIMENTS / "wait")
    start(page, "w-end")
    page.get_by_role("button", name="Next").click()
    on_page(page, "end_successful")
    page.reload()
    on_page(page, "end_successful")
    expect(page.get_by_text("All done, thank you.")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)
    assert page.evaluate("typeof window.Chorus") == "undefined"  # no submitting script at all


def test_image_audio_and_video_prompts_load_their_media(page, start, use_experiment):
    use_experiment(EXPERIMENTS / "media")
    media = sys.modules[type(get_experiment()).__module__]  # the experiment.py that made the URLs
    start(page, "w-media")

    on_page(page, "image")
    image = page.get_by_role("img", name="A blue square")
    expect(image).to_have_attribute("src", media.IMAGE_URL)
    page.wait_for_function("img => img.complete && img.naturalWidth === 4", arg=image.element_handle())
    assert image.bounding_box()["width"] == 200  # the prompt's width="200px"
    page.get_by_role("button", name="Blue").click()

    for label, url in (("audio", media.AUDIO_URL), ("video", media.VIDEO_URL)):
        on_page(page, label)
        element = page.locator(label)
        expect(element).to_have_attribute("src", url)
        expect(element).to_have_attribute("controls", "")
        # The browser fetched and decoded the file: it knows the duration.
        page.wait_for_function("m => m.readyState >= 1 && m.duration > 0", arg=element.element_handle())
        uuid = page_uuid(page)
        page.get_by_role("button", name="Next").click()
        moved_on(page, uuid)

    on_page(page, "end_successful")
    assert list(Response.objects.filter(participant__worker_id="w-media").order_by("id")
                .values_list("page_label", "answer")) == [("image", "blue"), ("audio", None), ("video", None)]


def test_custom_control_template_and_script(page, start, use_experiment, settings):
    folder = EXPERIMENTS / "custom_control"
    use_experiment(folder)
    # A researcher's template and script live beside their experiment.py here; the project's
    # settings list those folders like any other template/static folder.
    settings.TEMPLATES = [{**django_settings.TEMPLATES[0],
                           "DIRS": [*django_settings.TEMPLATES[0]["DIRS"], folder / "templates"]}]
    settings.STATICFILES_DIRS = [*django_settings.STATICFILES_DIRS, folder / "static"]
    start(page, "w-custom")
    on_page(page, "colour")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    # collect() throws until a colour is chosen: its message shows and nothing is sent.
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_have_text("Pick a colour first.")
    assert posts == []

    blue = page.get_by_role("button", name="Blue")
    blue.click()
    expect(blue).to_have_attribute("aria-pressed", "true")
    uuid = page_uuid(page)
    page.get_by_role("button", name="Next").click()
    moved_on(page, uuid)
    on_page(page, "end_successful")
    assert Response.objects.get(participant__worker_id="w-custom", page_label="colour").answer == "blue"
