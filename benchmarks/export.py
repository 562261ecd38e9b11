"""Export speed and memory on a large study, against PostgreSQL's own COPY in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chorus_bench python benchmarks/export.py

Builds (and drops afterwards) a scratch database `<name>_export_bench`, fills it with
generate_series at two sizes (default 100,000 and 1,000,000 responses; participants = 10% of
responses — they stand in for the 100,000 trials, whose table does not exist yet), and for each:
- plain `COPY <table> TO STDOUT (FORMAT csv, HEADER)` of every exported table into files
  (the baseline), then `manage.py export` in a fresh process: rows/s of both and their ratio;
- the export process's peak RSS (flat as data grows = streaming works);
- a snapshot when nothing changed: milliseconds and queries, against a `SELECT 1` round trip.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent

FILL_SQL = """
INSERT INTO experiments_deployment (id, label, experiment_path, source_hash, created_at)
VALUES (gen_random_uuid(), 'Hello world', '/bench', repeat('0', 64), now());
INSERT INTO experiments_participant (token, worker_id, assignment_id, recruiter, entry_params,
    user_agent, ip_address, is_bot, status, failed, failed_reason, failure_tags, complete, vars,
    answer, time_credit, progress, position, page_uuid, page_label, timeline_state, created_at,
    last_active_at)
SELECT md5(g::text) || md5((g * 7)::text), 'worker-' || g, 'assignment-' || g, 'prolific',
    jsonb_build_object('PROLIFIC_PID', 'pid' || g), 'Mozilla/5.0 bench', NULL, true, 'working',
    false, '', '[]'::jsonb, g % 3 = 0,
    jsonb_build_object('rounds', g % 5, 'likes_music', g % 2 = 0, 'group', 'g' || (g % 10)),
    to_jsonb(g % 5), g * 0.5, 0.5, 10, gen_random_uuid(), 'mood', '{}'::jsonb,
    now() - make_interval(secs => g), now()
FROM generate_series(1, PARTICIPANTS) AS g;
INSERT INTO experiments_response (participant_id, page_uuid, page_label, module_id, answer,
    metadata, time_taken, created_at)
SELECT 1 + (g % PARTICIPANTS), gen_random_uuid(),
    (ARRAY['name', 'age', 'mood', 'rate', 'form'])[1 + g % 5], 'questionnaire',
    CASE g % 5 WHEN 0 THEN to_jsonb('answer ' || g) WHEN 1 THEN to_jsonb(g % 100)
         WHEN 2 THEN to_jsonb(g % 5 + 1) WHEN 3 THEN jsonb_build_array('piano', 'drums')
         ELSE jsonb_build_object('rating', g % 7, 'comment', 'ok ' || g) END,
    jsonb_build_object('client_time', 1700000000000 + g), (g % 1000) / 100.0,
    now() - make_interval(secs => g)
FROM generate_series(1, RESPONSES) AS g;
ANALYZE;
"""

CHILD = r"""
import json, os, resource, sys, time
import django
django.setup()
from django.db import connection
from django.test.utils import CaptureQueriesContext
from exports.services import export_create, snapshot_take
import exports.services.export as E

