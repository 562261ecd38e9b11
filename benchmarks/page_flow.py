"""Page-flow throughput: N concurrent HTTP bots through an experiment on gunicorn + PostgreSQL,
on the system PostgreSQL server and on the embedded default, in the same run.

For each engine (`--engines system,embedded`): the system server (`--database-url`) gets a
database created for the run; the embedded one is what a user gets without DATABASE_URL (a
private server in a fresh CHORUS_VAR_DIR, over its Unix socket). Each is deployed into
(`manage.py deploy`) and served by its own gunicorn (127.0.0.1, a free port); then, alternating
engines and phases in rounds, it measures:

  1. baseline: requests/s of the trivial view `/healthz`;
  2. page flow: bots enter at /start/, read their page from the JSON API and submit the bot
     answer of every page until the end page, then start again as a new participant.

It prints, per engine, pages/s (accepted submits per second), p50/p95/p99 submit latency, and
the ratio of the submit rate to the trivial view's rate (the foundation issue aims at >= 40%);
then embedded : system for pages/s (aim >= 0.8x) and p95. It checks that every accepted submit is
a Response row and that no request failed.

    python benchmarks/page_flow.py                  # 50 bots, 2 gunicorn workers, 15 s phases
    python benchmarks/page_flow.py --engines embedded    # one engine only
    python benchmarks/page_flow.py --threads 4      # gthread workers (2 x 4 threads)
    python benchmarks/page_flow.py --bots 20 --duration 5 --max-requests 20000

The load generator runs on the same machine as the server (separate processes, so the client's
GIL does not cap the server), so both figures include its cost alike.
"""

import argparse
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.localhost import free_port  # noqa: E402

PYTHON = sys.executable


# --- bots -----------------------------------------------------------------------------------


def bot_answer(page: dict):
    """The answer a bot gives, worked out from the page's JSON description of its control."""
    control = page.get("control") or {}
    kind = control.get("kind")
    options = [o["value"] for o in control.get("options", [])]
    if kind in ("push_button", "radio", "dropdown"):
        return options[0]
    if kind == "checkbox":
        return options[: max(control.get("min_selected") or 0, 1)]
    if kind == "text":
        return "x" * max(control.get("min_length") or 0, 3)
    if kind == "number":
        for bound in ("min_value", "max_value"):
            if control.get(bound) is not None:
                return control[bound]
        return 0
    if kind == "slider":
        return control["start_value"]
    return None


def run_healthz(base: str, deadline: float, budget: "Budget", out: dict) -> None:
    session = requests.Session()
    while time.monotonic() < deadline and budget.take():
        reply = session.get(base + "/healthz", timeout=30)
        out["ok" if reply.status_code == 200 else "errors"] += 1
        if reply.status_code == 200 and time.monotonic() <= deadline:
            out["ok_in_window"] += 1


def run_bot(base: str, deadline: float, budget: "Budget", out: dict) -> None:
    session = requests.Session()
    json_headers = {"Accept": "application/json"}
    while time.monotonic() < deadline:
        if not budget.take():
            return
        reply = session.get(base + "/start/", allow_redirects=False, timeout=30)
        out["requests"] += 1
        if reply.status_code != 302:
            out["errors"] += 1
            continue
        token = reply.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        out["participants"] += 1
        if not budget.take():
            return
        reply = session.get(f"{base}/api/p/{token}/page", headers=json_headers, timeout=30)
        out["requests"] += 1
        if reply.status_code != 200:
            out["errors"] += 1
            continue
        page = reply.json()
        while not page["terminal"] and time.monotonic() < deadline and budget.take():
            body = {"page_uuid": page["page_uuid"], "answer": bot_answer(page)}
            t0 = time.perf_counter()
            reply = session.post(f"{base}/api/p/{token}/response", json=body, headers=json_headers,
                                 timeout=30)
            latency = time.perf_counter() - t0
            out["requests"] += 1
            if reply.status_code != 200:
                out["errors"] += 1
                out["error_samples"].append((reply.status_code, reply.text[:200]))
                break
            out["submits"] += 1
            if time.monotonic() <= deadline:
                out["submits_in_window"] += 1
            out["latencies"].append(latency)
            page = reply.json()
        if page["terminal"]:
            out["finished"] += 1


