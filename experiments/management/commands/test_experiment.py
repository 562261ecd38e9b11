"""`manage.py test_experiment`: does my experiment work? Bots take it as participants would, with
a Celery worker and beat running as in a deployment, and the experiment checks them."""

import shutil

from django.core.management.base import BaseCommand, CommandError

from experiments.bots import DEFAULT_MAX_PAGES, MAX_HOLD, BotError, make_bots, run_bots
from experiments.management.cli import (
    experiment_deployed,
    positive_float,
    positive_int,
    progress_bar,
)
from experiments.management.testing import bot_problems, message_of, stuck_hints
from experiments.management.workers import WorkerStartError, worker_and_beat


class Command(BaseCommand):
    help = ("Deploy the experiment if needed, start a Celery worker and beat, run "
            "Experiment.test_n_bots bots through it, and check them: every bot must complete, then "
            "Experiment.test_check_bot(bot) for each and test_check_bots(bots) for all; exit "
            "non-zero if anything fails.")

    def add_arguments(self, parser):
        parser.add_argument("--n", type=positive_int, default=None,
                            help="how many bots (default: the experiment's test_n_bots)")
        parser.add_argument("--parallel", type=positive_int, default=None,
                            help="bots running at once, in threads (default 1; all of them if the "
                                 "timeline has elements whose bots must run together, e.g. barriers, "
                                 "or the experiment says test_mode = 'parallel')")
        parser.add_argument("--max-pages", type=positive_int, default=DEFAULT_MAX_PAGES,
                            help=f"a bot gives up after this many pages (default {DEFAULT_MAX_PAGES})")
        parser.add_argument("--max-wait", type=positive_float, default=MAX_HOLD,
                            help="seconds a bot waits for others at a barrier (past its deadline) or "
                                 f"on a wait page shown again and again, before it gives up (default {MAX_HOLD:g})")
        parser.add_argument("--no-worker", action="store_true",
                            help="do not start a Celery worker and beat (a deployment's already run "
                                 "against this database and broker)")

    def handle(self, *args, **options):
        experiment = self.experiment = experiment_deployed(self)
        self.script_problem = ""
        n = options["n"] or int(experiment.test_n_bots)
        if n < 1:
            raise CommandError(f"{type(experiment).__name__}.test_n_bots must be at least 1", returncode=2)
        together = any(getattr(e, "bots_run_together", False) for e in experiment.program.elements)
        mode = getattr(experiment, "test_mode", None)
        parallel = options["parallel"] or (n if together or mode == "parallel" else 1)
        self.stdout.write(f"Testing '{experiment.label}' with {n} bot{'s' * (n != 1)}"
                          f"{f', {parallel} at once' if parallel > 1 else ''}")
        processes_status = None  # with --no-worker: unknown
        if options["no_worker"]:
            bots, summary = self._run(n, parallel, options)
        else:
            try:
                with worker_and_beat(experiment_path=str(experiment.path)) as processes:
                    self.stdout.write(f"Started a Celery worker and beat (logs in {processes.folder}; "
                                      "kept if the run fails)")
                    bots, summary = self._run(n, parallel, options)
                    processes_status = processes.status()  # as they were when the bots ended
            except KeyboardInterrupt:
                raise CommandError("interrupted: the bots, the worker and beat were stopped", returncode=130) from None
            except WorkerStartError as exc:
                raise CommandError(f"{exc}\nFix the error above, or pass --no-worker if this "
                                   "deployment's workers already run.", returncode=1) from exc
        self._check(experiment, bots, summary, processes_status)
        if processes_status is not None:
            shutil.rmtree(processes.folder, ignore_errors=True)  # passed: the logs are not needed

    def _run(self, n, parallel, options):
        bots = make_bots(n, max_pages=options["max_pages"], max_hold=options["max_wait"])
        script = getattr(self.experiment, "test_serial_run_bots", None)
        if script is not None:
            self.stdout.write("Stepping the bots with test_serial_run_bots")
            try:
                script(bots)
            except Exception as exc:  # an AssertionError, a BotError, or a script that broke
                self.script_problem = f"test_serial_run_bots: {message_of(exc)}"
        bar = progress_bar(self.stderr, total=n, desc="bots", unit="bot")
        try:
            return run_bots(n, parallel=parallel, bots=bots, on_done=lambda bot: bar.update(1))
        finally:
            bar.close()

    def _check(self, experiment, bots, summary, processes_status):
        problems = bot_problems(experiment, bots, script_problem=self.script_problem)
        for index, bot, message in problems:
            self.stdout.write(self.style.ERROR(f"  bot {index} ({bot.worker_id}): {message}"))
            if bot.traceback and not isinstance(bot.error, BotError):  # BotErrors say it all
                self.stderr.write(bot.traceback)
        if problems:
            for hint in stuck_hints(bots, processes_status):
                self.stdout.write(f"  hint: {hint}")
            failing = sorted({index for index, _, _ in problems if index})
            what = (f"{len(failing)} of {len(bots)} bots failed" if failing
                    else f"{problems[0][2].split(':')[0]} failed")
            raise CommandError(f"FAIL: {what} for '{experiment.label}'", returncode=1)
        self.stdout.write(self.style.SUCCESS(
            f"PASS: {len(bots)} bots took '{experiment.label}', completed it and passed its checks "
            f"({summary.pages} pages in {summary.seconds:.2f} s)"
        ))
