"""`manage.py bots --n N [--parallel P] [--url URL]`: run bots through the experiment."""

from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from experiments.bots import DEFAULT_MAX_PAGES, MAX_HOLD, run_bots
from experiments.management.cli import (
    experiment_deployed,
    http_url,
    non_negative_float,
    positive_float,
    positive_int,
    progress_bar,
)


class Command(BaseCommand):
    help = ("Run N bots through the experiment: in this process through the same services as "
            "participants' requests, or over HTTP against a running server with --url.")

    def add_arguments(self, parser):
        parser.add_argument("--n", type=positive_int, required=True, help="how many bots")
        parser.add_argument("--parallel", type=positive_int, default=1,
                            help="bots running at once, in threads (default 1)")
        parser.add_argument("--url", type=http_url, default=None,
                            help="take the experiment over HTTP at this server instead")
        parser.add_argument("--max-pages", type=positive_int, default=DEFAULT_MAX_PAGES,
                            help=f"a bot gives up after this many pages (default {DEFAULT_MAX_PAGES})")
        parser.add_argument("--max-wait", type=positive_float, default=MAX_HOLD,
                            help="seconds a bot waits for others at a barrier (past its deadline) or "
                                 f"on a wait page shown again and again, before it gives up (default {MAX_HOLD:g})")
        parser.add_argument("--wait", type=non_negative_float, default=None,
                            help="seconds bots stay on a WaitPage (default: experiment.test_bot_wait)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        n, url = options["n"], options["url"]
        if not url:
            experiment_deployed(self)
        bar = progress_bar(self.stderr, total=n, desc="bots", unit="bot",
                           disable=options["no_progress"])
        try:
            bots, summary = run_bots(n, parallel=options["parallel"], url=url,
                                     max_pages=options["max_pages"], max_hold=options["max_wait"], wait=options["wait"],
                                     on_done=lambda bot: bar.update(1))
        finally:
            bar.close()
        where = f" against {url}" if url else ""
        self.stdout.write(
            f"{summary.n} bots{where}: {summary.completed} completed, {summary.failed} failed "
            f"({summary.errors} errors) in {summary.seconds:.2f} s, {summary.pages} pages, "
            f"{summary.pages_per_second:.1f} pages/s"
        )
        reasons = Counter(bot.failed_reason for bot in bots if bot.failed and bot.error is None)
        for reason, count in reasons.most_common(5):
            self.stdout.write(f"  failed by the experiment ({count}): {reason}")
        errored = [bot for bot in bots if bot.error is not None]
        for bot in errored[:5]:
            self.stderr.write(f"  {bot.worker_id}: {bot.failed_reason}")
        if errored:
            raise CommandError(f"{len(errored)} of {n} bots stopped with an error", returncode=1)
