"""What the trials app adds to the core, through `experiments.hooks` (see ARCHITECTURE.md):
`participant.all_trials` / `alive_trials` (PsyNet's names), an asset-deposited listener that
finalizes trials waiting for their recordings, and hints for
`test_experiment` when bots wait for nodes whose async_on_deploy has not run.
`register()` runs from `TrialsConfig.ready()`; registering again changes nothing.
"""

from experiments import hooks
from experiments.models import Participant

from .models import Node, Trial
from .services import trials_finalize_when_assets_stored


def stuck_bot_hints(*, workers_started: bool) -> list[str]:
    """Why bots may not have finished: nodes not ready, or failed in async_on_deploy."""
    hints = []
    not_ready = Node.objects.filter(ready=False, failed=False)
    count = not_ready.count()
    if count:
        errors = [e for e in not_ready.exclude(async_error="").values_list("async_error", flat=True)[:1]]
        hints.append(f"{count} node(s) are still not ready (their async_on_deploy has not finished)"
                     + (f"; last error: {errors[0]}" if errors else ""))
    failed = Node.objects.filter(failed=True).exclude(async_error="").values_list("async_error", flat=True)[:1]
    for error in failed:
        hints.append(f"a node failed in async_on_deploy: {error}")
    if count and not workers_started:
        hints.append("no worker was started (--no-worker): are this deployment's workers running?")
    return hints


def participant_all_trials(participant: Participant) -> list[Trial]:
    """PsyNet's `participant.all_trials`: failed ones included, in creation order."""
    return list(Trial.objects.filter(participant=participant).order_by("id"))


def participant_alive_trials(participant: Participant) -> list[Trial]:
    """PsyNet's `participant.alive_trials`: those that have not failed, in creation order."""
    return list(Trial.objects.filter(participant=participant, failed=False).order_by("id"))


def register() -> None:
    hooks.participant_properties.register("all_trials", participant_all_trials)
    hooks.participant_properties.register("alive_trials", participant_alive_trials)
    hooks.asset_deposited.register(trials_finalize_when_assets_stored)
    hooks.stuck_bot_hints.register(stuck_bot_hints)
