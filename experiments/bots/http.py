"""`HTTPBot`: a bot that takes the experiment over HTTP against a running server, as a browser
would; it enters as a bot only with the deployment's bot token."""

import re
from typing import Any
from urllib.parse import urlsplit

import requests
from django.db import DatabaseError

from ..bot_entry import (
    BOT_REFUSED_HEADER,
    BOT_TOKEN_HEADER,
    bot_token,
)
from ..experiment import Experiment
from ..loading import ExperimentLoadError, get_experiment
from ..models import Participant
from ..timeline import Runner
from ..timeline.injection import MissingArgument
from ..timeline.pages import Page
from ..timeline.program import ShowPage
from .base import (
    BaseBot,
    BotError,
    BotResponse,
)


class HTTPBot(BaseBot):
    """A bot that takes the experiment over HTTP, as a browser would, against `url`.

    Answers come from the experiment's own code when this process can load it (the same
    `EXPERIMENT`): the timeline's page with the same label; for pages made per participant
    (PageMaker) or bot responses that need the participant, the exact page when this process
    shares the server's database; failing both, a valid default derived from the page's JSON.
    """

    def __init__(self, url: str, *, session: requests.Session | None = None, timeout: float = 30.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL")
        self.url = url.rstrip("/") + "/"
        self.session = session or requests.Session()
        self.timeout = timeout
        self.token: str | None = None
        self.session.headers[BOT_TOKEN_HEADER] = bot_token()
        self._experiment_loaded = kwargs.get("experiment") is not None
        self._db_usable = True

    @property
    def experiment(self) -> Experiment | None:
        if not self._experiment_loaded:
            self._experiment_loaded = True
            try:
                self._experiment = get_experiment()
            except ExperimentLoadError:
                self._experiment = None
        return self._experiment

    @property
    def participant(self) -> Participant | None:
        """The participant row, when this process shares the server's database (else None)."""
        if self.token is None or not self._db_usable:
            return None
        try:
            return Participant.objects.filter(token=self.token).first()
        except DatabaseError:
            self._db_usable = False
            return None

    def _api(self, what: str) -> str:
        return f"{self.url}api/p/{self.token}/{what}"

    def _json(self, response: requests.Response, doing: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            detail = body.get("error") if isinstance(body, dict) else response.text[:200]
            raise BotError(f"{doing} answered {response.status_code}: {detail}")
        return body

    def _start(self) -> None:
        response = self.session.get(
            f"{self.url}start/", params={"worker_id": self.worker_id, "recruiter": "bot"},
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise BotError(f"GET /start/ answered {response.status_code}")
        if any(BOT_REFUSED_HEADER in r.headers for r in [*response.history, response]):
            raise BotError(
                "the server did not take this bot's token, so it entered as a person, not a bot: "
                "give this command the server's BOT_TOKEN (or its SECRET_KEY, from which the "
                "default token derives), or run the server with DEBUG=true")
        match = re.search(r"/p/([^/?#]+)/?$", urlsplit(response.url).path)
        if match is None:
            raise BotError(f"/start/ did not lead to a participant page (ended at {response.url})")
        self.token = match.group(1)
        self.payload = self._json(self.session.get(self._api("page"), timeout=self.timeout),
                                  "GET page")

    def _current(self) -> tuple[str, bool, bool]:
        p = self.payload
        return p["label"], bool(p["terminal"]), p.get("kind") == "WaitPage"

    def _waits_for_others(self) -> bool:
        return bool((self.payload.get("control") or {}).get("poll"))

    def _held(self) -> bool:
        poll = (self.payload.get("control") or {}).get("poll")
        if not poll:
            return False
        status = self._json(self.session.get(self._api(poll), timeout=self.timeout), f"GET {poll}")
        if status.get("page_uuid") != self.payload.get("page_uuid"):
            self.payload = self._json(self.session.get(self._api("page"), timeout=self.timeout), "GET page")
            return False
        self._hold_status = status
        return bool(status.get("waiting")) and not status.get("released")

    def _answer(self) -> Any:
        experiment = self.experiment
        if experiment is not None:
            page = self._timeline_page(experiment)
            if page is not None:
                try:
                    return page.get_bot_response({"experiment": experiment})
                except MissingArgument:
                    pass  # it wants the participant: read it below if we share the database
            participant = self.participant
            if participant is not None and str(participant.page_uuid) == self.payload["page_uuid"]:
                runner = Runner(experiment.program, experiment, participant)
                page = runner.current_page()
                if page.label == self.payload["label"]:
                    return page.get_bot_response(runner.available())
        return answer_from_payload(self.payload.get("control") or {})

    def _timeline_page(self, experiment: Experiment) -> Page | None:
        p = self.payload
        for instruction in experiment.program.instructions:
            source = getattr(instruction, "source", None)
            if (isinstance(instruction, ShowPage) and isinstance(source, Page)
                    and source.label == p["label"] and type(source).__name__ == p.get("kind")
                    and source.control.kind == (p.get("control") or {}).get("kind")):
                return source
        return None

    def _submit(self, label: str, answer: Any) -> None:
        response = self.session.post(
            self._api("response"),
            json={"page_uuid": self.payload["page_uuid"], "answer": answer, "metadata": {"bot": True}},
            timeout=self.timeout,
        )
        if response.status_code == 409:
            # Not the current page any more (the server moved the participant on): go on from
            # the page the server says they are on; this page was not answered by us.
            body = response.json() if response.headers.get("content-type", "").startswith(
                "application/json") else {}
            if isinstance(body.get("page"), dict):
                self.payload = body["page"]
                return
        self.payload = self._json(response, f"POST answer {answer!r} to page '{label}'")
        self.responses.append(BotResponse(page_label=label, answer=answer))
        self.pages.append(label)

    @property
    def _participant_failed(self) -> bool:
        return bool(self.payload.get("failed"))

    @property
    def _participant_complete(self) -> bool:
        return bool(self.payload.get("complete"))

    def _participant_failed_reason(self) -> str:
        participant = self.participant
        if participant is not None and participant.failed_reason:
            return participant.failed_reason
        return f"the participant failed (ended on page '{self.payload.get('label')}')"


def answer_from_payload(control: dict[str, Any]) -> Any:
    """A valid answer for a built-in control, from its JSON description alone."""
    kind = control.get("kind")
    options = [o.get("value") for o in control.get("options") or []]
    if kind in ("push_button", "radio", "dropdown") and options:
        return options[0]
    if kind == "checkbox":
        return options[: max(int(control.get("min_selected") or 0), 1)]
    if kind == "text":
        n = int(control.get("min_length") or 0)
        return "x" * n if n else "bot answer"
    if kind == "number":
        for bound in ("min_value", "max_value"):
            if control.get(bound) is not None:
                return control[bound]
        return 0
    if kind == "slider":
        return control.get("start_value")
    return None
