"""Every write to participants and responses. Views and commands call these; nothing else writes.

The submit path follows "check and lock, then change": lock the participant row, check the
page token, validate, store the Response, advance the timeline, save — one transaction, a small
constant number of queries whatever the size of the experiment.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .experiment import Experiment
from .lifecycle import participant_mark_failed
from .loading import get_experiment
from .locks import lock_row
from .models import ModuleState, Participant, Response, TimelineEvent
from .selectors import is_token_shaped
from .timeline import Page, Runner
from .timeline.controls import AnswerFormatError

PARTICIPANT_SAVE_FIELDS = [
    "status", "failed", "failed_reason", "failure_tags", "failed_at", "complete", "completed_at",
    "vars", "answer", "time_credit", "progress", "position", "page_uuid", "page_label",
    "page_started_at", "timeline_state", "last_active_at",
]


class SubmitError(Exception):
    """A submit that was refused; nothing was changed. `status` is the HTTP status to answer."""

    status = 400

    def __init__(self, message: str, *, participant: Participant | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.participant = participant


class ParticipantNotFound(SubmitError):
    status = 404


class StalePage(SubmitError):
    """The page_uuid is not the participant's current page (a replay, a second tab, a typo)."""

    status = 409


class BadAnswer(SubmitError):
    status = 400


class AnswerRejected(SubmitError):
    """validate() refused the answer; the participant stays on the page and sees the message."""

    status = 422


@dataclass
class SubmitResult:
    participant: Participant
    page: Page
    response: Response


def _persist(participant: Participant, runner: Runner, now) -> None:
    participant.last_active_at = now
    participant.page_started_at = now
    participant.save(update_fields=PARTICIPANT_SAVE_FIELDS)
    if runner.events:
        TimelineEvent.objects.bulk_create(
            [TimelineEvent(participant=participant, kind=k, label=lab, value=v) for k, lab, v in runner.events]
        )
    entered = [m for m, change in runner.module_changes.items() if change in ("entered", "entered_and_finished")]
    finished = [m for m, change in runner.module_changes.items() if change in ("finished", "entered_and_finished")]
    if entered:
        ModuleState.objects.bulk_create(
            [ModuleState(participant=participant, module_id=m, started_at=now,
                         finished_at=now if m in finished else None) for m in entered],
            update_conflicts=True, unique_fields=["participant", "module_id"],
            update_fields=["started_at", "finished_at"],
        )
    only_finished = [m for m in finished if m not in entered]
    if only_finished:
        ModuleState.objects.filter(participant=participant, module_id__in=only_finished).update(finished_at=now)


def _update_progress(participant: Participant, experiment: Experiment) -> None:
    if not participant.complete:
        participant.progress = min(1.0, participant.time_credit / experiment.estimated_duration)


def _text(value: str) -> str:
    """Drop NUL characters (a `%00` in a query string): PostgreSQL refuses them in text."""
    return value.replace("\x00", "")


@transaction.atomic
def participant_create(*, worker_id: str = "", assignment_id: str = "", recruiter: str = "direct",
                       entry_params: dict[str, Any] | None = None, user_agent: str = "",
                       ip_address: str | None = None, is_bot: bool = False) -> Participant:
    """Create a participant and run the timeline to its first page."""
    experiment = get_experiment()
    participant = Participant.objects.create(
        worker_id=_text(worker_id)[:255], assignment_id=_text(assignment_id)[:255],
        recruiter=_text(recruiter)[:64],
        entry_params={_text(str(k)): _text(v) if isinstance(v, str) else v
                      for k, v in (entry_params or {}).items()},
        user_agent=_text(user_agent)[:512],
        ip_address=ip_address if settings.STORE_IP_ADDRESSES else None, is_bot=is_bot,
    )
    runner = Runner(experiment.program, experiment, participant)
    runner.next_page(start=0)
    _update_progress(participant, experiment)
    _persist(participant, runner, timezone.now())
    return participant


def _lock_participant(token: str) -> Participant:
    if not is_token_shaped(token):
        raise ParticipantNotFound("unknown participant token")
    # Raw SQL: on the hottest path, compiling this ORM query cost more CPU than running it.
    found = list(Participant.objects.raw(_LOCK_SQL, [token]))
    if not found:
        raise ParticipantNotFound("unknown participant token")
    return found[0]


# FOR NO KEY UPDATE: serialises this participant's submits, but does not block other
# transactions' foreign-key checks on the row (a sync group naming them as leader or member),
# which would deadlock against a request waiting for that transaction's barrier lock.
_LOCK_SQL = f"SELECT * FROM {Participant._meta.db_table} WHERE token = %s FOR NO KEY UPDATE"


