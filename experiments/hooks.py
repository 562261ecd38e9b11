"""Extension points the upper apps fill in their AppConfig.ready() (experiments imports none of them).

- start guards: called by `/start/` before a participant is created; the first guard that
  returns a response answers the entrant instead (the monitor's study controls refuse entrants
  while recruitment is paused or closed). A guard must be cheap: it runs on every entry.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

StartGuard = Callable[[HttpRequest], HttpResponse | None]

_start_guards: list[StartGuard] = []


def register_start_guard(guard: StartGuard) -> None:
    """Add a guard (idempotent: registering the same function twice keeps one)."""
    if guard not in _start_guards:
        _start_guards.append(guard)


def start_refusal(request: HttpRequest) -> HttpResponse | None:
    """The response of the first guard that refuses this entrant, or None to let them in."""
    for guard in _start_guards:
        response = guard(request)
        if response is not None:
            return response
    return None
