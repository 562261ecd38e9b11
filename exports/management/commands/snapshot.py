from django.core.management.base import BaseCommand

from exports.services import snapshot_take


class Command(BaseCommand):
    help = "Take a database snapshot now if anything changed since the last (--force: always)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true")

    def handle(self, *args, **options):
        snapshot = snapshot_take(force=options["force"])
        if snapshot is None:
            self.stdout.write("No change since the last snapshot (or one is running); none taken.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Snapshot {snapshot.artifact} ({snapshot.size} bytes)"))
