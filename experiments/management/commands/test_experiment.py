"""`manage.py test_experiment`: does my experiment work? Bots take it and the experiment checks them."""

from django.core.management.base import BaseCommand, CommandError

from experiments.bots import DEFAULT_MAX_PAGES, run_bots
from experiments.management.cli import (
    experiment_deployed,
    positive_int,
    progress_bar,
)


class Command(BaseCommand):
    help = ("Deploy the experiment if needed, run Experiment.test_n_bots bots through it and call "
            "Experiment.test_check_bot(bot) on each; exit non-zero if any check fails.")

    def add_arguments(self, parser):
        parser.add_argument("--n", type=positive_int, default=None,
                            help="how many bots (default: the experiment's test_n_bots)")
        parser.add_argument("--parallel", type=positive_int, default=None,
                            help="bots running at once, in threads (default 1; all of them if the "
                                 "timeline has elements whose bots must run together, e.g. barriers)")
        parser.add_argument("--max-pages", type=positive_int, default=DEFAULT_MAX_PAGES,
                            help=f"a bot gives up after this many pages (default {DEFAULT_MAX_PAGES})")

    def handle(self, *args, **options):
        experiment = experiment_deployed(self)
        n = options["n"] or int(experiment.test_n_bots)
        if n < 1:
            raise CommandError(f"{type(experiment).__name__}.test_n_bots must be at least 1", returncode=2)
        self.stdout.write(f"Testing '{experiment.label}' with {n} bot{'s' * (n != 1)}")
        bar = progress_bar(self.stderr, total=n, desc="bots", unit="bot")
        try:
            together = any(getattr(e, "bots_run_together", False) for e in experiment.program.elements)
            parallel = options["parallel"] or (n if together else 1)
            bots, summary = run_bots(n, parallel=parallel, max_pages=options["max_pages"],
                                     on_done=lambda bot: bar.update(1))
        finally:
            bar.close()

        problems = []
        for index, bot in enumerate(bots, start=1):
            try:
                experiment.test_check_bot(bot)
            except Exception as exc:  # an AssertionError, or a check that itself broke
                message = str(exc) or type(exc).__name__
                if not isinstance(exc, AssertionError):
                    message = f"{type(exc).__name__}: {message}"
                problems.append((index, bot, message))
        for index, bot, message in problems:
            self.stdout.write(self.style.ERROR(f"  bot {index} ({bot.worker_id}): {message}"))
            if bot.traceback:
                self.stderr.write(bot.traceback)
        if problems:
            raise CommandError(
                f"FAIL: {len(problems)} of {n} bots failed test_check_bot for '{experiment.label}'",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(
            f"PASS: {n} bots took '{experiment.label}' and passed test_check_bot "
            f"({summary.pages} pages in {summary.seconds:.2f} s)"
        ))
