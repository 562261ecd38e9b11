"""The waiting page's status endpoint: one cheap read, polled every 1–2 s (with jitter)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from experiments.models import Participant
from experiments.selectors import is_token_shaped

from .selectors import wait_status


@require_GET
@never_cache
def status(request: HttpRequest, token: str) -> JsonResponse:
    """`GET /api/p/<token>/sync/status`: at most two queries."""
    participant = None
    if is_token_shaped(token):  # else answered without a query (a NUL byte would make PostgreSQL raise)
        participant = (Participant.objects.only("id", "page_uuid", "timeline_state")
                       .filter(token=token).first())
    if participant is None:
        return JsonResponse({"error": "unknown participant token"}, status=404)
    return JsonResponse(wait_status(participant))
