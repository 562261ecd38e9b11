"""Loading an experiment folder: clear errors for every common mistake; `manage.py deploy`."""

import importlib
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from experiments.loading import ExperimentLoadError, load_experiment, source_hash
from experiments.models import Deployment

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("does_not_exist", "does_not_exist does not exist"),
        ("not_an_experiment", "not_an_experiment has no experiment.py"),
        ("no_subclass", "no_subclass/experiment.py defines no Experiment subclass"),
        ("two_subclasses", "defines several Experiment subclasses (First, Second); keep one"),
        ("no_label", "Unnamed has no `label`"),
        ("no_time_estimate", "page 'feelings' has no time_estimate"),
        ("syntax_error", "syntax_error/experiment.py, line 3: syntax error"),
        ("import_error", "cannot import: No module named 'chorus_no_such_module'"),
    ],
)
def test_loader_says_what_is_wrong(folder, message):
    with pytest.raises(ExperimentLoadError) as excinfo:
        load_experiment(FIXTURES / folder)
    assert message in str(excinfo.value)


def test_a_file_is_not_an_experiment_folder():
    with pytest.raises(ExperimentLoadError, match="is not a folder"):
        load_experiment(FIXTURES / "not_an_experiment" / "notes.txt")


@pytest.mark.django_db
def test_commands_report_load_errors_without_a_traceback(use_experiment):
    use_experiment(FIXTURES / "two_subclasses")
    for command in ("deploy", "bots", "test_experiment"):
        args = ["--n", "1"] if command == "bots" else []
        with pytest.raises(CommandError, match="several Experiment subclasses"):
            call_command(command, *args)


def test_loaded_experiment_has_its_source_hash():
    experiment = load_experiment(FIXTURES / "semantics")
    assert experiment.label == "Semantics"
    assert experiment.source_hash == source_hash(FIXTURES / "semantics")
    assert len(experiment.source_hash) == 64


@pytest.mark.django_db
def test_deploy_prepares_elements_and_records_a_deployment(use_experiment):
    use_experiment(FIXTURES / "semantics")
    experiment = load_experiment(FIXTURES / "semantics")
    fixture = importlib.import_module(type(experiment).__module__)
    prepared_before = len(fixture.PREPARED)
    out = StringIO()

    call_command("deploy", stdout=out, stderr=StringIO())

    deployment = Deployment.objects.get()
    assert deployment.label == "Semantics"
    assert deployment.source_hash == source_hash(FIXTURES / "semantics")
    assert deployment.experiment_path == str((FIXTURES / "semantics").resolve())
    assert deployment.created_at is not None
    assert fixture.PREPARED[prepared_before:] == [("Semantics", len(experiment.program))]
    assert f"Deployed 'Semantics' (deployment {deployment.id}" in out.getvalue()


def test_source_hash_changes_with_the_source(tmp_path):
    (tmp_path / "experiment.py").write_text("x = 1\n")
    before = source_hash(tmp_path)
    (tmp_path / "stimulus.txt").write_text("a")
    assert source_hash(tmp_path) != before


@pytest.mark.django_db
def test_deployment_service_without_a_progress_bar_still_prepares(use_experiment):
    from experiments.deployment import deployment_create, deployment_ensure

    experiment = load_experiment(FIXTURES / "semantics")
    fixture = importlib.import_module(type(experiment).__module__)
    before = len(fixture.PREPARED)
    deployment = deployment_create(experiment=experiment)
    assert len(fixture.PREPARED) == before + 1
    assert deployment_ensure(experiment=experiment) == (deployment, False)
    assert len(fixture.PREPARED) == before + 1
