from django.core.management.base import BaseCommand, CommandError

from exports.services import RestoreError, database_restore


class Command(BaseCommand):
    help = ("Rebuild an EMPTY, migrated database from an export (folder or zip) or a snapshot. "
            "Refuses non-empty databases and archives that fail their checks; changes nothing then.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="an export folder, an export zip or a snapshot zip")

    def handle(self, *args, **options):
        try:
            result = database_restore(path=options["path"])
        except RestoreError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(result.row_counts.values())
        self.stdout.write(self.style.SUCCESS(
            f"Restored {rows} rows into {len(result.row_counts)} tables from the {result.kind}."))
