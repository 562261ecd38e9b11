"""Writes of the monitor: the study controls.

Locks: recruitment_set is one statement on the single Recruitment row (an upsert). wait_act
takes no lock of its own: it calls sync's services, which take the barrier's lock (release) or
the participant's row lock (fail).
Idempotent: setting the state recruitment already has changes only changed_at/changed_by;
releasing or failing a wait that is no longer open is refused and changes nothing (failing
checks the wait just before failing the participant: a wait released in that instant is still
failed, as the admin asked).
"""

from django.utils import timezone

from sync.services import barrier_wait_fail, barrier_wait_release

from .models import Recruitment
from .selectors import open_wait

WAIT_ACTIONS = ("release", "fail")


class ControlError(Exception):
    """A refused control request; nothing changed. `status` is the HTTP status to answer."""

    status = 400


class WaitGone(ControlError):
    """The participant is no longer waiting there (released, moved on, or no such wait)."""

    status = 409


def recruitment_set(*, state: str, changed_by: str = "") -> Recruitment:
    """Open, pause or close recruitment. Existing participants are never affected."""
    if state not in Recruitment.State.values:
        raise ControlError(f"unknown recruitment state {state!r}: use one of "
                           f"{', '.join(Recruitment.State.values)}")
    row, _ = Recruitment.objects.update_or_create(
        pk=Recruitment.SINGLETON_PK,
        defaults={"state": state, "changed_at": timezone.now(), "changed_by": changed_by[:150]},
    )
    return row


def wait_act(*, wait_id: int, action: str, by: str = "") -> None:
    """Release a stuck waiter (they go on) or fail them (they see the failure page)."""
    if action not in WAIT_ACTIONS:
        raise ControlError(f"unknown action {action!r}: use one of {', '.join(WAIT_ACTIONS)}")
    if open_wait(wait_id) is None:
        raise WaitGone("this participant is no longer waiting there (released or moved on)")
    if action == "release":
        done = barrier_wait_release(wait_id=wait_id, by="admin")
    else:
        done = barrier_wait_fail(wait_id=wait_id,
                                 reason=f"failed from the monitor while waiting{' by ' + by if by else ''}")
    if not done:
        raise WaitGone("this participant is no longer waiting there (released or moved on)")
