"""The bot loop shared by in-process and HTTP bots: step, hold at waiting pages, scripted
steps, and what a finished bot reports (see the package docstring)."""

import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from ..experiment import Experiment
from ..loading import get_experiment

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
#: take_page()'s default: answer with the page's bot_response.
UNSET: Any = object()


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
    def take_page(self, response: Any = UNSET) -> "BaseBot":
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
        self._submit(label, self._answer() if response is UNSET else response)
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
