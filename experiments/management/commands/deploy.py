from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from experiments.deployment import deployment_create
from experiments.hooks import DeployError
from experiments.loading import ExperimentLoadError, get_experiment
from experiments.management.cli import step_progress


class Command(BaseCommand):
    help = "Migrate the database, prepare the experiment's timeline and record a Deployment."

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true", help="skip `migrate`")

    def handle(self, *args, **options):
        try:
            experiment = get_experiment()
        except ExperimentLoadError as exc:
            raise CommandError(str(exc)) from exc
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
