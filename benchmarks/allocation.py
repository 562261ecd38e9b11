"""Static trial allocation under load: trials/s, p95 latency and balance, against a baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench python benchmarks/allocation.py

Deploys a StaticTrialMaker with 2,000 nodes, then runs 100 participants at once, each taking
10 trials through the real submit service (lock participant, store the answer on the trial,
allocate the next trial under the trial maker's lock, save). Requests are served by a pool of
`--workers` threads, like a web server's workers (PostgreSQL allows 100 connections here).

Baselines, measured in the same run with the same threads and as many requests:
1. plain submits: the same participants' flow without a trial maker (an InfoPage in a loop),
   i.e. what the submit service costs without allocation;
2. transactions that each insert one plain row (a TimelineEvent): the cheapest possible write.
The ratios say what allocation adds. Rows made by the run are deleted at the end.
"""

import argparse
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXPERIMENT = '''
from experiments.api import *


class BenchTrial(StaticTrial):
    time_estimate = 1

    def show_trial(self, experiment, participant):
        return ModularPage("rate", "How pleasant?", PushButtonControl(["1", "2", "3"]), time_estimate=1)


class Bench(Experiment):
    label = "allocation benchmark"
    timeline = join(
        StaticTrialMaker(id_="{maker_id}", trial_class=BenchTrial,
                         nodes=[StaticNode(definition={{"i": i}}) for i in range({nodes})],
                         expected_trials_per_participant={trials}),
        SuccessfulEndPage(),
    )
'''


