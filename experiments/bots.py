"""Bots: simulated participants that take the experiment the way real ones do.

`Bot` drives a participant through the same service layer as the participant API
(`participant_create(is_bot=True)`, then per page `page.get_bot_response(...)` →
`services.response_submit`), so whatever a bot gets through, a participant gets through.
`HTTPBot` does the same over HTTP against a running server (`/start/` → `/p/<token>/` →
`GET /api/p/<token>/page`, `POST /api/p/<token>/response`). Both stop at a terminal page, and
after `max_pages` pages, so a timeline that loops forever cannot hang them.

A bot is the participant it drives: `bot.var`, `bot.trials`, `bot.assets`, `bot.id` and every
other attribute of the participant are read from it (as PsyNet's bots are participants). Its own
attributes, after `run()`: `bot.complete`, `bot.failed` (the participant failed or the bot
errored), `bot.failed_reason`, `bot.participant`, `bot.responses` (each with `.page_label` and
`.answer`), `bot.pages` (labels answered), `bot.payload` (the last page's JSON).

In-process bots see what a person's browser gets: each page is built as the page API's JSON
(`rest.page_json`) and the page's HTML (`views.page_html`), so a page that would answer 500 to a
person fails the bot; and each answer is sent as JSON and parsed by the API's parser, as a
browser's is, so an answer a browser could not send fails the bot too.

Bots over HTTP enter as bots only with the deployment's bot token (header `BOT_TOKEN_HEADER`),
or on a DEBUG server: a visitor's `?recruiter=bot` never makes them one.

Scripted steps (PsyNet's `test_serial_run_bots`): `bot.take_page(response=...)` answers one page
(default: its bot_response) and moves past the wait pages after it; `run()` (alias
`run_to_completion`) then takes the rest.

Waiting: a page held until others arrive (a barrier) is polled, not answered, until the
barrier's deadline (plus a margin for beat to enforce it) or `max_hold` seconds; consecutive wait
pages (a trial maker waiting for nodes) are paced and bounded by `max_hold` too, not by
`max_pages`. When a bot gives up, its error says what it waited for.
"""

import io
import json
import re
import threading
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
from django.utils import timezone
from rest_framework.exceptions import ParseError

from . import services
from .bot_entry import (  # noqa: F401  (importable from here too)
    BOT_REFUSED_HEADER,
    BOT_TOKEN_HEADER,
    bot_entry_allowed,
    bot_token,
)
from .experiment import Experiment
from .loading import ExperimentLoadError, get_experiment
from .models import Participant
from .rest import StrictJSONParser, page_json
from .selectors import page_payload
from .timeline import Runner
from .timeline.injection import MissingArgument
from .timeline.pages import Page, WaitPage
from .timeline.program import ShowPage
from .views import page_html

