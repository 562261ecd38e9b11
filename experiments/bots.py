"""Bots: simulated participants that take the experiment the way real ones do.

`Bot` drives a participant through the same service layer as the participant API
(`participant_create(is_bot=True)`, then per page `page.get_bot_response(...)` →
`services.response_submit`), so whatever a bot gets through, a participant gets through.
`HTTPBot` does the same over HTTP against a running server (`/start/` → `/p/<token>/` →
`GET /api/p/<token>/page`, `POST /api/p/<token>/response`). Both stop at a terminal page, and
after `max_pages` pages, so a timeline that loops forever cannot hang them.

After `run()`: `bot.complete`, `bot.failed`, `bot.failed_reason`, `bot.participant`,
`bot.responses` (each with `.page_label` and `.answer`), `bot.pages` (labels answered).
"""

import re
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.db import DatabaseError, connections

from . import services
from .experiment import Experiment
from .loading import ExperimentLoadError, get_experiment
from .models import Participant
from .timeline import Runner
from .timeline.injection import MissingArgument
from .timeline.pages import Page, WaitPage
from .timeline.program import ShowPage

#: Pages a bot answers before it decides the timeline never ends.
DEFAULT_MAX_PAGES = 1000
#: A page that moves on by itself once others arrive (a barrier's waiting page) is polled this
#: often, for at most this long, instead of being answered over and over.
HOLD_POLL = 0.05
MAX_HOLD = 120.0


class BotError(Exception):
    """The bot could not go on: its answer was refused, the server erred, or too many pages."""


@dataclass(frozen=True)
class BotResponse:
    """What an HTTP bot answered on one page (in-process bots keep the `Response` rows)."""

    page_label: str
    answer: Any


class BaseBot:
    """The loop shared by both bots; subclasses say how to start, read a page and submit."""

    def __init__(self, *, worker_id: str | None = None, experiment: Experiment | None = None,
                 max_pages: int = DEFAULT_MAX_PAGES, wait: float | None = None) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.worker_id = worker_id or f"bot-{uuid.uuid4().hex[:12]}"
        self.max_pages = max_pages
        self._experiment = experiment
        self._wait = wait
        self.responses: list[Any] = []
        self.pages: list[str] = []
        self.steps = 0
        self.error: BaseException | None = None
        self.traceback = ""
        self.started = False
        self.finished = False
        self._held_since: float | None = None

    # -- what subclasses provide -------------------------------------------------------------
    def _start(self) -> None:
        raise NotImplementedError

    def _current(self) -> tuple[str, bool, bool]:
        """(label, terminal, is_wait_page) of the page the participant is on."""
        raise NotImplementedError

    def _answer(self) -> Any:
        raise NotImplementedError

    def _submit(self, label: str, answer: Any) -> None:
        raise NotImplementedError

    @property
    def _participant_failed(self) -> bool:
        raise NotImplementedError

    @property
    def _participant_complete(self) -> bool:
        raise NotImplementedError

    def _participant_failed_reason(self) -> str:
        return "the participant failed"

    def _held(self) -> bool:
        """True while the page waits for others (e.g. at a barrier): poll, do not answer."""
        return False

    # -- the loop ------------------------------------------------------------------------------
    @property
    def experiment(self) -> Experiment | None:
        if self._experiment is None:
            self._experiment = get_experiment()
        return self._experiment

    @property
    def wait(self) -> float:
        """Seconds to stay on a WaitPage: `experiment.test_bot_wait` unless given."""
        if self._wait is not None:
            return self._wait
        experiment = self.experiment
        return float(getattr(experiment, "test_bot_wait", 0) or 0) if experiment else 0.0

    def step(self) -> bool:
        """Answer the current page. Returns True once the participant is on a terminal page."""
        if not self.started:
            self._start()
            self.started = True
        label, terminal, is_wait = self._current()
        if terminal:
            self.finished = True
            return True
        if self._held():
            now = time.monotonic()
            self._held_since = self._held_since or now
            if now - self._held_since > MAX_HOLD:
                raise BotError(f"waited {MAX_HOLD:.0f} s on '{label}' for other participants; "
                               "run enough bots at once (--parallel)")
            time.sleep(HOLD_POLL)
            return False
        self._held_since = None
        if self.steps >= self.max_pages:
            raise BotError(
                f"took {self.max_pages} pages without reaching an end page (now on '{label}'); "
                "does a loop never end? (raise max_pages if the experiment is really this long)"
            )
        self.steps += 1
        answer = self._answer()
        if is_wait and self.wait > 0:
            time.sleep(self.wait)
        self._submit(label, answer)
        return False

    def run(self) -> "BaseBot":
        """Take pages until a terminal page. Errors are kept on the bot (`error`, `failed_reason`)."""
        try:
            while not self.step():
                pass
        except Exception as exc:  # the bot reports; `manage.py bots` summarises many
            self.error = exc
            self.traceback = traceback.format_exc()
        return self

    @property
    def complete(self) -> bool:
        return self.error is None and self.started and self._participant_complete

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.started and self._participant_failed)

    @property
    def failed_reason(self) -> str:
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        if self.started and self._participant_failed:
            return self._participant_failed_reason()
        return ""

    def __repr__(self) -> str:
        state = "complete" if self.complete else "failed" if self.failed else "running"
        return f"<{type(self).__name__} {self.worker_id} {state}, {len(self.pages)} pages>"


