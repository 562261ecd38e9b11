"""Extension points of the core, filled by the apps above it from their `AppConfig.ready()`.

`experiments` is the lowest app but one (only `experiments.timeline` is below it) and imports
none of `assets`, `sync`, `trials` or `exports`. Where the core needs them it calls what they
registered here, the way Django's admin site collects ModelAdmins from every app:

    class AssetsConfig(AppConfig):
        def ready(self):
            hooks.deploy_steps.register(assets_deploy)

Each hook is a small object with one method to fill it (`register`) and one to use it. Filling
is idempotent (the same callable registered twice is kept once), so `ready()` may run again, and
order is registration order (INSTALLED_APPS order). Hooks hold no state of a request and take no
lock; what they call states its own lock order.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


class DeployError(Exception):
    """A deploy step could not finish; the message says what to fix (`manage.py deploy` prints it)."""


class Listeners:
    """Callables run for one event, in registration order; one failing does not stop the others
    when `isolate` is set (its exception is given to `on_error`)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self._listeners: list[Callable[..., Any]] = []

    def register(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        if listener not in self._listeners:
            self._listeners.append(listener)
        return listener

    def unregister(self, listener: Callable[..., Any]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def __iter__(self) -> Iterator[Callable[..., Any]]:
        return iter(list(self._listeners))

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def send(self, *args: Any, on_error: Callable[[Callable, BaseException], None] | None = None,
             **kwargs: Any) -> list[Any]:
        results = []
        for listener in self:
            if on_error is None:
                results.append(listener(*args, **kwargs))
                continue
            try:
                results.append(listener(*args, **kwargs))
            except Exception as exc:
                on_error(listener, exc)
        return results


class Named:
    """Callables registered under a name (a second registration of a name replaces the first)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self._by_name: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        self._by_name[name] = fn
        return fn

    def get(self, name: str) -> Callable[..., Any] | None:
        return self._by_name.get(name)

    def items(self) -> list[tuple[str, Callable[..., Any]]]:
        return list(self._by_name.items())


class UploadHandler:
    """How a multipart submit (an answer with files) is read. One handler (the assets app's); without
    one, multipart submits are refused with 415.

    - `refusal(request)` → `(status, message)` to refuse before the body is read, or None;
    - `split(data, files)` → `(payload_json_text, files_by_field, problem_or_None)`;
    - `guard()` → a context manager around the submit that undoes what a failed submit staged.
    """

    def __init__(self) -> None:
        self.handler: Any = None

    def register(self, handler: Any) -> Any:
        self.handler = handler
        return handler

    def refusal(self, request: Any) -> tuple[int, str] | None:
        if self.handler is None:
            return 415, "this deployment accepts no file uploads; send the answer as application/json"
        return self.handler.refusal(request)

    def split(self, data: Any, files: Any) -> tuple[str, dict[str, Any], str | None]:
        return self.handler.split(data, files)

    def guard(self) -> AbstractContextManager:
        return self.handler.guard() if self.handler is not None else _nothing()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


#: `step(*, experiment, progress)` after the Deployment row is committed (workers can read it);
#: returns a report with `.summary()` (printed by `manage.py deploy`) or None; may raise
#: DeployError. Assets: register declared assets, deposit cached files.
deploy_steps = Listeners("deploy steps")

#: name → `provider(runner)`: an argument researcher functions (CodeBlock, PageMaker, conditions,
#: bot responses) may ask for by name, computed only when asked. Assets: `assets`.
researcher_arguments = Named("arguments offered to researcher functions")

#: name → `getter(participant)`: a read-only attribute of every Participant, e.g.
#: `participant.assets` (assets) or `participant.active_barriers` (sync).
participant_properties = Named("participant properties")

#: The multipart reader of `POST /api/p/<token>/response` (assets).
upload_handler = UploadHandler()

#: `listener(participant, experiment)` when a participant fails, inside the failing transaction
#: and after the timeline's elements' own `on_participant_failed`.
participant_failed = Listeners("participant-failed listeners")

#: `listener(*, workers_started)` → a list of hints when bots did not finish (`test_experiment`):
#: work the apps wait for. Trials: nodes whose async_on_deploy has not run.
stuck_bot_hints = Listeners("stuck-bot hints")

#: `listener(asset)` on the worker right after an asset is in storage; errors are logged, never
#: raised. Trials: finalize a trial once all its assets are stored.
asset_deposited = Listeners("asset-deposited listeners")


class StartGuards(Listeners):
    """Guards `/start/` asks before it creates a participant."""

    def refusal(self, request: Any) -> Any:
        """The response of the first guard that refuses this entrant, or None to let them in."""
        for guard in self:
            response = guard(request)
            if response is not None:
                return response
        return None


#: `guard(request)` → an HttpResponse that refuses this entrant, or None: asked by `/start/` before
#: a participant is created. Must be cheap (it runs on every entry). Monitor: recruitment paused
#: or closed.
start_guards = StartGuards("start guards")