class Budget:
    """A bound on the number of requests one client process may send."""

    def __init__(self, n: int) -> None:
        self.left, self.lock = n, threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def client_process(kind: str, base: str, threads: int, start_at: float, duration: float,
                   max_requests: int, results) -> None:
    """One load-generating process: `threads` threads of one kind, released at `start_at`."""
    budget = Budget(max_requests)
    outs = [{"ok": 0, "ok_in_window": 0, "errors": 0, "requests": 0, "submits": 0,
             "submits_in_window": 0, "participants": 0,
             "finished": 0, "latencies": [], "error_samples": []} for _ in range(threads)]
    target = run_healthz if kind == "healthz" else run_bot
    time.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + duration
    workers = [threading.Thread(target=target, args=(base, deadline, budget, out)) for out in outs]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    merged: dict = {"latencies": [], "error_samples": []}
    for out in outs:
        merge(merged, out)
    results.put(merged)


def run_phase(kind: str, base: str, bots: int, procs: int, duration: float,
              max_requests: int) -> dict:
    """Run `bots` threads over `procs` processes for `duration` seconds; merged counters.

    Rates use the *_in_window counters: requests still in flight at the end are completed
    and checked, but not counted."""
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 1.0
    per_proc = [bots // procs + (1 if i < bots % procs else 0) for i in range(procs)]
    processes = [
        ctx.Process(target=client_process,
                    args=(kind, base, n, start_at, duration, max_requests // procs, results))
        for n in per_proc if n
    ]
    for p in processes:
        p.start()
    merged: dict = {"latencies": [], "error_samples": []}
    outs = [results.get(timeout=duration + 120) for _ in processes]
    for p in processes:
        p.join()
    for out in outs:
        merge(merged, out)
    return merged


def merge(into: dict, out: dict) -> None:
    for key, value in out.items():
        if isinstance(value, list):
            into.setdefault(key, []).extend(value)
        else:
            into[key] = into.get(key, 0) + value


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- server ---------------------------------------------------------------------------------


def database_urls(base_url: str, name: str) -> tuple[str, str]:
    """(url of the maintenance database `postgres`, url of the benchmark database)."""
    parts = urlsplit(base_url)
    return (urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path="/" + name)))


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with code {server.returncode}")
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz in time")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User+system CPU seconds each process has used so far (from /proc; gone pids skipped)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


def server_pids(master: int, admin_url: str, db_name: str) -> tuple[list[int], list[int]]:
    """(gunicorn worker pids, PostgreSQL backend pids serving the benchmark database)."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    with psycopg.connect(admin_url, autocommit=True) as conn:
        backends = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (db_name,))]
    return workers, backends


class CpuMeter:
    """CPU seconds used by gunicorn's workers and by PostgreSQL's backends during a phase.

    A figure that depends much less than requests/s on what else the machine is running."""

    def __init__(self, master: int, admin_url: str, db_name: str) -> None:
        self.args = (master, admin_url, db_name)
        self.web = self.db = 0.0

    def __enter__(self) -> "CpuMeter":
        workers, backends = server_pids(*self.args)
        self.before = (cpu_seconds(workers), cpu_seconds(backends))
        return self

    def __exit__(self, *exc) -> None:
        workers, backends = server_pids(*self.args)
        after = (cpu_seconds(workers), cpu_seconds(backends))
        self.web += sum(v - self.before[0].get(k, 0.0) for k, v in after[0].items())
        self.db += sum(v - self.before[1].get(k, 0.0) for k, v in after[1].items())


def count_responses(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM experiments_response").fetchone()[0]


@dataclass
class Target:
    """One database engine under test: its own database, gunicorn and counters."""

    name: str
    admin_url: str
    db_url: str
    db_name: str
    env: dict
    server: subprocess.Popen | None = None
    base: str = ""
    trivial: dict = field(default_factory=lambda: {"latencies": [], "error_samples": []})
    flow: dict = field(default_factory=lambda: {"latencies": [], "error_samples": []})
    meters: dict = field(default_factory=dict)
    stored: int = 0


def system_target(args, var_dir: str, env: dict) -> Target:
    """The PostgreSQL server of --database-url, in a database created (and dropped) for the run."""
    admin_url, db_url = database_urls(args.database_url, args.database_name)
    recreate_database(admin_url, args.database_name)
    return Target("system", admin_url, db_url, args.database_name,
                  {**env, "DATABASE_URL": db_url, "CHORUS_VAR_DIR": var_dir})


def embedded_target(var_dir: str, env: dict) -> Target:
    """The embedded default, exactly as a user gets it: no DATABASE_URL, a fresh CHORUS_VAR_DIR;
    this process holds the server for the run (gunicorn's workers find it) and stops it after."""
    from config.embedded_postgres import DATABASE_NAME, embedded_database_url

    db_url = embedded_database_url(Path(var_dir) / "postgres")
    admin_url, _ = database_urls(db_url, DATABASE_NAME)
    target_env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    return Target("embedded", admin_url, db_url, DATABASE_NAME, {**target_env, "CHORUS_VAR_DIR": var_dir})


def start_server(target: Target, args) -> None:
    print(f"{target.name}: deploying {args.experiment}", flush=True)
    subprocess.run([PYTHON, "manage.py", "deploy"], cwd=ROOT, env=target.env, check=True,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    target.base = f"http://127.0.0.1:{port}"
    gunicorn = str(Path(PYTHON).with_name("gunicorn"))
    target.server = subprocess.Popen(
        [gunicorn, "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--threads", str(args.threads),
         "--log-level", "warning", "--backlog", "2048"],
        cwd=ROOT, env=target.env, start_new_session=True,
    )
    wait_until_up(target.base, target.server)
    target.meters = {kind: CpuMeter(target.server.pid, target.admin_url, target.db_name)
                     for kind in ("healthz", "flow")}


def report(target: Target, duration: float) -> tuple[float, float]:
    """Print one engine's figures; (pages/s, p95 submit latency in s)."""
    trivial, flow = target.trivial, target.flow
    trivial_rate = trivial["ok_in_window"] / duration
    pages_rate = flow["submits_in_window"] / duration
    lat = flow["latencies"]
    p95 = percentile(lat, 95) if lat else float("nan")
    print(f"\n== {target.name} PostgreSQL ==")
    print(f"trivial view /healthz   {trivial_rate:8.0f} requests/s  ({trivial['ok']} ok, "
          f"{trivial['errors']} errors in {duration:g} s)")
    print(f"page flow               {pages_rate:8.0f} pages/s (accepted submits)")
    print(f"                        {flow['participants']} participants started, "
          f"{flow['finished']} finished, {flow['submits']} submits, {flow['errors']} errors "
          f"in {duration:g} s")
    if lat:
        print(f"submit latency          p50 {percentile(lat, 50) * 1000:6.1f} ms   "
              f"p95 {p95 * 1000:6.1f} ms   p99 {percentile(lat, 99) * 1000:6.1f} ms")
    ratio = pages_rate / trivial_rate if trivial_rate else 0.0
    print(f"ratio pages/s : trivial requests/s = {ratio:.0%}  (aim >= 40%)")
    t_cpu, f_cpu = target.meters["healthz"], target.meters["flow"]
    per_trivial = t_cpu.web / max(trivial["ok"], 1) * 1000
    per_request = (f_cpu.web + f_cpu.db) / max(flow["requests"], 1) * 1000
    per_submit = (f_cpu.web + f_cpu.db) / max(flow["submits"], 1) * 1000
    print(f"server CPU per request  /healthz {per_trivial:.2f} ms (web)   page flow "
          f"{f_cpu.web / max(flow['requests'], 1) * 1000:.2f} ms web + "
          f"{f_cpu.db / max(flow['requests'], 1) * 1000:.2f} ms PostgreSQL "
          f"({per_submit:.2f} ms per accepted submit, /start/ and reads included)")
    if per_submit:
        print(f"CPU-bound ratio         {per_trivial / per_submit:.0%}  (pages/s : trivial requests/s "
              f"if the server had the machine to itself; {per_trivial / per_request:.0%} per request)")
    print(f"responses stored        {target.stored}  ("
          f"{'matches' if target.stored == flow['submits'] else 'DIFFERS FROM'} accepted submits)")
    for sample in flow["error_samples"][:5]:
        print("error sample:", sample)
    return pages_rate, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bots", type=int, default=50, help="concurrent bots (threads); default 50")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase; default 15")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="bound on requests per phase; default 200000")
    parser.add_argument("--client-procs", type=int, default=2,
                        help="load-generating processes the bots are spread over; default 2")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the phases this many times; default 3")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers; default 2")
    parser.add_argument("--threads", type=int, default=1,
                        help="gunicorn threads per worker; 1 (default) = sync workers, "
                             "more = gthread workers that overlap database waits")
    parser.add_argument("--experiment", default=str(ROOT / "demos" / "hello_world"))
    parser.add_argument("--engines", default="system,embedded",
                        help="comma-separated, in the same run: system (--database-url) and/or "
                             "embedded (the default without DATABASE_URL); default both")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="the system PostgreSQL server (the database name in it is ignored)")
    parser.add_argument("--database-name", default="chorus_bench_page_flow",
                        help="database created (and dropped) on the system server for the run")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if min(args.bots, args.workers, args.threads, args.client_procs, args.rounds) < 1 \
            or args.duration <= 0:
        parser.error("--bots, --duration, --rounds, --workers, --threads and --client-procs "
                     "must be positive")
    if not engines or set(engines) - {"system", "embedded"} or len(set(engines)) != len(engines):
        parser.error("--engines takes system and/or embedded, e.g. --engines system,embedded")

    env = {**os.environ, "EXPERIMENT": str(Path(args.experiment).resolve()),
           "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false", "LOG_LEVEL": "ERROR"}
    env.pop("REDIS_URL", None)  # the page flow publishes nothing; the embedded broker suffices
    var_dirs = {name: tempfile.mkdtemp(prefix=f"chorus-bench-{name}-") for name in engines}
    targets: list[Target] = []
    try:
        for name in engines:
            targets.append(system_target(args, var_dirs[name], env) if name == "system"
                           else embedded_target(var_dirs[name], env))
            start_server(targets[-1], args)
        print(f"gunicorn: {args.workers} workers x {args.threads} threads per engine; {args.bots} "
              f"bots in {args.client_procs} client processes; {args.duration:g} s per phase and "
              f"engine in {args.rounds} rounds", flush=True)
        for target in targets:
            target.stored = -count_responses(target.db_url)
        # Alternate phases and engines in rounds, so a change in the machine's load during the
        # run (other processes) weighs on every figure alike. The idle server waits meanwhile.
        for _ in range(args.rounds):
            for target in targets:
                for kind, into in (("healthz", target.trivial), ("flow", target.flow)):
                    with target.meters[kind]:
                        out = run_phase(kind, target.base, args.bots, args.client_procs,
                                        args.duration / args.rounds, args.max_requests // args.rounds)
                    merge(into, out)
        for target in targets:
            target.stored += count_responses(target.db_url)
    finally:
        for target in targets:
            if target.server is not None:
                os.killpg(target.server.pid, signal.SIGTERM)
                target.server.wait(timeout=30)
        if "embedded" in var_dirs:
            from config.embedded_postgres import embedded_postgres_stop

            embedded_postgres_stop(Path(var_dirs["embedded"]) / "postgres")
        for var_dir in var_dirs.values():
            shutil.rmtree(var_dir, ignore_errors=True)
        if "system" in engines and not args.keep_database:
            drop_database(database_urls(args.database_url, args.database_name)[0], args.database_name)

    figures = {target.name: report(target, args.duration) for target in targets}
    if len(figures) == 2:
        (s_rate, s_p95), (e_rate, e_p95) = figures["system"], figures["embedded"]
        print("\n== embedded default vs system PostgreSQL (same run) ==")
        print(f"pages/s   embedded {e_rate:.0f} / system {s_rate:.0f} = "
              f"{e_rate / s_rate if s_rate else 0:.2f}x  (aim >= 0.8x)")
        print(f"p95       embedded {e_p95 * 1000:.1f} ms / system {s_p95 * 1000:.1f} ms = "
              f"{e_p95 / s_p95 if s_p95 else 0:.2f}x  (lower is better)")
    if any(t.stored != t.flow["submits"] or t.flow["errors"] or t.trivial["errors"] for t in targets):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