PLAIN = '''
from experiments.api import *


def count(participant):
    participant.var.n = participant.var.get("n", 0) + 1


class Plain(Experiment):
    label = "plain submit baseline"
    timeline = join(
        while_loop("pages", lambda participant: participant.var.get("n", 0) < {trials} + 1,
                   join(InfoPage("Next", time_estimate=1), CodeBlock(count)), expected_repetitions={trials}),
        SuccessfulEndPage(),
    )
'''


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_pool(workers: int, jobs: "queue.Queue", step) -> tuple[float, dict[str, list[float]]]:
    """Run `step(job) -> (next job or None, kind)` over the queue with `workers` threads; return
    the wall time and the latencies of the steps by kind."""
    from django.db import connection

    latencies: dict[str, list[float]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            while True:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                following, kind = step(job)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.setdefault(kind, []).append(elapsed)
                if following is not None:
                    jobs.put(following)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--trials", type=int, default=10, help="trials per participant")
    parser.add_argument("--workers", type=int, default=32, help="threads serving requests (DB connections)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL database (the benchmark measures PostgreSQL)")

    maker_id = f"bench_{os.getpid()}_{int(time.time())}"
    folder = Path(tempfile.mkdtemp(prefix="chorus_bench_"))
    (folder / "experiment.py").write_text(EXPERIMENT.format(maker_id=maker_id, nodes=args.nodes, trials=args.trials))
    plain_folder = Path(tempfile.mkdtemp(prefix="chorus_bench_plain_"))
    (plain_folder / "experiment.py").write_text(PLAIN.format(trials=args.trials))
    os.environ["EXPERIMENT"] = str(folder)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    from experiments import services
    from experiments.deployment import deployment_create
    from experiments.loading import get_experiment
    from experiments.models import Participant, TimelineEvent
    from experiments.timeline import Runner
    from trials.models import Node, Trial

    call_command("migrate", interactive=False, verbosity=0)
    experiment = get_experiment()
    started = time.perf_counter()
    deployment_create(experiment=experiment)
    deploy_seconds = time.perf_counter() - started

    # --- allocation: 100 participants in flight, each step allocates one trial ---------------
    def step(participant):
        experiment = get_experiment()
        if isinstance(participant, str):  # a participant still to arrive: creating it allocates trial 1
            participant = services.participant_create(worker_id=participant, is_bot=True)
        else:
            runner = Runner(experiment.program, experiment, participant)
            page = runner.current_page()
            participant = services.response_submit(token=participant.token, page_uuid=participant.page_uuid,
                                                   raw_answer=page.get_bot_response(runner.available())).participant
        page = Runner(experiment.program, experiment, participant).current_page()
        return (None, "final answer") if page.terminal else (participant, "allocating")

    jobs: queue.Queue = queue.Queue()
    for i in range(args.participants):
        jobs.put(f"{maker_id}-{i}")
    wall, latencies = run_pool(args.workers, jobs, step)
    trials = Trial.objects.filter(trial_maker_id=maker_id)
    n_trials = trials.count()
    allocating = latencies["allocating"]
    n_steps = sum(len(v) for v in latencies.values())
    counts = list(Node.objects.filter(trial_maker_id=maker_id).values_list("n_trials", flat=True))
    duplicates = n_trials - trials.values("participant_id", "node_id").distinct().count()

    # --- baseline 1: the same flow without a trial maker ----------------------------------------
    settings.EXPERIMENT = str(plain_folder)
    plain_jobs: queue.Queue = queue.Queue()
    for i in range(args.participants):
        plain_jobs.put(f"{maker_id}-plain-{i}")
    plain_wall, plain_kinds = run_pool(args.workers, plain_jobs, step)
    plain_latencies = plain_kinds["allocating"]
    plain_steps = sum(len(v) for v in plain_kinds.values())
    settings.EXPERIMENT = str(folder)

    # --- baseline 2: the same number of one-row transactions, same threads ---------------------
    participant_ids = list(Participant.objects.filter(worker_id__startswith=maker_id).values_list("id", flat=True))

    def insert(index):
        with transaction.atomic():
            TimelineEvent.objects.create(participant_id=participant_ids[index % len(participant_ids)],
                                         kind="bench", label=maker_id)
        return None, "insert"

    base_jobs: queue.Queue = queue.Queue()
    for i in range(n_steps):
        base_jobs.put(i)
    base_wall, base_kinds = run_pool(args.workers, base_jobs, insert)
    base_latencies = base_kinds["insert"]

    steps_per_s = n_steps / wall
    trials_per_s = n_trials / wall
    inserts_per_s = len(base_latencies) / base_wall
    print(f"deploy: {args.nodes} nodes in {deploy_seconds:.2f} s")
    print(f"allocation: {args.participants} participants x {args.trials} trials over {args.nodes} nodes, "
          f"{args.workers} worker threads")
    print(f"  trials allocated: {n_trials} in {wall:.2f} s = {trials_per_s:.0f} trials/s "
          f"({steps_per_s:.0f} submits/s incl. final answers)")
    print(f"  latency per allocating request: p50 {statistics.median(allocating) * 1000:.1f} ms, "
          f"p95 {percentile(allocating, 0.95) * 1000:.1f} ms")
    print(f"  balance: trials per node min {min(counts)}, max {max(counts)} (max - min = {max(counts) - min(counts)});"
          f" participant-node duplicates: {duplicates}")
    plain_per_s = plain_steps / plain_wall
    print(f"baseline 1: {plain_steps} plain submits (same flow, no trial maker) in {plain_wall:.2f} s = "
          f"{plain_per_s:.0f}/s, p95 {percentile(plain_latencies, 0.95) * 1000:.1f} ms")
    print(f"baseline 2: {len(base_latencies)} one-row insert transactions in {base_wall:.2f} s = "
          f"{inserts_per_s:.0f}/s, p95 {percentile(base_latencies, 0.95) * 1000:.1f} ms")
    print(f"ratios: allocating submits/s = {steps_per_s / plain_per_s:.2f}x plain submits/s, "
          f"{steps_per_s / inserts_per_s:.2f}x one-row inserts/s; p95 latency "
          f"{percentile(allocating, 0.95) / percentile(plain_latencies, 0.95):.1f}x plain submits'")

    # --- clean up -------------------------------------------------------------------------------
    Participant.objects.filter(worker_id__startswith=maker_id).delete()  # plain ones too
    Node.objects.filter(trial_maker_id=maker_id).delete()
    return 0 if max(counts) - min(counts) <= 1 and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
