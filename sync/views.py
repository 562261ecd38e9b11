"""The waiting page's status endpoint: one cheap read, polled every 1–2 s (with jitter)."""

import re

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from experiments.models import Participant

from .selectors import wait_status

#: Tokens are URL-safe base64 (secrets.token_urlsafe(32)): anything else is not a token and is
#: answered without touching the database (a NUL byte would even make PostgreSQL raise).
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@require_GET
@never_cache
def status(request: HttpRequest, token: str) -> JsonResponse:
    """`GET /api/p/<token>/sync/status`: at most two queries."""
    participant = None
    if TOKEN_RE.fullmatch(token):
        participant = (Participant.objects.only("id", "page_uuid", "timeline_state")
                       .filter(token=token).first())
    if participant is None:
        return JsonResponse({"error": "unknown participant token"}, status=404)
    return JsonResponse(wait_status(participant))