timings = {}
def timed(name):
    original = getattr(E, name)
    def run(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timings[name] = timings.get(name, 0) + time.perf_counter() - t
    setattr(E, name, run)
for name in ("dump_tables", "write_sheets", "write_logs", "write_basic_data"):
    timed(name)

t0 = time.perf_counter()
result = export_create(path=sys.argv[1], assets="none", source=False)
elapsed = time.perf_counter() - t0
peak_export = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
phases = dict(timings)  # the export's own; the snapshot below also dumps tables
snapshot_take(force=True)
snapshot_take()  # warm
runs, queries = [], 0
for _ in range(20):
    with CaptureQueriesContext(connection) as captured:
        t = time.perf_counter()
        assert snapshot_take() is None
        runs.append(time.perf_counter() - t)
    queries = len(captured.captured_queries)
pings = []
with connection.cursor() as cursor:
    for _ in range(20):
        t = time.perf_counter()
        cursor.execute("SELECT 1")
        cursor.fetchone()
        pings.append(time.perf_counter() - t)
runs.sort(); pings.sort()
print(json.dumps({"elapsed": elapsed, "phases": phases, "rows": sum(result.manifest["row_counts"].values()),
                  "peak_rss": peak_export, "snapshot_ms": runs[len(runs) // 2] * 1000,
                  "snapshot_queries": queries, "ping_ms": pings[len(pings) // 2] * 1000}))
"""


def run_size(base_url: str, dbname: str, responses: int, workdir: Path, repeat: int) -> dict:
    parsed = urlparse(base_url)
    conninfo = dict(host=parsed.hostname or "127.0.0.1", port=parsed.port or 5432,
                    user=parsed.username or "postgres", password=parsed.password)
    url = f"postgres://{conninfo['user']}@{conninfo['host']}:{conninfo['port']}/{dbname}"
    with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{dbname}"')
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings",
           "ARTIFACTS_DIR": str(workdir / "artifacts"), "EXPERIMENT": str(ROOT / "demos" / "hello_world")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    participants = max(responses // 10, 1)
    t = time.perf_counter()
    with psycopg.connect(dbname=dbname, autocommit=True, **conninfo) as conn:
        for statement in FILL_SQL.split(";\n"):
            if statement.strip():
                conn.execute(statement.replace("PARTICIPANTS", str(participants)).replace("RESPONSES", str(responses)))
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
            "(tablename LIKE 'experiments\\_%' OR tablename LIKE 'assets\\_%' OR tablename LIKE 'sync\\_%')"
            " ORDER BY 1")]
        fill = time.perf_counter() - t
        rows = sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
        # Baseline and export alternate, best of `repeat` each, so a busy machine (other
        # processes) weighs on both alike.
        copy_runs, export_runs = [], []
        for attempt in range(repeat):
            base_dir = workdir / f"copy{attempt}"
            base_dir.mkdir()
            t = time.perf_counter()
            for table in tables:
                with open(base_dir / f"{table}.csv", "wb") as out, conn.cursor() as cursor:
                    with cursor.copy(f'COPY "{table}" TO STDOUT (FORMAT csv, HEADER true)') as copy:
                        for chunk in copy:
                            out.write(chunk)
            copy_runs.append(time.perf_counter() - t)
            shutil.rmtree(base_dir)
            child = subprocess.run([sys.executable, "-c", CHILD, str(workdir / "export")], cwd=ROOT,
                                   env=env, check=True, capture_output=True, text=True)
            export_runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    figures = min(export_runs, key=lambda f: f["elapsed"])
    figures["peak_rss"] = max(f["peak_rss"] for f in export_runs)
    copy_s = min(copy_runs)
    size = sum(p.stat().st_size for p in (workdir / "export").rglob("*") if p.is_file())
    with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return {"responses": responses, "participants": participants, "fill_s": fill, "rows": rows,
            "copy_s": copy_s, "export_bytes": size, "repeat": len(copy_runs), **figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="responses per run, comma-separated")
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each; best kept")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chorus")
    dbname = f"{urlparse(base_url).path.lstrip('/') or 'chorus'}_export_bench"
    results = []
    for responses in [int(s) for s in args.sizes.split(",")]:
        workdir = Path(tempfile.mkdtemp(prefix="chorus-export-bench-"))
        try:
            r = run_size(base_url, dbname, responses, workdir, args.repeat)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results.append(r)
        copy_rate, export_rate = r["rows"] / r["copy_s"], r["rows"] / r["elapsed"]
        print(f"\n{r['responses']:,} responses + {r['participants']:,} participants "
              f"({r['rows']:,} rows; filled in {r['fill_s']:.1f} s)")
        print(f"  (best of {r['repeat']} alternating runs each; load average now "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print(f"  plain COPY of the same tables: {r['copy_s']:.2f} s = {copy_rate:,.0f} rows/s")
        print(f"  manage.py export (database/ + data/ + logs + manifest, {r['export_bytes'] / 1e6:.0f} MB): "
              f"{r['elapsed']:.2f} s = {export_rate:,.0f} rows/s  -> ratio {export_rate / copy_rate:.2f} (aim >= 0.5)")
        p = r["phases"]
        print(f"    of which database/ (all tables, raw, ordered by id): {p['dump_tables']:.2f} s "
              f"= {r['rows'] / p['dump_tables']:,.0f} rows/s -> ratio {r['copy_s'] / p['dump_tables']:.2f}; "
              f"beside it (own lanes, same snapshot): data/ sheets {p['write_sheets']:.2f} s + logs "
              f"{p['write_logs']:.2f} s; basic data {p.get('write_basic_data', 0):.2f} s")
        print(f"  export process peak RSS: {r['peak_rss'] / 2**20:.0f} MB (aim < 300 MB)")
        print(f"  snapshot with nothing changed: {r['snapshot_ms']:.2f} ms, {r['snapshot_queries']} queries "
              f"(a SELECT 1 round trip: {r['ping_ms']:.2f} ms)")
    if len(results) > 1:
        small, big = results[0], results[-1]
        print(f"\npeak RSS {small['peak_rss'] / 2**20:.0f} MB at {small['rows']:,} rows vs "
              f"{big['peak_rss'] / 2**20:.0f} MB at {big['rows']:,} rows "
              f"(x{big['rows'] / small['rows']:.0f} data, x{big['peak_rss'] / small['peak_rss']:.2f} memory)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
