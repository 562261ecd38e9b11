"""Participant HTML pages: the entry link and the page a participant is on. Thin: read, render."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import services
from .loading import get_experiment
from .selectors import page_payload, participant_by_token

#: Query parameters that name the participant for a recruiter; everything else is kept as-is.
IDENTITY_PARAMS = ("worker_id", "assignment_id", "recruiter")


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") if settings.STORE_IP_ADDRESSES else None


@require_GET
@never_cache
def start(request: HttpRequest) -> HttpResponse:
    """`/start/?worker_id=..&assignment_id=..`: create a participant, send them to their page."""
    params = {k: v[:1024] for k, v in list(request.GET.items())[:50]}
    participant = services.participant_create(
        worker_id=params.get("worker_id", ""),
        assignment_id=params.get("assignment_id", ""),
        recruiter=params.get("recruiter", "direct") or "direct",
        entry_params={k: v for k, v in params.items() if k not in IDENTITY_PARAMS},
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=client_ip(request),
        # HTTP bots (experiments.bots.HTTPBot) enter with recruiter=bot.
        is_bot=params.get("recruiter") == "bot",
    )
    return redirect("participant-page", token=participant.token)


@require_GET
@never_cache
def participant_page(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_by_token(token)
    if participant is None:
        raise Http404("No such participant")
    page = page_payload(participant)
    return render(request, "chorus/page.html",
                  {"page": page, "token": token, "experiment_label": get_experiment().label})
