"""Storing a trial's answer and finalizing it (now, or once its assets are in storage).

Locks: the caller's participant row (submit path); the asset-deposited listener locks each
trial row while it checks it. Idempotent: a finalized or failed trial is left as is.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from assets.models import AssetLink
from assets.selectors import holder_assets_pending
from experiments.loading import get_experiment
from experiments.locks import lock_row

from ..models import Trial


def trial_finalize(*, maker, trial: Trial, participant, experiment, answer: Any) -> None:
    """Store the answer, score and time taken; then let the maker react (chains grow).

    A trial failed meanwhile (its chain was pruned) still keeps its answer: accepted answers
    are never lost. `failed` is not written here, so a concurrent failure is not overwritten.
    """
    now = timezone.now()
    trial.answer = answer
    trial.time_taken = max(0.0, (now - trial.created_at).total_seconds()) if trial.created_at else None
    trial.score = maker.score(trial=trial, answer=answer, participant=participant, experiment=experiment)
    if holder_assets_pending(trial):
        # --- assets: e.g. the recording just made; finalized once the last is stored (hook below)
        trial.vars["awaiting_assets"] = True
        trial.save(update_fields=["answer", "time_taken", "score", "vars", "updated_at"])
        return
    trial.vars.pop("awaiting_assets", None)
    trial.finalized, trial.finalized_at = True, now
    trial.save(update_fields=["answer", "time_taken", "score", "finalized", "finalized_at", "vars", "updated_at"])
    maker.on_trial_finalized(trial=trial, participant=participant, experiment=experiment)


def trials_finalize_when_assets_stored(asset) -> None:
    """Deposit hook (runs on the worker): finalize the trials that were waiting for this asset,
    once none of their assets is pending. Idempotent; each trial row is locked while checked."""
    trial_ids = set(AssetLink.objects.filter(asset=asset, holder_kind="trial").values_list("holder_id", flat=True))
    if asset.parent_kind == "trial":
        trial_ids.add(asset.parent_id)
    if not trial_ids:
        return
    experiment = get_experiment()
    for trial_id in sorted(int(i) for i in trial_ids if str(i).isdigit()):
        with transaction.atomic():
            trial = lock_row(Trial, trial_id)
            if (trial is None or trial.finalized or trial.failed or not trial.vars.get("awaiting_assets")
                    or holder_assets_pending(trial)):
                continue
            maker = experiment.program.modules.get(trial.trial_maker_id)
            trial.vars.pop("awaiting_assets", None)
            trial.finalized, trial.finalized_at = True, timezone.now()
            trial.save(update_fields=["finalized", "finalized_at", "vars", "updated_at"])
            if maker is not None:
                maker.on_trial_finalized(trial=trial, participant=trial.participant, experiment=experiment)
