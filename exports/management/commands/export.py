from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from exports.assets_hook import ASSET_MODES
from exports.services import ExportError, ExportOptionError, export_create


class Command(BaseCommand):
    help = ("Export the study: every table (restorable), analysis CSVs, basic data, assets, "
            "source and logs, written aside and moved into --path only when complete.")

    def add_arguments(self, parser):
        parser.add_argument("--path", required=True, help="destination folder (replaced if it "
                            "holds an earlier export)")
        parser.add_argument("--assets", choices=ASSET_MODES, default="experiment",
                            help="experiment: assets made during the experiment (default); "
                                 "all: also cached, function-made and external ones; none")
        parser.add_argument("--anonymize", action="store_true",
                            help="no worker/assignment ids, IPs or user agents; no personal assets")
        parser.add_argument("--no-source", action="store_true", help="leave out the experiment's source")
        parser.add_argument("--zip", action="store_true", help="write PATH.zip instead of a folder")

    def handle(self, *args, **options):
        def progress(description: str, total: int):
            return tqdm(total=total or None, desc=description, file=self.stderr,
                        disable=options["verbosity"] == 0)

        try:
            result = export_create(path=options["path"], assets=options["assets"],
                                   anonymize=options["anonymize"], source=not options["no_source"],
                                   zip=options["zip"], progress=progress)
        except ExportOptionError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(result.manifest["row_counts"].values())
        for warning in result.manifest.get("warnings", []):
            self.stderr.write(self.style.WARNING(warning))
        self.stdout.write(self.style.SUCCESS(
            f"Exported {rows} rows from {len(result.manifest['row_counts'])} tables "
            f"({len(result.manifest['files'])} files) to {result.path}"))
