"""Helpers shared by the experiments app's management commands: progress bars, option types,
migrating a fresh database, deploying before bots run."""

import argparse
from typing import Any
from urllib.parse import urlsplit

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from tqdm import tqdm

from experiments.deployment import deployment_ensure
from experiments.experiment import Experiment
from experiments.loading import ExperimentLoadError, get_experiment


class _Stream:
    """tqdm redraws with carriage returns; Django's OutputWrapper would append newlines."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()


def progress_bar(stderr: OutputWrapper, *, total: int, desc: str, disable: bool = False, **kwargs: Any) -> tqdm:
    return tqdm(total=total, desc=desc, file=_Stream(stderr), disable=disable, **kwargs)


def step_progress(stderr: OutputWrapper):
    """A progress factory for `Elt.prepare` (deploy): bars only for steps of 50 items or more."""

    def factory(description: str, total: int) -> tqdm:
        return progress_bar(stderr, total=total, desc=description, disable=total < 50)

    return factory


def migrate_if_needed() -> bool:
    """Apply unapplied migrations (a fresh database); True if anything was migrated."""
    executor = MigrationExecutor(connection)
    if not executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return False
    call_command("migrate", interactive=False, verbosity=0)
    return True


def experiment_deployed(command: BaseCommand) -> Experiment:
    """Load the experiment (a load error becomes a CommandError), migrate a fresh database and
    deploy this source if it is not deployed yet, so bots can take it at once."""
    try:
        experiment = get_experiment()
    except ExperimentLoadError as exc:
        raise CommandError(str(exc)) from exc
    migrate_if_needed()
    deployment, created = deployment_ensure(experiment=experiment, progress=step_progress(command.stderr))
    if created:
        command.stdout.write(f"Deployed '{deployment.label}' first (deployment {deployment.id})")
    return experiment


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {number})")
    return number


def non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {value})")
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 (got {value})")
    return number


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000")
    return value
