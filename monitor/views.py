"""The live monitor at /admin/monitor/ (staff only) and the recruitment guard of /start/. Thin."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from experiments.loading import get_experiment

from . import selectors, services
from .models import Recruitment

#: Seconds between two refreshes of the monitor page.
REFRESH_SECONDS = 3


def _snapshot_or_error(request: HttpRequest):
    try:
        return selectors.monitor_snapshot(selectors.Query.from_params(request.GET)), None
    except selectors.MonitorQueryError as exc:
        return None, exc


def _context(request: HttpRequest, snapshot: dict, *, page: bool = True) -> dict:
    """The template context; the admin's own (site header, app list) only for the whole page."""
    return {**(admin.site.each_context(request) if page else {}), "title": "Live monitor", "snap": snapshot,
            "statuses": selectors.STATUSES, "recruitment_states": Recruitment.State.values,
            "refresh_seconds": REFRESH_SECONDS}


@never_cache
@require_GET
def monitor(request: HttpRequest) -> HttpResponse:
    snapshot, error = _snapshot_or_error(request)
    if error is not None:
        return HttpResponse(f"{error} (for example ?status=failed&page=2)", status=error.status,
                            content_type="text/plain; charset=utf-8")
    return TemplateResponse(request, "monitor/monitor.html", _context(request, snapshot))


@never_cache
@require_GET
def monitor_live(request: HttpRequest) -> HttpResponse:
    """The live part of the page as HTML: what the page's script fetches every few seconds."""
    snapshot, error = _snapshot_or_error(request)
    if error is not None:
        return HttpResponse(str(error), status=error.status, content_type="text/plain; charset=utf-8")
    return HttpResponse(render_to_string("monitor/live.html", _context(request, snapshot, page=False),
                                         request))


@never_cache
@require_GET
def monitor_data(request: HttpRequest) -> JsonResponse:
    """The same snapshot as JSON (for scripts and dashboards)."""
    snapshot, error = _snapshot_or_error(request)
    if error is not None:
        return JsonResponse({"error": str(error)}, status=error.status)
    return JsonResponse(snapshot)


@require_POST
def recruitment(request: HttpRequest) -> HttpResponse:
    """Open, pause or close recruitment (the study controls' buttons)."""
    try:
        row = services.recruitment_set(state=request.POST.get("state", ""),
                                       changed_by=request.user.get_username())
    except services.ControlError as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")
    messages.success(request, f"Recruitment is now {row.state}.")
    return redirect("monitor")


@require_POST
def wait_action(request: HttpRequest, wait_id: int) -> HttpResponse:
    """Release or fail one waiting participant (the waiting rooms' buttons)."""
    action = request.POST.get("action", "")
    try:
        services.wait_act(wait_id=wait_id, action=action, by=request.user.get_username())
    except services.ControlError as exc:
        if isinstance(exc, services.WaitGone):
            messages.warning(request, str(exc))
            return redirect("monitor")
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")
    messages.success(request, "Released: the participant goes on." if action == "release"
                     else "Failed: the participant sees the failure page.")
    return redirect("monitor")


_REFUSALS = {
    Recruitment.State.PAUSED: ("This study is paused",
                               "New participants cannot start right now. Please try again later."),
    Recruitment.State.CLOSED: ("This study is closed",
                               "This study is no longer recruiting participants. Thank you for "
                               "your interest."),
}


def recruitment_guard(request: HttpRequest) -> HttpResponse | None:
    """/start/'s guard: a polite page, and no participant, while recruitment is paused or closed.
    One primary-key read per entry."""
    state = selectors.recruitment_state()
    if state == Recruitment.State.OPEN:
        return None
    heading, text = _REFUSALS[state]
    html = render_to_string("monitor/recruitment_closed.html",
                            {"heading": heading, "text": text,
                             "experiment_label": get_experiment().label}, request)
    # 503 while paused (come back later), 403 once closed (do not come back).
    status = 503 if state == Recruitment.State.PAUSED else 403
    response = HttpResponse(html, status=status)
    response["X-Chorus-Recruitment"] = state
    return response
