"""Writes of the monitor: the study controls.

Locks: one statement on the single Recruitment row (an upsert); nothing else is locked.
Idempotent: setting the state it already has changes only changed_at/changed_by.
"""

from django.utils import timezone

from .models import Recruitment


class ControlError(Exception):
    """A refused control request; nothing changed. `status` is the HTTP status to answer."""

    status = 400


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