#: Pages a bot answers before it decides the timeline never ends (wait pages do not count).
DEFAULT_MAX_PAGES = 1000
#: A page that moves on by itself once others arrive (a barrier's waiting page) is polled this
#: often, for at most `max_hold` seconds (default MAX_HOLD; or until the barrier's deadline and
#: min(DEADLINE_GRACE, max_hold) more, when that is later), instead of being answered over and over.
HOLD_POLL = 0.05
MAX_HOLD = 120.0
DEADLINE_GRACE = 30.0
#: A wait page met again right after a wait page (a trial maker waiting for its nodes) is
#: answered after at most this many seconds, for at most `max_hold` seconds in a row.
WAIT_REPEAT_POLL = 0.2
_UNSET: Any = object()


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
                 max_pages: int = DEFAULT_MAX_PAGES, wait: float | None = None,
                 max_hold: float = MAX_HOLD) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        if not max_hold > 0:
            raise ValueError("max_hold must be more than 0 seconds")
        self.max_hold = max_hold
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
        self.payload: dict[str, Any] = {}
        self.stop_event: threading.Event | None = None
        self._held_since: float | None = None
        self._hold_status: dict[str, Any] = {}
        self._waiting_since: float | None = None
        self._previous_was_wait = False

    # -- the bot is the participant it drives ------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        """Attributes the bot lacks are the participant's (`bot.var`, `bot.trials`, `bot.id`...)."""
        if name.startswith("_") or name == "participant":
            raise AttributeError(name)
        participant = self.participant
        if participant is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (and no "
                                 "participant yet: the bot has not started)")
        try:
            return getattr(participant, name)
        except AttributeError:
            raise AttributeError(f"neither the bot nor its participant has an attribute {name!r}") from None

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
        """True while the page waits for others (e.g. at a barrier): poll, do not answer.
        Subclasses keep what the barrier said in `_hold_status` (barrier, message, deadline)."""
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
        if self.stop_event is not None and self.stop_event.is_set():
            raise BotError("stopped before the end (the run was interrupted)")
        label, terminal, is_wait = self._current()
        if terminal:
            self.finished = True
            return True
        if self._held():
            now = time.monotonic()
            self._held_since = self._held_since or now
            if now - self._held_since > self._hold_limit():
                raise BotError(self._hold_hint(label, now - self._held_since))
            time.sleep(HOLD_POLL)
            return False
        self._held_since = None
        if is_wait:
            # Wait pages do not count as pages taken; a run of them is bounded by time.
            now = time.monotonic()
            if self._previous_was_wait:
                if now - (self._waiting_since or now) > self.max_hold:
                    raise BotError(
                        f"stayed {self.max_hold:g} s on wait page '{label}', shown again and again: the "
                        "timeline is waiting for something that does not happen (for a trial maker: "
                        "its nodes are not ready, i.e. async_on_deploy has not run or keeps failing: "
                        "is a Celery worker running?)")
                time.sleep(min(WAIT_REPEAT_POLL, float(self.payload.get("auto_submit_after") or 0)))
            else:
                self._waiting_since = now
        else:
            if self.steps >= self.max_pages:
                tail = ", ".join(self.pages[-6:])
                raise BotError(
                    f"took {self.max_pages} pages without reaching an end page (now on '{label}', "
                    f"after {tail}): a loop whose condition never ends it? (raise --max-pages if the "
                    "experiment is really this long)")
            self.steps += 1
        self._previous_was_wait = is_wait
        answer = self._answer()
        if is_wait and self.wait > 0:
            time.sleep(self.wait)
        self._submit(label, answer)
        return False

    def _hold_limit(self) -> float:
        """max_hold, or until the barrier's deadline has passed and beat had time to act on it."""
        deadline = self._hold_status.get("deadline")
        if not deadline:
            return self.max_hold
        from datetime import datetime

        remaining = (datetime.fromisoformat(deadline) - timezone.now()).total_seconds()
        return max(self.max_hold, (time.monotonic() - (self._held_since or time.monotonic()))
                   + remaining + min(DEADLINE_GRACE, self.max_hold))

    def _hold_hint(self, label: str, waited: float) -> str:
        status = self._hold_status
        where = f"at barrier '{status['barrier']}'" if status.get("barrier") else f"on '{label}'"
        said = f" ({status['message']})" if status.get("message") else ""
        if status.get("deadline"):
            return (f"waited {waited:.0f} s {where}{said}, past its max_wait_time deadline "
                    f"{status['deadline']}: nothing timed it out, so no Celery beat is running "
                    "(test_experiment starts one unless --no-worker)")
        return (f"waited {waited:.0f} s {where}{said} for other participants who never came: "
                "run as many bots at once as the group needs (--n, --parallel), or give the "
                "barrier a max_wait_time")

    def run(self) -> "BaseBot":
        """Take pages until a terminal page. Errors are kept on the bot (`error`, `failed_reason`)."""
        if self.error is not None:
            return self  # a scripted step already failed it
        try:
            while not self.step():
                pass
        except Exception as exc:  # the bot reports; `manage.py bots` summarises many
            self.error = exc
            self.traceback = traceback.format_exc()
        return self

    #: PsyNet's name for `run`.
    run_to_completion = run

    # -- scripted steps (Experiment.test_serial_run_bots) --------------------------------------
    def take_page(self, response: Any = _UNSET) -> "BaseBot":
        """Answer the current page with `response` (default: the page's bot_response, as `run`
        does), then move past the wait pages that follow, stopping where the bot must wait for
        other participants (a barrier) or at the end. Raises BotError when there is no page to
        take: the bot is at the end, or waits at a barrier for bots not stepped yet."""
        if not self.started:
            self._start()
            self.started = True
        self._pass_wait_pages()
        label, terminal, _ = self._current()
        if terminal:
            raise BotError(f"take_page: the bot is already on the end page '{label}'")
        if self._held():
            raise BotError(f"take_page: the bot waits at '{label}' for other participants; "
                           "take their pages first")
        self.steps += 1
        self._submit(label, self._answer() if response is _UNSET else response)
        self._pass_wait_pages()
        return self

    def _pass_wait_pages(self) -> None:
        """Submit wait pages (and released barrier pages) until a page to answer, a barrier that
        still holds, or the end."""
        for _ in range(self.max_pages):
            label, terminal, is_wait = self._current()
            if terminal:
                self.finished = True
                return
            if self._held() or not (is_wait or self._waits_for_others()):
                return
            self._submit(label, self._answer())
        raise BotError(f"take_page: still on wait pages after {self.max_pages} of them")

    def _waits_for_others(self) -> bool:
        """Is the current page one that moves on once others arrive (a barrier's page)?"""
        return False

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


