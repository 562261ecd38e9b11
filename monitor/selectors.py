"""Reads of the live monitor: one snapshot of the study, at a constant number of queries.

Every figure is aggregated in SQL (GROUP BY, filtered COUNTs) and every list is bounded (the
participants table is paginated, waiting rooms and errors show the longest waits and the newest
failures), so one refresh costs the same ~10 queries with ten participants or ten thousand.

This module is the monitor's only reader of other apps' tables: when trial rows move to another
app, the import to fix is here.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Case, CharField, Count, Max, Min, Q, Value, When
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from experiments.loading import get_experiment
from experiments.models import Participant
from experiments.timeline.program import ShowPage
from sync.elements import GroupBarrier, Grouper, SimpleGrouper, program_barriers
from sync.models import BarrierWait

from .models import Recruitment

#: Participants per page of the monitor's table.
PAGE_SIZE = 50
#: Waiters listed (longest waiting first) and failures listed (newest first) per refresh.
WAITERS_SHOWN = 100
ERRORS_SHOWN = 25
#: Hours of history in the per-hour table.
HOURS_SHOWN = 24

#: Statuses the monitor shows, most telling first: a failed participant is "failed" whatever
#: their recruiter status says, a finished one "completed".
STATUSES = ("working", "completed", "failed", "returned", "abandoned")

_STATUS_FILTERS = {
    "failed": Q(failed=True),
    "completed": Q(failed=False, complete=True),
    "returned": Q(failed=False, complete=False, status=Participant.Status.RETURNED),
    "abandoned": Q(failed=False, complete=False, status=Participant.Status.ABANDONED),
    "working": Q(failed=False, complete=False) & ~Q(status__in=[Participant.Status.RETURNED,
                                                                 Participant.Status.ABANDONED]),
}
_STATUS_SQL = Case(*[When(q, then=Value(name)) for name, q in _STATUS_FILTERS.items()],
                   default=Value("working"), output_field=CharField())


class MonitorQueryError(Exception):
    """A malformed monitor query (unknown status filter); `status` is the HTTP status."""

    status = 400


@dataclass(frozen=True)
class Query:
    status: str = ""  # one of STATUSES, or "" for everyone
    page: int = 1
    search: str = ""  # a participant id, or part of a worker or assignment id

    def link(self, page: int) -> str:
        """The query string of another page of the same table."""
        params = {"status": self.status, "q": self.search, "page": page}
        return "?" + urlencode({k: v for k, v in params.items() if v})

    @classmethod
    def from_params(cls, params: Any) -> "Query":
        status = params.get("status", "") or ""
        if status and status not in STATUSES:
            raise MonitorQueryError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        try:
            page = max(1, int(params.get("page", 1) or 1))
        except (TypeError, ValueError):
            raise MonitorQueryError("page must be a whole number (1, 2, ...)") from None
        search = (params.get("q", "") or "").strip()[:255].replace("\x00", "")
        return cls(status=status, page=page, search=search)


def recruitment_state() -> str:
    """open / paused / closed (no row yet: open). One query."""
    state = Recruitment.objects.filter(pk=Recruitment.SINGLETON_PK).values_list("state", flat=True)
    return next(iter(state), Recruitment.State.OPEN)


def status_counts() -> dict[str, int]:
    """started (everyone) and one count per status, in one query."""
    # Aliased n_<status>: an aggregate may not share a name with a field ("failed").
    found = Participant.objects.aggregate(
        n_started=Count("id"), **{f"n_{name}": Count("id", filter=q) for name, q in _STATUS_FILTERS.items()}
    )
    return {"started": found["n_started"], **{name: found[f"n_{name}"] for name in STATUSES}}


def funnel() -> list[dict[str, Any]]:
    """Participants at each page of the compiled timeline, in timeline order. One query.

    A participant stores its position (an index into the compiled program); this groups by it
    and labels each position with its page. Positions that are not pages (none in normal
    running) are listed too, so the rows always add up to the number of participants.
    """
    program = get_experiment().program
    counts = {
        row["position"]: row
        for row in Participant.objects.order_by().values("position").annotate(
            n=Count("id"), n_working=Count("id", filter=_STATUS_FILTERS["working"]),
            n_completed=Count("id", filter=_STATUS_FILTERS["completed"]),
            n_failed=Count("id", filter=_STATUS_FILTERS["failed"]),
        )
    }
    rows = []
    for position, instruction in enumerate(program.instructions):
        if isinstance(instruction, ShowPage) or position in counts:
            found = counts.pop(position, {})
            rows.append({
                "position": position,
                "label": instruction.label or type(instruction).__name__,
                "module": getattr(instruction, "module_id", ""),
                "n": found.get("n", 0), "working": found.get("n_working", 0),
                "completed": found.get("n_completed", 0), "failed": found.get("n_failed", 0),
            })
    for position, found in sorted(counts.items()):  # outside the program (an older deployment)
        rows.append({"position": position, "label": "(not in this timeline)", "module": "",
                     "n": found["n"], "working": found["n_working"],
                     "completed": found["n_completed"], "failed": found["n_failed"]})
    return rows


def per_hour(now: datetime) -> list[dict[str, Any]]:
    """Participants started, completed and failed in each of the last HOURS_SHOWN hours (UTC),
    newest first; hours with no activity are left out. One query (a UNION of three GROUP BYs)."""
    since = now.replace(minute=0, second=0, microsecond=0) - timezone.timedelta(hours=HOURS_SHOWN - 1)

    def by_hour(kind: str, field: str):
        return (Participant.objects.filter(**{f"{field}__gte": since}).order_by()
                .annotate(kind=Value(kind, output_field=CharField()), hour=TruncHour(field))
                .values("kind", "hour").annotate(n=Count("id")).values_list("kind", "hour", "n"))

    hours: dict[datetime, dict[str, Any]] = {}
    rows = by_hour("started", "created_at").union(by_hour("completed", "completed_at"),
                                                  by_hour("failed", "failed_at"), all=True)
    for kind, hour, n in rows:
        hours.setdefault(hour, {"hour": hour.isoformat(), "started": 0, "completed": 0, "failed": 0})[kind] = n
    return [hours[hour] for hour in sorted(hours, reverse=True)]


def participants_page(query: Query, now: datetime) -> dict[str, Any]:
    """One page of the participants table, most recently active first. Two queries (count, rows)."""
    rows = Participant.objects.annotate(monitor_status=_STATUS_SQL).order_by("-last_active_at", "-id")
    if query.status:
        rows = rows.filter(_STATUS_FILTERS[query.status])
    if query.search:
        found = Q(worker_id__icontains=query.search) | Q(assignment_id__icontains=query.search)
        if query.search.lstrip("#").isdigit():
            found |= Q(pk=int(query.search.lstrip("#")))
        rows = rows.filter(found)
    rows = rows.values("id", "token", "worker_id", "assignment_id", "recruiter", "is_bot",
                       "monitor_status", "page_label", "position", "page_started_at",
                       "last_active_at", "progress", "created_at")
    paginator = Paginator(rows, PAGE_SIZE)
    page = paginator.get_page(query.page)
    return {
        "count": paginator.count,
        "page": page.number,
        "num_pages": paginator.num_pages,
        "previous": query.link(page.number - 1) if page.has_previous() else None,
        "next": query.link(page.number + 1) if page.has_next() else None,
        "rows": [{
            "id": p["id"],
            "status": p["monitor_status"],
            "page_label": p["page_label"],
            "position": p["position"],
            "seconds_on_page": _seconds(now, p["page_started_at"]),
            "last_seen": p["last_active_at"].isoformat(),
            "seconds_since_seen": _seconds(now, p["last_active_at"]),
            "progress": round(p["progress"], 3),
            "worker_id": p["worker_id"],
            "assignment_id": p["assignment_id"],
            "recruiter": p["recruiter"],
            "is_bot": p["is_bot"],
            "admin_url": reverse("admin:experiments_participant_change", args=[p["id"]]),
            "page_url": reverse("participant-page", kwargs={"token": p["token"]}),
        } for p in page.object_list],
    }


def waiting_rooms(now: datetime) -> list[dict[str, Any]]:
    """Each barrier and grouper of the timeline with who waits there and for how long.

    Two queries: the number waiting and the oldest arrival per barrier, and the longest
    waiters overall (at most WAITERS_SHOWN).
    """
    barriers = program_barriers(get_experiment().program)
    summary = {
        row["barrier_id"]: row
        for row in BarrierWait.objects.filter(released_at__isnull=True).order_by()
        .values("barrier_id").annotate(n=Count("id"), since=Min("arrived_at"))
    }
    waiters: dict[str, list[dict[str, Any]]] = {}
    for w in (BarrierWait.objects.filter(released_at__isnull=True).order_by("arrived_at", "id")
              .values("id", "barrier_id", "participant_id", "participant__worker_id", "group_id",
                      "arrived_at", "deadline")[:WAITERS_SHOWN]):
        waiters.setdefault(w["barrier_id"], []).append({
            "wait_id": w["id"],
            "participant_id": w["participant_id"],
            "worker_id": w["participant__worker_id"],
            "group_id": w["group_id"],
            "waited_seconds": _seconds(now, w["arrived_at"]),
            "seconds_to_deadline": (round((w["deadline"] - now).total_seconds(), 1)
                                    if w["deadline"] else None),
            "admin_url": reverse("admin:experiments_participant_change", args=[w["participant_id"]]),
        })
    rooms = []
    for barrier_id in [*barriers, *sorted(set(summary) - set(barriers))]:
        barrier = barriers.get(barrier_id)
        found = summary.get(barrier_id, {})
        rooms.append({
            "barrier_id": barrier_id,
            "kind": _barrier_kind(barrier),
            "max_wait_time": getattr(barrier, "max_wait_time", None),
            "needed": getattr(barrier, "batch_size", None) if isinstance(barrier, SimpleGrouper) else None,
            "n_waiting": found.get("n", 0),
            "longest_wait_seconds": _seconds(now, found.get("since")),
            "waiters": waiters.get(barrier_id, []),
        })
    return rooms


def open_wait(wait_id: int) -> BarrierWait | None:
    """The wait with this id if the participant is still waiting there."""
    return BarrierWait.objects.filter(pk=wait_id, released_at__isnull=True).first()


def errors(now: datetime) -> dict[str, Any]:
    """Failed participants: the reasons with their counts, and the newest failures. Two queries."""
    failed = Participant.objects.filter(failed=True)
    reasons = list(failed.order_by().values("failed_reason").annotate(n=Count("id"), last=Max("failed_at"))
                   .order_by("-n", "failed_reason")[:ERRORS_SHOWN])
    newest = failed.order_by("-failed_at", "-id").values(
        "id", "worker_id", "failed_reason", "failure_tags", "failed_at", "page_label")[:ERRORS_SHOWN]
    return {
        "reasons": [{"reason": r["failed_reason"], "n": r["n"]} for r in reasons],
        "recent": [{
            "id": p["id"], "worker_id": p["worker_id"], "reason": p["failed_reason"],
            "tags": p["failure_tags"], "page_label": p["page_label"],
            "failed_at": p["failed_at"].isoformat() if p["failed_at"] else None,
            "seconds_ago": _seconds(now, p["failed_at"]),
            "admin_url": reverse("admin:experiments_participant_change", args=[p["id"]]),
        } for p in newest],
    }


def monitor_snapshot(query: Query) -> dict[str, Any]:
    """Everything one refresh of the monitor shows (JSON-ready). Ten queries, whatever the size."""
    now = timezone.now()
    experiment = get_experiment()
    return {
        "experiment": experiment.label,
        "now": now.isoformat(),
        "recruitment": recruitment_state(),
        "counts": status_counts(),
        "funnel": funnel(),
        "per_hour": per_hour(now),
        "participants": participants_page(query, now),
        "status_filter": query.status,
        "search": query.search,
        "waiting_rooms": waiting_rooms(now),
        "errors": errors(now),
    }


def _barrier_kind(barrier: Any) -> str:
    if barrier is None:
        return "(not in this timeline)"
    if isinstance(barrier, Grouper):
        return "grouper"
    if isinstance(barrier, GroupBarrier):
        return "group barrier"
    return "barrier"


def _seconds(now: datetime, then: datetime | None) -> float | None:
    return round(max(0.0, (now - then).total_seconds()), 1) if then else None
