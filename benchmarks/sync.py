"""Sync figures (issue 5), each with a baseline measured in the same run.

1. Release latency with 100 pairs completing at once: from the last arrival's submit to every
   member released in the database (p50/p95), and the time until each waiting participant's
   page sees it, polling the status endpoint every 1-2 s with jitter. Baseline: a platform that
   does not release in the arrival's request (the reference): the release waits for the next
   periodic pass (our beat task every 1 s, with in-request release switched off), and waiting
   pages poll every 0.5 s.
2. SimpleGrouper with 10,000 waiting participants: seconds to group them all (one set-based
   statement). Baselines: the generic path a researcher's `group()` takes (objects + bulk
   inserts), and one ORM write per group.
3. A beat tick with nobody waiting: queries and milliseconds. Baseline: one `SELECT 1`.

Creates its own database `<DATABASE_URL's name>_bench` (dropped at the end) and needs
PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_sync python benchmarks/sync.py
    ... python benchmarks/sync.py --pairs 100 --crowd 10000 --threads 16

Everything runs in this process (Django's service layer, threads with their own connections);
the status endpoint is called through Django's test client (middleware, view, JSON).
"""

import argparse
import heapq
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def setup_django(database_url: str) -> str:
    import psycopg

    parts = urlsplit(database_url)
    bench_db = parts.path.lstrip("/") + "_bench"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench_db}"')
        conn.execute(f'CREATE DATABASE "{bench_db}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + bench_db))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["EXPERIMENT"] = str(ROOT / "benchmarks" / "sync_experiment")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return bench_db


def drop_database(database_url: str, bench_db: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    parts = urlsplit(database_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')


def in_threads(function, items, threads: int) -> list:
    from django.db import connection

    results = [None] * len(items)
    queue = list(enumerate(items))
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker():
        try:
            start.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    index, item = queue.pop(0)
                results[index] = function(item)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


# --- 1. release latency ------------------------------------------------------------------------

def prepare_pairs(n_pairs: int) -> list[tuple]:
    """n_pairs pairs, the first member of each waiting at the GroupBarrier 'meet'."""
    from experiments import services
    from experiments.models import Participant
    from sync.models import SyncGroup

    def submit(p):
        p = Participant.objects.get(pk=p.pk)
        return services.response_submit(token=p.token, page_uuid=p.page_uuid, raw_answer=None).participant

    people = [services.participant_create(worker_id=f"b{i}", entry_params={"path": "pairs"})
              for i in range(2 * n_pairs)]
    for p in people:
        submit(p)                                # arrive at the pair grouper
    for p in people:
        if Participant.objects.get(pk=p.pk).page_label != "paired":
            submit(p)                            # leave the grouper's waiting page
    pairs = []
    ids = [p.pk for p in people]
    for group in SyncGroup.objects.filter(group_type="pair", memberships__participant_id__in=ids).distinct().order_by("id"):
        first, second = sorted(group.participants, key=lambda p: p.pk)
        submit(first)                            # waits at 'meet'
        pairs.append((Participant.objects.get(pk=first.pk), Participant.objects.get(pk=second.pk)))
    return pairs


def measure_plain(n: int, threads: int) -> list[float]:
    """Same-run baseline: n submits of a page with no barrier, as concurrent."""
    from experiments import services

    people = [services.participant_create(worker_id=f"p{i}", entry_params={"path": "plain"}) for i in range(n)]

    def submit(p):
        t0 = time.monotonic()
        services.response_submit(token=p.token, page_uuid=p.page_uuid, raw_answer=None)
        return time.monotonic() - t0

    return in_threads(submit, people, threads)


def measure_release(pairs: list[tuple], *, threads: int, poll_range: tuple[float, float],
                    instant: bool, spread: float = 0.0) -> dict:
    """The second members arrive at once; pollers watch the first members' status."""
    from django.db import connection
    from django.test import Client

    from experiments import services
    from sync import services as sync_services
    from sync.models import BarrierWait

    seen: dict[int, float] = {}
    stop = threading.Event()
    heap = [(time.monotonic() + random.uniform(*poll_range), first.pk, first.token) for first, _ in pairs]
    heapq.heapify(heap)
    heap_lock = threading.Lock()
    poll_count = [0]

    def poller():
        client = Client()
        try:
            while not stop.is_set():
                with heap_lock:
                    if not heap:
                        return
                    due, pk, token = heap[0]
                    now = time.monotonic()
                    if due > now:
                        wait = min(due - now, 0.01)
                    else:
                        heapq.heappop(heap)
                        wait = 0
                if wait:
                    time.sleep(wait)
                    continue
                body = client.get(f"/api/p/{token}/sync/status").json()
                poll_count[0] += 1
                if body.get("released"):
                    seen[pk] = time.monotonic()
                else:
                    with heap_lock:
                        heapq.heappush(heap, (time.monotonic() + random.uniform(*poll_range), pk, token))
        finally:
            connection.close()

    original = sync_services.process_barrier
    ticker = None
    if not instant:
        # A platform without in-request release: arrivals are only recorded, and a periodic
        # pass (our beat task, every 1 s) releases.
        def record_only(*args, **kwargs):
            if kwargs.get("trigger") == "arrival":
                return None
            return original(*args, **kwargs)

        sync_services.process_barrier = record_only

        def tick_loop():
            try:
                next_tick = time.monotonic()
                while not stop.is_set():
                    sync_services.sync_tick()
                    next_tick += 1.0
                    time.sleep(max(0.0, next_tick - time.monotonic()))
            finally:
                connection.close()

        ticker = threading.Thread(target=tick_loop)
        ticker.start()

    pollers = [threading.Thread(target=poller) for _ in range(4)]
    for t in pollers:
        t.start()
    time.sleep(poll_range[1])                    # pollers in their steady state
    timings: dict[int, tuple[float, float, float]] = {}

    offsets = {first.pk: random.uniform(0, spread) for first, _ in pairs}
    begin = time.monotonic() + 0.05

    def arrive(pair):
        first, second = pair
        time.sleep(max(0.0, begin + offsets[first.pk] - time.monotonic()))
        wall, t0 = time.time(), time.monotonic()
        services.response_submit(token=second.token, page_uuid=second.page_uuid, raw_answer=None)
        timings[first.pk] = (wall, t0, time.monotonic())

    in_threads(arrive, pairs, threads)
    deadline = time.monotonic() + 60
    while len(seen) < len(pairs) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in pollers:
        t.join()
    if ticker:
        ticker.join()
    sync_services.process_barrier = original

    first_ids = [first.pk for first, _ in pairs]
    released_at = dict(BarrierWait.objects.filter(participant_id__in=first_ids, barrier_id="meet")
                       .values_list("participant_id", "released_at"))
    server, seen_after, end_to_end = [], [], []
    for pk, (wall, t0, t1) in timings.items():
        if instant:
            release = t1                         # released in the submit's own transaction
        else:
            release = t0 + (released_at[pk].timestamp() - wall)
        server.append(release - t0)
        if pk in seen:
            seen_after.append(seen[pk] - release)
            end_to_end.append(seen[pk] - t0)
    return {"server": server, "seen": seen_after, "end_to_end": end_to_end,
            "polls": poll_count[0], "n_seen": len(seen)}


def poll_costs(n: int) -> tuple[float, float]:
    """Median seconds of one status poll (ours) and of one waiting-page submit (the reference's
    poll), for participants waiting at a grouper that will not fill."""
    from django.test import Client

    from experiments import services
    from experiments.models import Participant

    people = [services.participant_create(worker_id=f"w{i}", entry_params={"path": "lonely"}) for i in range(n)]
    for p in people:
        p = Participant.objects.get(pk=p.pk)
        services.response_submit(token=p.token, page_uuid=p.page_uuid, raw_answer=None)
    client = Client()
    status, submit = [], []
    for p in people:
        p = Participant.objects.get(pk=p.pk)
        t0 = time.perf_counter()
        client.get(f"/api/p/{p.token}/sync/status").json()
        status.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        client.post(f"/api/p/{p.token}/response", {"page_uuid": str(p.page_uuid), "answer": None},
                    content_type="application/json").json()
        submit.append(time.perf_counter() - t0)
    return statistics.median(status), statistics.median(submit)


def release_figures(n_pairs: int, threads: int, spread: float) -> None:
    print(f"\n1. Release latency: {n_pairs} pairs complete ({threads} client threads, "
          "service layer, PostgreSQL)")
    sequential_plain = measure_plain(20, 1)
    sequential = measure_release(prepare_pairs(20), threads=1, poll_range=(1.0, 2.0), instant=True)
    print(f"   one at a time (20 pairs): releasing submit p50 {ms(percentile(sequential['server'], 50))}, "
          f"p95 {ms(percentile(sequential['server'], 95))}; baseline plain submit p50 "
          f"{ms(percentile(sequential_plain, 50))}, p95 {ms(percentile(sequential_plain, 95))}")
    plain = measure_plain(n_pairs, threads)
    burst = measure_release(prepare_pairs(n_pairs), threads=threads, poll_range=(1.0, 2.0), instant=True)
    paced = measure_release(prepare_pairs(n_pairs), threads=threads, poll_range=(1.0, 2.0), instant=True,
                            spread=spread)
    base = measure_release(prepare_pairs(n_pairs), threads=threads, poll_range=(0.5, 0.5), instant=False)
    print(f"   baseline: a submit of a page without a barrier, all {n_pairs} at once: "
          f"p50 {ms(percentile(plain, 50))}, p95 {ms(percentile(plain, 95))}")
    rows = (
        (f"Chorus, all {n_pairs} last arrivals at once (release in the arrival's transaction, "
         "status poll every 1-2 s)", burst),
        (f"Chorus, the {n_pairs} last arrivals spread over {spread:g} s", paced),
        ("baseline: periodic release pass every 1 s (no release in the request), poll every "
         "0.5 s - the reference's way, all at once", base),
    )
    for name, result in rows:
        print(f"   {name}")
        for title, values in (("last submit -> all released in DB", result["server"]),
                              ("release -> waiting page sees it  ", result["seen"]),
                              ("last submit -> partner's page sees", result["end_to_end"])):
            print(f"     {title}: p50 {ms(percentile(values, 50))}, p95 {ms(percentile(values, 95))}")
        print(f"     ({result['n_seen']}/{n_pairs} waiting pages saw their release)")
    print(f"   ratios at p95: releasing submit / plain submit = "
          f"{percentile(burst['server'], 95) / percentile(plain, 95):.2f}; "
          f"periodic-pass release / Chorus release = "
          f"{percentile(base['server'], 95) / percentile(burst['server'], 95):.1f}x")
    status_cost, submit_cost = poll_costs(50)
    print(f"   cost of one poll: Chorus status read {ms(status_cost)} vs the reference's poll (a "
          f"waiting-page submit) {ms(submit_cost)}; per waiting participant and second: "
          f"Chorus {status_cost / 1.5 * 1000:.2f} ms of server time (1 poll / 1.5 s) vs "
          f"{submit_cost * 2 * 1000:.2f} ms (2 submits / s) = "
          f"{submit_cost * 2 / (status_cost / 1.5):.0f}x less")


# --- 2. grouping 10,000 -------------------------------------------------------------------------

def fill_crowd(n: int, barrier_id: str) -> None:
    """n working participants waiting at `barrier_id`, written with COPY-speed bulk inserts."""
    from django.utils import timezone

    from experiments.loading import get_experiment
    from experiments.models import Participant
    from sync.elements import program_barriers
    from sync.models import BarrierWait

    program = get_experiment().program
    barrier = program_barriers(program).get(barrier_id)
    position = next((i for i, instr in enumerate(program.instructions)
                     if barrier is not None and getattr(instr, "barrier", None) is barrier), 0)
    people = Participant.objects.bulk_create(
        [Participant(worker_id=f"c{i}", entry_params={"path": "crowd"}) for i in range(n)], batch_size=2000)
    now = timezone.now()
    BarrierWait.objects.bulk_create(
        [BarrierWait(participant=p, barrier_id=barrier_id, barrier_class="SimpleGrouper",
                     position=position, arrived_at=now) for p in people], batch_size=2000)


def group_once(barrier_id: str) -> float:
    from sync.services import barrier_process

    t0 = time.perf_counter()
    barrier_process(barrier_id=barrier_id, trigger="benchmark")
    return time.perf_counter() - t0


def naive_group(barrier_id: str, size: int) -> float:
    """One ORM write per group: create the group, its members, release its rows."""
    from django.db import transaction
    from django.utils import timezone

    from sync.locks import lock_barrier
    from sync.models import BarrierWait, SimpleSyncGroup, SyncGroupMember

    t0 = time.perf_counter()
    with transaction.atomic():
        lock_barrier(barrier_id)
        waits = list(BarrierWait.objects.filter(barrier_id=barrier_id, released_at__isnull=True)
                     .select_for_update().order_by("id").values_list("id", "participant_id"))
        random.shuffle(waits)
        now = timezone.now()
        for i in range(0, len(waits) // size * size, size):
            chunk = waits[i:i + size]
            group = SimpleSyncGroup.objects.create(group_type="crowd", leader_id=chunk[0][1],
                                                   n_active_participants=size, initial_group_size=size)
            SyncGroupMember.objects.bulk_create([SyncGroupMember(group=group, participant_id=pid) for _, pid in chunk])
            BarrierWait.objects.filter(pk__in=[w for w, _ in chunk]).update(
                released_at=now, released_by="benchmark", outcome="released")
    return time.perf_counter() - t0


def grouping_figures(n: int) -> None:
    from sync.models import BarrierWait, SyncGroupMember

    print(f"\n2. SimpleGrouper(initial_group_size=3) with {n:,} waiting participants")
    fill_crowd(n, "crowd_grouper")
    fast = group_once("crowd_grouper")
    grouped = SyncGroupMember.objects.filter(group__formed_by="crowd_grouper").count()
    left = BarrierWait.objects.filter(barrier_id="crowd_grouper", released_at__isnull=True).count()
    print(f"   one set-based statement: {fast:.3f} s ({grouped:,} grouped, {left} left waiting)")
    fill_crowd(n, "crowd_generic")
    generic = group_once("crowd_generic")
    print(f"   baseline, generic path (researcher's group(), objects + bulk inserts): {generic:.3f} s"
          f" = {generic / fast:.1f}x")
    fill_crowd(n, "crowd_naive")
    naive = naive_group("crowd_naive", 3)
    print(f"   baseline, one ORM write per group: {naive:.3f} s = {naive / fast:.1f}x")


# --- 3. idle beat tick ----------------------------------------------------------------------------

def tick_figures(repeat: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sync.models import BarrierWait, PendingFailure
    from sync.services import sync_tick

    BarrierWait.objects.filter(released_at__isnull=True).update(released_at="2000-01-01T00:00:00Z")
    PendingFailure.objects.filter(applied_at__isnull=True).update(applied_at="2000-01-01T00:00:00Z")
    print("\n3. A beat tick with nobody waiting")
    with CaptureQueriesContext(connection) as queries:
        sync_tick()
    ticks, selects = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sync_tick()
        ticks.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        selects.append(time.perf_counter() - t0)
    tick, select = statistics.median(ticks), statistics.median(selects)
    print(f"   {len(queries)} quer{'y' if len(queries) == 1 else 'ies'}, median {tick * 1000:.2f} ms "
          f"(baseline SELECT 1: {select * 1000:.2f} ms; ratio {tick / select:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--crowd", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--spread", type=float, default=2.0,
                        help="seconds over which the paced run's last arrivals come")
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (the benchmark creates <name>_bench there)")
    bench_db = setup_django(database_url)
    try:
        print(f"Sync benchmark on {bench_db} ({os.cpu_count()} CPUs)")
        release_figures(args.pairs, args.threads, args.spread)
        grouping_figures(args.crowd)
        tick_figures(args.ticks)
    finally:
        drop_database(database_url, bench_db)


if __name__ == "__main__":
    main()
