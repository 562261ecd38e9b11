"""What a participant sees at a barrier: the default waiting page and the end pages."""

from typing import Any

from experiments.timeline.controls import Control
from experiments.timeline.pages import Page, UnsuccessfulEndPage

from .selectors import wait_status

#: Seconds between two status polls of the waiting page: a random value in this range (jitter
#: spreads the load of many waiters; DESIGN §8).
POLL_INTERVAL = (1.0, 2.0)


class SyncWaitControl(Control):
    """No answer: the page polls the barrier status and submits itself once released."""

    kind = "sync_wait"
    template = "sync/wait_control.html"
    scripts = ("sync/wait.js",)

    def to_dict(self) -> dict[str, Any]:
        # `poll`: the participant API path that says when this page may move on (HTTP bots use it).
        return {"kind": self.kind, "template": self.template, "poll": "sync/status",
                "poll_min": POLL_INTERVAL[0], "poll_max": POLL_INTERVAL[1]}

    def format_answer(self, raw: Any) -> None:
        return None


class BarrierWaitingPage(Page):
    """The default waiting logic: "2 of 3 in your group are here", updated without reloading."""

    def __init__(self, content: str = "Please wait a moment for the other participants…",
                 *, label: str = "sync_wait", time_estimate: float = 0.5, **kwargs: Any) -> None:
        super().__init__(label, content, SyncWaitControl(), time_estimate=time_estimate,
                         title=kwargs.pop("title", "Waiting"), **kwargs)

    def format_answer(self, raw: Any) -> None:
        return None

    def bot_should_wait(self, participant: Any) -> bool:
        """Bots poll (as the page's script does) rather than answer while not released."""
        status = wait_status(participant)
        return bool(status["waiting"]) and not status["released"]

    def bot_wait_status(self, participant: Any) -> dict[str, Any]:
        """What the page's status poll says (barrier, "2 of 3 are here", deadline): bots use it
        to wait until the deadline and to say what they waited for."""
        return wait_status(participant)


TIMEOUT_MESSAGE = (
    "Sorry: the other participants did not arrive in time, so the experiment has ended early "
    "for you. This is not your fault. Thank you for waiting!"
)
GROUP_FAILED_MESSAGE = (
    "Sorry: your group no longer has enough participants to continue (someone left the "
    "experiment), so it has ended early for you. This is not your fault. Thank you for taking part!"
)


def timeout_end_page(barrier_id: str, message: str) -> UnsuccessfulEndPage:
    return UnsuccessfulEndPage(message, label="sync_timeout", title="The experiment has ended",
                               reason=f"timed out at barrier '{barrier_id}'",
                               failure_tags=["sync_timeout"])


def group_failed_end_page(barrier_id: str, message: str) -> UnsuccessfulEndPage:
    return UnsuccessfulEndPage(message, label="sync_group_failed", title="The experiment has ended",
                               reason="sync group below minimum size",
                               failure_tags=["sync_group_failed"])
