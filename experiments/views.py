"""Participant HTML pages: the entry link and the page a participant is on. Thin: read, render."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import services
from .bot_entry import BOT_REFUSED_HEADER, bot_entry_allowed
from .hooks import start_guards
from .loading import get_experiment
from .selectors import page_payload, participant_by_token

#: Query parameters that name the participant for a recruiter; everything else is kept as-is.
IDENTITY_PARAMS = ("worker_id", "assignment_id", "recruiter")


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") if settings.STORE_IP_ADDRESSES else None


@require_GET
@never_cache
def start(request: HttpRequest) -> HttpResponse:
    """`/start/?worker_id=..&assignment_id=..`: create a participant, send them to their page
    (unless a start guard refuses: recruitment paused or closed)."""
    refusal = start_guards.refusal(request)
    if refusal is not None:
        return refusal
    params = {k: v[:1024] for k, v in list(request.GET.items())[:50]}
    wants_bot = params.get("recruiter") == "bot"
    is_bot = wants_bot and bot_entry_allowed(request.headers)
    participant = services.participant_create(
        worker_id=params.get("worker_id", ""),
        assignment_id=params.get("assignment_id", ""),
        recruiter=params.get("recruiter", "direct") or "direct",
        entry_params={k: v for k, v in params.items() if k not in IDENTITY_PARAMS},
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=client_ip(request),
        # HTTP bots (experiments.bots.HTTPBot) enter with recruiter=bot *and* the bot token (or
        # on a DEBUG server): a visitor's query string alone never makes them a bot.
        is_bot=is_bot,
    )
    response = redirect("participant-page", token=participant.token)
    if wants_bot and not is_bot:
        response[BOT_REFUSED_HEADER] = "no valid bot token: entered as a person"  # HTTPBot says so
    return response


@require_GET
@never_cache
def participant_page(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_by_token(token)
    if participant is None:
        raise Http404("No such participant")
    return HttpResponse(page_html(page_payload(participant), token=token, request=request))


def page_html(page: dict, *, token: str, request: HttpRequest | None = None) -> str:
    """The participant's page as HTML, from `page_payload`: what a browser gets (bots build it too)."""
    return render_to_string("chorus/page.html",
                            {"page": page, "token": token, "experiment_label": get_experiment().label},
                            request=request)
