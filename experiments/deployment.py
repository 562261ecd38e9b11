"""`manage.py deploy`: prepare the timeline's elements and record a Deployment."""

from collections.abc import Callable
from typing import Any

from django.db import transaction

from . import hooks
from .experiment import Experiment
from .loading import in_experiment_folder
from .models import Deployment

#: progress(description, total) returns a tqdm-like bar (update(n), close()).
ProgressFactory = Callable[[str, int], Any]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(description: str, total: int) -> _NoProgress:
    return _NoProgress()


def deployment_create(*, experiment: Experiment, progress: ProgressFactory | None = None) -> Deployment:
    """Prepare every element (trial makers create their nodes), then record the deployment."""
    progress = progress or no_progress
    # Researcher code runs here (start_nodes, create_initial_seed): in the experiment folder.
    with transaction.atomic(), in_experiment_folder(experiment.path):
        for element in experiment.program.elements:
            element.prepare(experiment, progress)
        deployment = Deployment.objects.create(
            label=experiment.label, experiment_path=experiment.path, source_hash=experiment.source_hash
        )
    # The other apps' steps (assets: register and deposit) run after the commit: workers read rows.
    deployment.step_reports = [report for report in hooks.deploy_steps.send(
        experiment=experiment, progress=progress) if report is not None]
    return deployment


def deployment_current(*, experiment: Experiment) -> Deployment | None:
    """The latest deployment of exactly this experiment source, if any."""
    return Deployment.objects.filter(
        experiment_path=experiment.path, source_hash=experiment.source_hash
    ).first()


def deployment_ensure(*, experiment: Experiment, progress: ProgressFactory | None = None) -> tuple[Deployment, bool]:
    """Deploy the experiment unless this very source is already deployed; (deployment, created)."""
    current = deployment_current(experiment=experiment)
    if current is not None:
        return current, False
    return deployment_create(experiment=experiment, progress=progress), True
