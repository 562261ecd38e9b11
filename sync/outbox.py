"""The PendingFailure outbox: participants a barrier decided to fail, failed in their own
transactions after the deciding one commits.

Processing a barrier never locks another participant's row (their own request locks it first,
so that could deadlock); it writes PendingFailure rows instead, and `pending_failures_apply`
runs after commit (and from the beat, the backstop). Lock order: the participant's row, alone.
Idempotent: a row is applied once (`applied_at`), a participant already failed stays as is.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from experiments.loading import get_experiment
from experiments.locks import lock_row
from experiments.models import Participant
from experiments.services import participant_fail

from .instructions import arrive_instruction
from .models import BarrierWait, PendingFailure


def pending_failures_apply(*, ids: list[int] | None = None) -> int:
    """Fail the participants in the outbox, each in its own transaction, moving those still at
    the barrier to its end page. Idempotent. Returns how many were failed by this call."""
    query = PendingFailure.objects.filter(applied_at__isnull=True).order_by("id")
    if ids is not None:
        query = query.filter(pk__in=ids)
    failed = 0
    experiment = get_experiment()
    for failure in list(query.select_related("wait")):
        with transaction.atomic():
            participant = lock_row(Participant, failure.participant_id, no_key=True,
                                   only=("id", "position", "failed"))
            end = None if participant.failed else _end_position(experiment, participant, failure)
            if participant_fail(participant_id=participant.pk, reason=failure.reason,
                                tags=list(failure.tags), end_position=end):
                failed += 1
            PendingFailure.objects.filter(pk=failure.pk, applied_at__isnull=True).update(applied_at=timezone.now())
    return failed


def _end_position(experiment: Any, participant: Participant, failure: PendingFailure) -> int | None:
    """The barrier's own end page if the participant is still in that barrier's waiting area."""
    wait = failure.wait or (BarrierWait.objects.filter(participant_id=participant.pk, released_at__isnull=True)
                            .order_by("-id").first())
    if wait is None:
        return None
    arrive = arrive_instruction(experiment.program, wait.position)
    if arrive is None or not (arrive.check <= participant.position < arrive.timeout_page):
        return None
    if failure.kind == PendingFailure.Kind.TIMEOUT:
        return arrive.timeout_page
    return arrive.group_failed_page
