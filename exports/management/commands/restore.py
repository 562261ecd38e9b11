import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exports.selectors import snapshots_recent
from exports.services import RestoreError, database_restore
from exports.storage import artifact_storage


class Command(BaseCommand):
    help = ("Rebuild an EMPTY, migrated database from an export (folder or zip) or a snapshot. "
            "Refuses non-empty databases and archives that fail their checks; changes nothing then.")

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("path", nargs="?", help="an export folder, an export zip or a snapshot zip")
        source.add_argument("--latest-snapshot", action="store_true",
                            help="the newest snapshot in artifact storage (local folder or S3)")

    def handle(self, *args, **options):
        try:
            if options["latest_snapshot"]:
                result = self._restore_latest()
            else:
                result = database_restore(path=options["path"])
        except RestoreError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(result.row_counts.values())
        self.stdout.write(self.style.SUCCESS(
            f"Restored {rows} rows into {len(result.row_counts)} tables from the {result.kind}."))

    def _restore_latest(self):
        snapshot = snapshots_recent(1).first()
        if snapshot is None:
            # A fresh database has no Snapshot rows: look in the storage itself.
            names = sorted(artifact_storage().listdir("snapshots")[1])
            name = f"snapshots/{names[-1]}" if names else None
        else:
            name = snapshot.artifact
        if not name:
            raise RestoreError("there is no snapshot in artifact storage")
        with tempfile.TemporaryDirectory(prefix="chorus-restore-") as tmp:
            local = Path(tmp) / "snapshot.zip"
            with artifact_storage().open(name, "rb") as remote, open(local, "wb") as out:
                for chunk in iter(lambda: remote.read(1 << 20), b""):
                    out.write(chunk)
            self.stdout.write(f"Restoring {name}")
            return database_restore(path=local)
