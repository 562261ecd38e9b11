"""Helpers for browser tests: where the participant is, what the page shows."""

from pathlib import Path

from playwright.sync_api import Page

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"


def on_page(page: Page, label: str) -> None:
    """Wait until the browser shows the page with this label."""
    page.wait_for_selector(f'#page[data-label="{label}"]', timeout=10_000)


def page_uuid(page: Page) -> str | None:
    return page.locator("#page").get_attribute("data-page-uuid")


def moved_on(page: Page, old_uuid: str | None) -> None:
    """Wait until the browser shows a different page than the one with `old_uuid`."""
    # wait_for_selector watches the page itself (across the reload), quicker than polling.
    page.wait_for_selector(f'#page:not([data-page-uuid="{old_uuid or ""}"])', timeout=10_000)


def progress(page: Page) -> int:
    return int(page.get_by_role("progressbar").get_attribute("aria-valuenow"))
