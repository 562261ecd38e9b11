"""Reads: the participant's current page, summaries for admins."""

import re
from typing import Any

from .loading import get_experiment
from .models import Participant
from .timeline import Page, Runner

#: What a participant token can look like (secrets.token_urlsafe). Anything else is unknown
#: without asking the database (which refuses NUL bytes with an error, not a miss).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_token_shaped(token: str) -> bool:
    return TOKEN_PATTERN.fullmatch(token) is not None


def participant_by_token(token: str) -> Participant | None:
    if not is_token_shaped(token):
        return None
    # Raw SQL: every page view runs this; compiling the ORM query cost more CPU than running it.
    found = list(Participant.objects.raw(_BY_TOKEN_SQL, [token]))
    return found[0] if found else None


_BY_TOKEN_SQL = f"SELECT * FROM {Participant._meta.db_table} WHERE token = %s"


def page_payload(participant: Participant, *, error: str | None = None,
                 page: Page | None = None) -> dict[str, Any]:
    """The participant's current page as JSON: what the page template and bots both use.

    Pass `page` when the caller already has it (a submit returns the page it moved to), so a
    PageMaker is not called a second time.
    """
    page = page or current_page(participant)
    return {
        "page_uuid": str(participant.page_uuid) if participant.page_uuid else None,
        "progress": round(participant.progress, 4),
        "failed": participant.failed,
        "complete": participant.complete,
        "error": error,
        **page.to_dict(),
    }


def current_page(participant: Participant) -> Page:
    experiment = get_experiment()
    return Runner(experiment.program, experiment, participant).current_page()
