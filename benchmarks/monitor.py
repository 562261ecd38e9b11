"""Server time of one live-monitor refresh with a big study, against an admin page baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus python benchmarks/monitor.py

Creates a throwaway database next to DATABASE_URL's (dropped at the end), migrates it, and
bulk-inserts (one SQL statement each, generate_series) 10,000 participants spread over every
page of the hello_world timeline and every status, 200,000 responses and 500 open barrier waits.
Then, logged in as staff with Django's test client (in process: the time is the server's, from
request to rendered response, middleware and session included), it times:

  1. baseline: the admin index page `/admin/` (session, user, app list; no study data);
  2. the monitor's refresh `/admin/monitor/live` (what the page's script fetches every 3 s),
     the JSON snapshot `/admin/monitor/data.json` and the whole page `/admin/monitor/`;

and prints median and p95 milliseconds, the queries per request, and each ratio to the baseline.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILL_SQL = """
INSERT INTO experiments_participant (token, worker_id, assignment_id, recruiter, entry_params,
    user_agent, is_bot, status, failed, failed_reason, failure_tags, failed_at, complete,
    completed_at, vars, time_credit, progress, position, page_uuid, page_label, page_started_at,
    timeline_state, created_at, last_active_at)
SELECT 'bench' || g, 'worker' || g, 'assignment' || g, 'prolific', '{{}}'::jsonb, '', g % 10 = 0,
    CASE WHEN g % 23 = 0 THEN 'returned' WHEN g % 29 = 0 THEN 'abandoned' ELSE 'working' END,
    g % 17 = 0, CASE WHEN g % 17 = 0 THEN 'reason ' || (g % 5) ELSE '' END, '[]'::jsonb,
    CASE WHEN g % 17 = 0 THEN now() - make_interval(secs => g) END,
    g % 4 = 0, CASE WHEN g % 4 = 0 THEN now() END, '{{}}'::jsonb, 0, (g % 100) / 100.0,
    (ARRAY[{positions}])[1 + g % {n_positions}], gen_random_uuid(), 'page',
    now() - make_interval(secs => g % 600), '{{}}'::jsonb,
    now() - make_interval(secs => g), now() - make_interval(secs => g % 3600)
FROM generate_series(1, {participants}) AS g;
INSERT INTO experiments_response (participant_id, page_uuid, page_label, module_id, answer,
    metadata, time_taken, created_at)
SELECT p.min_id + (g % {participants}), gen_random_uuid(), 'page' || (g % 12), 'questionnaire',
    to_jsonb(g % 7), '{{}}'::jsonb, (g % 1000) / 100.0, now() - make_interval(secs => g)
FROM generate_series(1, {responses}) AS g, (SELECT min(id) AS min_id FROM experiments_participant) p;
INSERT INTO sync_barrierwait (participant_id, barrier_id, barrier_class, position, arrived_at,
    deadline, on_timeout, released_by, outcome)
SELECT p.min_id + g * 7, 'room' || (g % 4), 'Barrier', 0, now() - make_interval(secs => g),
    now() + interval '5 minutes', 'fail', '', ''
FROM generate_series(0, {waits} - 1) AS g, (SELECT min(id) AS min_id FROM experiments_participant) p;
ANALYZE;
"""


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def timed(client, url: str, repeats: int) -> tuple[list[float], int]:
    from django.db import connection

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        assert client.get(url).status_code == 200, url  # warm up, and count one request's queries
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        reply = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200, url
    return times, len(statements)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--waits", type=int, default=500, help="open barrier waits")
    parser.add_argument("--repeats", type=int, default=30, help="requests timed per URL")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (the benchmark makes its own database there)")
    if args.waits * 7 > args.participants:
        parser.error("--waits must be at most --participants / 7")

    name = f"chorus_bench_monitor_{os.getpid()}"
    admin_url = with_database(base_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = with_database(base_url, name)
    os.environ.setdefault("EXPERIMENT", str(ROOT / "demos" / "hello_world"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        import django

        django.setup()
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from experiments.loading import get_experiment
        from experiments.timeline.program import ShowPage

        call_command("migrate", interactive=False, verbosity=0)
        program = get_experiment().program
        positions = [i for i, ins in enumerate(program.instructions) if isinstance(ins, ShowPage)]
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FILL_SQL.format(
                positions=", ".join(map(str, positions)), n_positions=len(positions),
                participants=args.participants, responses=args.responses, waits=args.waits))
        fill_seconds = time.perf_counter() - started
        client = Client()
        client.force_login(User.objects.create_superuser("bench", password="bench-monitor"))

        urls = {"baseline: admin index /admin/": "/admin/",
                "monitor refresh /admin/monitor/live": "/admin/monitor/live",
                "monitor JSON /admin/monitor/data.json": "/admin/monitor/data.json",
                "monitor page /admin/monitor/": "/admin/monitor/"}
        results = {label: timed(client, url, args.repeats) for label, url in urls.items()}
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(f"{args.participants:,} participants, {args.responses:,} responses, {args.waits} open waits "
          f"(inserted in {fill_seconds:.1f} s); {args.repeats} requests per URL")
    base = statistics.median(results["baseline: admin index /admin/"][0])
    for label, (times, n_queries) in results.items():
        median = statistics.median(times)
        p95 = statistics.quantiles(times, n=20)[18]
        print(f"  {label:42s} median {median:7.1f} ms  p95 {p95:7.1f} ms  {n_queries:2d} queries  "
              f"{median / base:5.1f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
