from django.core.management.base import BaseCommand, CommandError

from exports.services import (
    RestoreError,
    RestoreOptionError,
    database_restore,
    snapshot_restore_latest,
)


class Command(BaseCommand):
    help = ("Rebuild an EMPTY database from an export (folder or zip) or a snapshot; a database "
            "that was never migrated is migrated first. Refuses non-empty databases, archives "
            "that fail their checks and archives of another experiment (unless --force); "
            "changes nothing then.")

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("path", nargs="?", help="an export folder, an export zip or a snapshot zip")
        source.add_argument("--latest-snapshot", action="store_true",
                            help="the newest snapshot of this experiment (EXPERIMENT) in artifact "
                                 "storage (local folder or S3)")
        parser.add_argument("--force", action="store_true",
                            help="restore even an archive of another experiment than EXPERIMENT's")

    def handle(self, *args, **options):
        try:
            if options["latest_snapshot"]:
                result = snapshot_restore_latest(force=options["force"])
            else:
                result = database_restore(path=options["path"], force=options["force"])
        except RestoreOptionError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except RestoreError as exc:
            raise CommandError(str(exc)) from exc
        if result.migrated:
            self.stdout.write("The database was not migrated: migrated it first.")
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(warning))
        rows = sum(result.row_counts.values())
        self.stdout.write(self.style.SUCCESS(
            f"Restored {rows} rows into {len(result.row_counts)} tables from the {result.kind} "
            f"{result.source}."))
