"""Fixtures for the PsyNet-style experiments: serve a folder, deploy it, run bots in-process."""

from pathlib import Path

import pytest

from experiments.deployment import deployment_create
from experiments.loading import load_experiment

HERE = Path(__file__).resolve().parent


@pytest.fixture
def psynet_style(settings, tmp_path):
    """`psynet_style(name)` serves and deploys tests/psynet_style/<name>, with assets made
    locally into a fresh storage folder, and returns the experiment."""
    settings.ASSET_DEPLOY_MODE = "local"
    settings.ASSET_LOCAL_ROOT = tmp_path / "storage"
    settings.ASSET_INBOX_DIR = tmp_path / "inbox"

    def use(name: str):
        settings.EXPERIMENT = str(HERE / name)
        experiment = load_experiment(HERE / name)
        deployment_create(experiment=experiment)
        return experiment

    return use


@pytest.fixture
def experiment_from_source(settings, tmp_path):
    """`experiment_from_source(source)` writes experiment.py (after the api import) into a fresh
    folder, serves it and returns it (deployed unless `deploy=False`)."""
    import textwrap

    counter = {"n": 0}

    def make(source: str, *, deploy: bool = True, files: dict[str, str] | None = None):
        counter["n"] += 1
        folder = tmp_path / f"exp{counter['n']}"
        folder.mkdir()
        for name, text in (files or {}).items():
            (folder / name).write_text(text)
        (folder / "experiment.py").write_text("from experiments.api import *\n\n" + textwrap.dedent(source))
        settings.EXPERIMENT = str(folder)
        experiment = load_experiment(folder)
        if deploy:
            deployment_create(experiment=experiment)
        return experiment

    return make