class Bot(BaseBot):
    """An in-process bot: the same services a participant's requests call."""

    def __init__(self, *, worker_id: str | None = None, assignment_id: str = "",
                 entry_params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(worker_id=worker_id, **kwargs)
        self.assignment_id = assignment_id
        self.entry_params = entry_params or {}
        self.participant: Participant | None = None
        self._runner: Runner | None = None
        self._page: Page | None = None

    def __getattr__(self, name: str) -> Any:
        # PsyNet's bot is a participant (`bot.var.x`, `bot.alive_trials`): reach through to it.
        participant = self.__dict__.get("participant")
        if participant is None or name.startswith("_"):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return getattr(participant, name)

    def _start(self) -> None:
        self.participant = services.participant_create(
            worker_id=self.worker_id, assignment_id=self.assignment_id, recruiter="bot",
            entry_params=self.entry_params, is_bot=True,
        )

    def _current(self) -> tuple[str, bool, bool]:
        experiment = self.experiment
        self._runner = Runner(experiment.program, experiment, self.participant)
        self._page = self._runner.current_page()
        return self._page.label, self._page.terminal, isinstance(self._page, WaitPage)

    def _answer(self) -> Any:
        return self._page.get_bot_response(self._runner.available())

    def _held(self) -> bool:
        should_wait = getattr(self._page, "bot_should_wait", None)
        if should_wait is None:
            return False
        self.participant.refresh_from_db()   # the server may have moved them meanwhile
        return bool(should_wait(self.participant))

    def _submit(self, label: str, answer: Any) -> None:
        try:
            result = services.response_submit(
                token=self.participant.token, page_uuid=self.participant.page_uuid,
                raw_answer=answer, metadata={"bot": True},
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
        self.payload: dict[str, Any] = {}
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
        match = re.search(r"/p/([^/?#]+)/?$", urlsplit(response.url).path)
        if match is None:
            raise BotError(f"/start/ did not lead to a participant page (ended at {response.url})")
        self.token = match.group(1)
        self.payload = self._json(self.session.get(self._api("page"), timeout=self.timeout),
                                  "GET page")

    def _current(self) -> tuple[str, bool, bool]:
        p = self.payload
        return p["label"], bool(p["terminal"]), p.get("kind") == "WaitPage"

    def _held(self) -> bool:
        poll = (self.payload.get("control") or {}).get("poll")
        if not poll:
            return False
        status = self._json(self.session.get(self._api(poll), timeout=self.timeout), f"GET {poll}")
        if status.get("page_uuid") != self.payload.get("page_uuid"):
            self.payload = self._json(self.session.get(self._api("page"), timeout=self.timeout), "GET page")
            return False
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


@dataclass
class BotRunSummary:
    n: int
    completed: int
    failed: int
    errors: int
    pages: int
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


def run_bots(n: int, *, parallel: int = 1, url: str | None = None,
             max_pages: int = DEFAULT_MAX_PAGES, wait: float | None = None,
             on_done: Callable[[BaseBot], None] | None = None) -> tuple[list[BaseBot], BotRunSummary]:
    """Run `n` bots (`parallel` at a time, in threads), in process or over HTTP against `url`.

    Threads close their database connections when their bot ends, so many bots do not leave
    many idle connections behind.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    experiment = None if url else get_experiment()

    def make() -> BaseBot:
        if url:
            return HTTPBot(url, max_pages=max_pages, wait=wait)
        return Bot(experiment=experiment, max_pages=max_pages, wait=wait)

    def run_in_thread() -> BaseBot:
        try:
            return make().run()
        finally:
            connections.close_all()

    start = time.perf_counter()
    bots: list[BaseBot] = []
    if parallel == 1:
        for _ in range(n):
            bot = make().run()
            bots.append(bot)
            if on_done:
                on_done(bot)
    else:
        with ThreadPoolExecutor(max_workers=min(parallel, n)) as pool:
            futures = [pool.submit(run_in_thread) for _ in range(n)]
            for future in as_completed(futures):
                if on_done:
                    on_done(future.result())
            bots = [future.result() for future in futures]
    seconds = time.perf_counter() - start
    summary = BotRunSummary(
        n=n, completed=sum(b.complete for b in bots), failed=sum(b.failed for b in bots),
        errors=sum(b.error is not None for b in bots), pages=sum(len(b.pages) for b in bots),
        seconds=seconds,
    )
    return bots, summary
