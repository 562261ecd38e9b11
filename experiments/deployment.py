"""`manage.py deploy`: prepare the timeline's elements and record a Deployment."""

from collections.abc import Callable
from typing import Any

from django.db import transaction

from .experiment import Experiment
from .models import Deployment

#: progress(description, total) returns a tqdm-like bar (update(n), close()).
ProgressFactory = Callable[[str, int], Any]


def deployment_create(*, experiment: Experiment, progress: ProgressFactory | None = None) -> Deployment:
    """Prepare every element (trial makers create their nodes), then record the deployment."""
    with transaction.atomic():
        for element in experiment.program.elements:
            element.prepare(experiment, progress)
        deployment = Deployment.objects.create(
            label=experiment.label, experiment_path=experiment.path, source_hash=experiment.source_hash
        )
    # --- assets: register declared assets and deposit cached ones (after commit: workers read rows)
    from assets.services import assets_deploy

    deployment.asset_report = assets_deploy(experiment=experiment, progress=progress)
    return deployment
