"""Fixtures for trial-maker tests: experiments written into temporary folders, then deployed."""

import textwrap

import pytest

from experiments.deployment import deployment_create
from experiments.loading import load_experiment


@pytest.fixture
def make_experiment(settings, tmp_path):
    """`make_experiment(source)` writes experiment.py, serves it, deploys it and returns it.

    Each call gets its own folder, so each is a separate package (its classes do not clash)."""
    counter = {"n": 0}

    def make(source: str, *, deploy: bool = True):
        counter["n"] += 1
        folder = tmp_path / f"exp{counter['n']}"
        folder.mkdir()
        (folder / "experiment.py").write_text(
            "from experiments.api import *\n\n" + textwrap.dedent(source))
        settings.EXPERIMENT = str(folder)
        experiment = load_experiment(folder)
        if deploy:
            deployment_create(experiment=experiment)
        return experiment

    return make


@pytest.fixture
def use_demo(settings):
    from tests.conftest import DEMOS

    def use(name: str, *, deploy: bool = True):
        settings.EXPERIMENT = str(DEMOS / name)
        experiment = load_experiment(DEMOS / name)
        if deploy:
            deployment_create(experiment=experiment)
        return experiment

    return use
