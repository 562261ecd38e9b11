"""A participant's end states, set in memory (the caller saves the row in its transaction).

Kept apart from `services` so that the Participant model (`participant.fail()`,
`participant.mark_complete()`) and the timeline's end pages reach them without importing the
services, which import the models. No lock here: the caller holds the participant's row lock.
Both are idempotent: a participant already failed or complete is left as is.
"""

from django.utils import timezone

from . import hooks
from .experiment import Experiment
from .loading import get_experiment


def participant_mark_failed(*, participant, reason: str = "",
                            tags: list[str] | None = None, experiment: Experiment | None = None) -> bool:
    """Mark a participant failed in memory (idempotent); the caller saves it.

    Returns True if this call failed them. Elements' failure hooks run now, in the caller's
    transaction (trial makers fail unfinished trials).
    """
    if participant.failed:
        return False
    participant.failed = True
    participant.failed_reason = (reason or "failed")[:1024]
    participant.failure_tags = list(dict.fromkeys([*participant.failure_tags, *(tags or [])]))
    participant.failed_at = timezone.now()
    experiment = experiment or get_experiment()
    experiment.on_participant_failed(participant)
    hooks.participant_failed.send(participant, experiment)
    return True


def participant_mark_complete(*, participant) -> None:
    if not participant.complete and not participant.failed:
        participant.complete = True
        participant.completed_at = timezone.now()
        participant.progress = 1.0
