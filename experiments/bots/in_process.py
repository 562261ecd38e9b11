"""`Bot`: a bot in this process, through the same services (and the same page JSON, HTML and
JSON parsing) as a participant's requests."""

import io
import json
from typing import Any

from rest_framework.exceptions import ParseError

from .. import services
from ..models import Participant
from ..rest import StrictJSONParser, page_json
from ..selectors import page_payload
from ..timeline import Runner
from ..timeline.pages import Page, WaitPage
from ..views import page_html
from .base import (
    BaseBot,
    BotError,
)


class Bot(BaseBot):
    """An in-process bot: the same services a participant's requests call."""

    def __init__(self, *, worker_id: str | None = None, assignment_id: str = "",
                 entry_params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(worker_id=worker_id, **kwargs)
        self.assignment_id = assignment_id
        self.entry_params = entry_params or {}
        self.participant: Participant | None = None
        self.html = ""
        self._runner: Runner | None = None
        self._page: Page | None = None
        self._shown: tuple[Any, str] | None = None

    def _start(self) -> None:
        self.participant = services.participant_create(
            worker_id=self.worker_id, assignment_id=self.assignment_id, recruiter="bot",
            entry_params=self.entry_params, is_bot=True,
        )

    def _current(self) -> tuple[str, bool, bool]:
        experiment = self.experiment
        self._runner = Runner(experiment.program, experiment, self.participant)
        self._page = self._runner.current_page()
        self._show(self._page)
        return self._page.label, self._page.terminal, isinstance(self._page, WaitPage)

    def _show(self, page: Page) -> None:
        """Build the page as a person's browser gets it: the page API's JSON and the page's HTML.
        Once per page shown (polling a held page does not build it again)."""
        shown = (self.participant.page_uuid, page.label)
        if shown == self._shown:
            return
        payload = page_payload(self.participant, page=page)
        try:
            self.payload = json.loads(page_json(payload))
            self.html = page_html(payload, token=self.participant.token)
        except Exception as exc:
            raise BotError(
                f"page '{page.label}' cannot be shown to a participant (their browser would get a "
                f"500): {type(exc).__name__}: {exc}") from exc
        self._shown = shown

    def _answer(self) -> Any:
        return self._page.get_bot_response(self._runner.available())

    def _waits_for_others(self) -> bool:
        return hasattr(self._page, "bot_should_wait")

    def _held(self) -> bool:
        should_wait = getattr(self._page, "bot_should_wait", None)
        if should_wait is None:
            return False
        self.participant.refresh_from_db()   # the server may have moved them meanwhile
        status = getattr(self._page, "bot_wait_status", None)
        if status is not None:
            self._hold_status = status(self.participant)
            return bool(self._hold_status.get("waiting")) and not self._hold_status.get("released")
        return bool(should_wait(self.participant))

    def _submit(self, label: str, answer: Any) -> None:
        raw = as_sent_by_browser(label, answer)
        try:
            result = services.response_submit(
                token=self.participant.token, page_uuid=self.participant.page_uuid,
                raw_answer=raw, metadata={"bot": True},
            )
        except services.SubmitError as exc:
            raise BotError(f"page '{label}' refused the bot's answer {answer!r} "
                           f"({exc.status}): {exc.message} (Chorus submits bot_response as the raw "
                           "answer, as a browser would: give what the control's form sends)") from exc
        self.participant = result.participant
        self.responses.append(result.response)
        self.pages.append(label)

    @property
    def _participant_failed(self) -> bool:
        return self.participant is not None and self.participant.failed

    @property
    def _participant_complete(self) -> bool:
        return self.participant is not None and self.participant.complete

    def _participant_failed_reason(self) -> str:
        return self.participant.failed_reason or "the participant failed"


def as_sent_by_browser(label: str, answer: Any) -> Any:
    """The answer as the participant API receives it from a browser: JSON, parsed by the API's
    own parser. An answer a browser could not send fails the bot here."""
    try:
        text = json.dumps(answer, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BotError(
            f"page '{label}': the bot's answer {answer!r} cannot be sent as JSON, as a browser sends "
            f"answers ({exc}); make its bot_response a JSON value (str, number, bool, None, list, "
            "dict): Chorus submits bot_response as the raw answer, as a browser would") from None
    try:
        return StrictJSONParser().parse(io.BytesIO(text.encode()))
    except ParseError as exc:
        raise BotError(f"page '{label}': the participant API would refuse the bot's answer "
                       f"{answer!r} (400): {exc.detail}") from None
