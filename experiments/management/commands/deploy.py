"""`manage.py deploy`: the one step every start of a deployment runs before web, worker and beat.

It collects static files too, so serving never depends on a second command someone may forget:
without them pages have no CSS or JS, and production's manifest storage answers 500.
Idempotent: collecting unchanged files and migrating a migrated database change nothing.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from experiments.deployment import deployment_create
from experiments.hooks import DeployError
from experiments.loading import ExperimentLoadError, get_experiment
from experiments.management.cli import step_progress


class Command(BaseCommand):
    help = ("Collect static files, migrate the database, prepare the experiment's timeline and "
            "record a Deployment.")

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true", help="skip `migrate`")
        parser.add_argument(
            "--no-collectstatic", action="store_true",
            help="skip `collectstatic` (when static files are collected elsewhere, e.g. into "
                 "the Docker image at build time)")

    def handle(self, *args, **options):
        try:
            experiment = get_experiment()
        except ExperimentLoadError as exc:
            raise CommandError(str(exc)) from exc
        if not options["no_collectstatic"]:
            try:
                call_command("collectstatic", interactive=False, verbosity=0)
            except OSError as exc:
                raise CommandError(
                    f"could not collect static files into {settings.STATIC_ROOT} ({exc}): make it "
                    "writable (CHORUS_VAR_DIR moves it), or pass --no-collectstatic where they are "
                    "collected already (a Docker image collects them when it is built)") from exc
            self.stdout.write(f"Collected static files into {settings.STATIC_ROOT}")
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        try:
            deployment = deployment_create(experiment=experiment, progress=step_progress(self.stderr))
        except DeployError as exc:
            raise CommandError(str(exc)) from exc
        for report in deployment.step_reports:
            self.stdout.write(report.summary())
        self.stdout.write(self.style.SUCCESS(
            f"Deployed '{deployment.label}' (deployment {deployment.id}, source {deployment.source_hash[:12]})"
        ))