def _parse_uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise BadAnswer("page_uuid must be a UUID") from None


def response_submit(*, token: str, page_uuid: Any, raw_answer: Any,
                    metadata: dict[str, Any] | None = None,
                    files: dict[str, Any] | None = None) -> SubmitResult:
    """Accept one answer to the participant's current page and move them on.

    Raises a SubmitError subclass (and changes nothing) for an unknown token, a stale or repeated
    page_uuid, a malformed answer or one that validate() rejects. `files` (uploads by field
    name) go to controls that accept files (recordings), which keep them as assets.
    """
    try:
        return _response_submit(token=token, page_uuid=page_uuid, raw_answer=raw_answer,
                                metadata=metadata, files=files)
    except IntegrityError as exc:
        # The row lock makes this unreachable in normal running; the unique constraint is the
        # backstop. Caught outside the atomic block (rolled back whole, no savepoint needed).
        if "one_response_per_page" not in str(exc):
            raise
        raise StalePage("this page was already submitted") from None


@transaction.atomic
def _response_submit(*, token: str, page_uuid: Any, raw_answer: Any,
                     metadata: dict[str, Any] | None,
                     files: dict[str, Any] | None = None) -> SubmitResult:
    page_uuid = _parse_uuid(page_uuid)
    if metadata is not None and not isinstance(metadata, dict):
        raise BadAnswer("metadata must be an object")
    experiment = get_experiment()
    participant = _lock_participant(token)
    if participant.page_uuid != page_uuid:
        raise StalePage("this page was already submitted or is no longer current",
                        participant=participant)
    runner = Runner(experiment.program, experiment, participant)
    page = runner.current_page()
    if page.terminal:
        raise StalePage("the experiment has ended for this participant", participant=participant)
    try:
        if getattr(page.control, "accepts_files", ()):
            answer = page.control.format_upload(raw_answer, files=files or {}, page=page,
                                                available=runner.available())
        elif files:
            raise AnswerFormatError("this page does not take files")
        else:
            answer = page.format_answer(raw_answer)
    except AnswerFormatError as exc:
        error = BadAnswer(str(exc))
        error.status = getattr(exc, "status", 400)  # uploads: 413 too large, 415 wrong type
        raise error from None
    message = page.validate(answer, participant=participant, experiment=experiment)
    if message:
        raise AnswerRejected(str(message), participant=participant)

    now = timezone.now()
    started = participant.page_started_at or now
    response = Response.objects.create(
        participant=participant, page_uuid=page_uuid, page_label=page.label,
        module_id=runner.current_module_id(), answer=answer, metadata=metadata or {},
        time_taken=max(0.0, (now - started).total_seconds()),
    )
    page.store_answer(participant, answer)
    participant.time_credit += float(page.time_estimate or 0)
    next_page = runner.after_answer()
    _update_progress(participant, experiment)
    _persist(participant, runner, now)
    return SubmitResult(participant=participant, page=next_page, response=response)


@transaction.atomic
def participant_fail(*, participant_id: int, reason: str, tags: list[str] | None = None,
                     end_position: int | None = None) -> bool:
    """Fail a participant from outside their own request (admin, beat): lock, fail, move them
    to the failure page (or the terminal page at `end_position`, e.g. a barrier's own end page)
    so their next request shows it. Idempotent."""
    participant = lock_row(Participant, participant_id, no_key=True)
    if participant is None:
        raise Participant.DoesNotExist(f"no participant {participant_id}")
    experiment = get_experiment()
    if not participant_mark_failed(participant=participant, reason=reason, tags=tags, experiment=experiment):
        return False
    runner = Runner(experiment.program, experiment, participant)
    runner.next_page(start=experiment.program.fail_position if end_position is None else end_position)
    _persist(participant, runner, timezone.now())
    return True


@transaction.atomic
def participant_set_status(*, participant_id: int, status: str) -> None:
    if status not in Participant.Status.values:
        raise ValueError(f"unknown status {status!r}")
    Participant.objects.filter(pk=participant_id).update(status=status)


def participants_mark_abandoned(*, idle_seconds: int) -> int:
    """Working participants idle for `idle_seconds` who never finished become `abandoned`."""
    cutoff = timezone.now() - timezone.timedelta(seconds=idle_seconds)
    return Participant.objects.filter(
        status=Participant.Status.WORKING, complete=False, failed=False, last_active_at__lt=cutoff
    ).update(status=Participant.Status.ABANDONED)