def make_bots(n: int, *, url: str | None = None, max_pages: int = DEFAULT_MAX_PAGES,
              wait: float | None = None, max_hold: float = MAX_HOLD) -> list[BaseBot]:
    """`n` bots, not started: in process, or over HTTP against `url`."""
    if n < 1:
        raise ValueError("n must be at least 1")
    experiment = None if url else get_experiment()
    return [HTTPBot(url, max_pages=max_pages, wait=wait, max_hold=max_hold) if url
            else Bot(experiment=experiment, max_pages=max_pages, wait=wait, max_hold=max_hold)
            for _ in range(n)]


def run_bots(n: int, *, parallel: int = 1, url: str | None = None,
             max_pages: int = DEFAULT_MAX_PAGES, wait: float | None = None, max_hold: float = MAX_HOLD,
             on_done: Callable[[BaseBot], None] | None = None,
             bots: list[BaseBot] | None = None) -> tuple[list[BaseBot], BotRunSummary]:
    """Run `n` bots (`parallel` at a time, in threads), in process or over HTTP against `url`;
    or run the given `bots` (made by `make_bots`, maybe stepped already) to their end.

    Threads close their database connections when their bot ends, so many bots do not leave
    many idle connections behind.
    """
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    bots = list(bots) if bots is not None else make_bots(n, url=url, max_pages=max_pages, wait=wait,
                                                         max_hold=max_hold)
    n = len(bots)
    stop = threading.Event()
    for bot in bots:
        bot.stop_event = stop

    def run_in_thread(bot: BaseBot) -> BaseBot:
        try:
            return bot.run()
        finally:
            connections.close_all()

    start = time.perf_counter()
    if parallel == 1:
        for bot in bots:
            bot.run()
            if on_done:
                on_done(bot)
    else:
        with ThreadPoolExecutor(max_workers=min(parallel, n)) as pool:
            futures = [pool.submit(run_in_thread, bot) for bot in bots]
            try:
                for future in as_completed(futures):
                    if on_done:
                        on_done(future.result())
            except BaseException:
                # Ctrl-C (or SIGTERM) while bots run: they stop at their next page.
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    seconds = time.perf_counter() - start
    summary = BotRunSummary(
        n=n, completed=sum(b.complete for b in bots), failed=sum(b.failed for b in bots),
        errors=sum(b.error is not None for b in bots), pages=sum(len(b.pages) for b in bots),
        seconds=seconds,
    )
    return bots, summary
