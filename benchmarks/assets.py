"""Asset figures, each with a baseline measured in the same run.

1. Submit latency of a response carrying a 5 MB recording (gunicorn, real Celery worker)
   with a store that answers in ~1 ms vs one that takes 2 s per upload: about equal, because
   the deposit is asynchronous.
2. Deposit throughput of 200 x 1 MB files through the workers into S3 (moto's server on
   127.0.0.1) vs plain boto3 `upload_file` of the same files, one after the other.
3. Redeploy of 1,000 unchanged cached assets: uploads (must be 0), requests to the store, seconds,
   vs checking each file with its own request.

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; defaults: database chorus_assets_bench,
Redis db 6). Run: `python benchmarks/assets.py [--submits 20] [--files 200] [--cached 1000]`.
"""

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXPERIMENTS = ROOT / "benchmarks" / "experiments"
BUCKET = f"chorus-bench-{secrets.token_hex(4)}"

sys.path.insert(0, str(ROOT))
from scripts.localhost import free_port, tool, wait_for_port  # noqa: E402


def setup_environment(args) -> Path:
    var = Path(tempfile.mkdtemp(prefix="chorus-bench-"))
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chorus_assets_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings", "CHORUS_VAR_DIR": str(var),
        "ASSET_INBOX_DIR": str(var / "inbox"), "ASSET_LOCAL_ROOT": str(var / "storage"),
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "BENCH_BUCKET": BUCKET,
        "BENCH_TONES": str(args.cached), "EXPERIMENT": str(EXPERIMENTS / "assets_submit"),
    })
    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True)
    return var


class Processes:
    def __init__(self, var: Path) -> None:
        self.var, self.running = var, []

    def start(self, name: str, cmd: list[str], env: dict[str, str], ready: str | int) -> subprocess.Popen:
        log = open(self.var / f"{name}.log", "wb")
        process = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(process)
        if isinstance(ready, int):
            wait_for_port(ready, timeout=30)
        else:
            deadline = time.monotonic() + 60
            while ready.encode() not in (self.var / f"{name}.log").read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.var / f"{name}.log").read_text()[-2000:])
                time.sleep(0.1)
        return process

    def worker(self, name: str, experiment: str, concurrency: int, pool: str = "prefork",
               **env: str) -> subprocess.Popen:
        return self.start(name, [*tool("celery"), "-A", "config", "worker", "-l", "info",
                                 "--concurrency", str(concurrency), "--pool", pool, "--without-gossip",
                                 "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h"],
                          {"EXPERIMENT": str(EXPERIMENTS / experiment), **env}, " ready.")

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            process.wait(30)
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its children (from /proc), to show where time goes."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-g", str(pid)], capture_output=True,
                                                    text=True).stdout.split() if int(p) != pid]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def wav_of_size(path: Path, size: int) -> None:
    import numpy as np

    rate = 44100
    samples = (np.random.default_rng(1).standard_normal(size // 2) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def submit_latencies(base: str, recording: bytes, n: int) -> list[float]:
    import requests

    times = []
    session = requests.Session()
    for i in range(n):
        start = session.get(f"{base}/start/?worker_id=bench-{secrets.token_hex(4)}-{i}", timeout=30)
        token = start.url.rstrip("/").rsplit("/", 1)[1]
        page = session.get(f"{base}/api/p/{token}/page", timeout=30).json()
        payload = f'{{"page_uuid": "{page["page_uuid"]}", "answer": {{"duration_sec": 59}}}}'
        began = time.perf_counter()
        response = session.post(f"{base}/api/p/{token}/response", data={"payload": payload},
                                files={"audio": ("audio", recording, "audio/wav")}, timeout=60)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
    return times


def figure_submit(procs: Processes, var: Path, n: int) -> dict:
    from django.db import connection

    from assets.models import Asset

    Asset.objects.all().delete()
    recording_path = var / "recording.wav"
    wav_of_size(recording_path, 5 * 1024 * 1024)
    recording = recording_path.read_bytes()
    port = free_port()
    web = procs.start("web", [*tool("gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"],
                      {"EXPERIMENT": str(EXPERIMENTS / "assets_submit")}, port)
    base = f"http://127.0.0.1:{port}"
    stores = (("fast store (1 ms)", "0.001"), ("slow store (2 s)", "2.0"))
    times: dict[str, list[float]] = {label: [] for label, _ in stores}
    rounds = 3  # alternate the stores so background load on the machine hits both alike
    for round_ in range(rounds):
        for label, delay in stores:
            worker = procs.worker(f"worker-{round_}-{delay}", "assets_submit", 1, BENCH_STORE_DELAY=delay)
            submit_latencies(base, recording, 1)  # warm up
            times[label] += submit_latencies(base, recording, max(1, n // rounds))
            procs.stop(worker)
    results = {}
    for label, _ in stores:
        values = sorted(times[label])
        results[label] = {"submits": len(values), "median_ms": statistics.median(values) * 1000,
                          "p90_ms": values[int(0.9 * (len(values) - 1))] * 1000}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM assets_asset WHERE kind = 'recording'")
        results["recordings accepted (all kept)"] = cursor.fetchone()[0]
    procs.stop(web)
    fast, slow = results["fast store (1 ms)"], results["slow store (2 s)"]
    results["ratio slow/fast (median)"] = slow["median_ms"] / fast["median_ms"]
    return results


def figure_throughput(procs: Processes, var: Path, n: int, endpoint: str, concurrency: int,
                      pool: str, rounds: int = 3) -> dict:
    """Alternate baseline and pipeline `rounds` times (fresh random files each time, so nothing
    is deduplicated) so the machine's background load hits both alike; report medians."""
    import boto3
    from django.db import transaction
    from django.test import override_settings

    from assets.kinds import ExperimentAsset
    from assets.models import Asset

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
    worker = procs.worker("worker-s3", "assets_s3", concurrency, pool, AWS_S3_ENDPOINT_URL=endpoint)
    moto = procs.moto
    with override_settings(EXPERIMENT=str(EXPERIMENTS / "assets_s3"), AWS_S3_ENDPOINT_URL=endpoint):
        warm = var / "warm"  # every worker process makes its S3 client once: not part of the figure
        warm.mkdir()
        ids = []
        for i in range(4 * concurrency):
            (warm / f"w{i}").write_bytes(os.urandom(1024))
            ids.append(ExperimentAsset(local_key=f"w{i}", input_path=warm / f"w{i}").deposit(async_=True).pk)
        while Asset.objects.filter(pk__in=ids, status="deposited").count() < len(ids):
            time.sleep(0.05)
    rows = []
    for round_ in range(rounds):
        files = var / f"files-{round_}"
        files.mkdir()
        paths = []
        for i in range(n):
            path = files / f"file{i}.bin"
            path.write_bytes(os.urandom(1024 * 1024))
            paths.append(path)
        moto_cpu, own_cpu = cpu_seconds(moto.pid), time.process_time()
        began = time.perf_counter()
        for i, path in enumerate(paths):
            client.upload_file(str(path), BUCKET, f"baseline/{round_}/file{i}.bin")
        baseline = time.perf_counter() - began
        baseline_cpu = cpu_seconds(moto.pid) - moto_cpu + time.process_time() - own_cpu

        with override_settings(EXPERIMENT=str(EXPERIMENTS / "assets_s3"), AWS_S3_ENDPOINT_URL=endpoint):
            moto_cpu, worker_cpu = cpu_seconds(moto.pid), cpu_seconds(worker.pid)
            began = time.perf_counter()
            with transaction.atomic():  # staged durably, committed, published to the workers at commit
                ids = [ExperimentAsset(local_key=f"f{i}", input_path=path, extension=".bin")
                       .deposit(async_=True).pk for i, path in enumerate(paths)]
                staged = time.perf_counter()
            while Asset.objects.filter(pk__in=ids, status="deposited").count() < n:
                if Asset.objects.filter(pk__in=ids, status="failed").exists():
                    raise RuntimeError("a deposit failed")
                time.sleep(0.05)
            done = time.perf_counter()
            pipeline_cpu = cpu_seconds(moto.pid) - moto_cpu + cpu_seconds(worker.pid) - worker_cpu
        rows.append({"baseline": baseline, "workers": done - staged, "end_to_end": done - began,
                     "staging": staged - began, "baseline_cpu": baseline_cpu,
                     "pipeline_cpu": pipeline_cpu, "load": os.getloadavg()[0]})
        print(f"    round {round_ + 1}: baseline {n / baseline:.1f} MB/s, workers {n / (done - staged):.1f} MB/s, "
              f"end to end {n / (done - began):.1f} MB/s (load {rows[-1]['load']:.1f})", flush=True)
    procs.stop(worker)
    med = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    return {
        "baseline boto3 upload_file, one after the other (MB/s, median)": n / med["baseline"],
        "pipeline, workers: commit -> all deposited (MB/s, median)": n / med["workers"],
        "pipeline, end to end incl. durable staging (MB/s, median)": n / med["end_to_end"],
        "ratio workers/baseline (median of rounds)": statistics.median(r["baseline"] / r["workers"] for r in rows),
        "ratio end-to-end/baseline (median of rounds)": statistics.median(
            r["baseline"] / r["end_to_end"] for r in rows),
        "staging seconds (median)": med["staging"],
        "CPU seconds per round: baseline (client+moto)": med["baseline_cpu"],
        "CPU seconds per round: pipeline (workers+moto; PostgreSQL, Redis not counted)": med["pipeline_cpu"],
        "worker pool": f"{pool} x {concurrency}",
    }


def figure_redeploy(n: int, endpoint: str) -> dict:
    from django.test import override_settings

    from assets.models import Asset
    from assets.services import assets_deploy
    from experiments.loading import get_experiment

    with override_settings(EXPERIMENT=str(EXPERIMENTS / "assets_s3"), AWS_S3_ENDPOINT_URL=endpoint):
        experiment = get_experiment()
        storage = experiment.asset_storage
        Asset.objects.all().delete()
        first = assets_deploy(experiment=experiment, mode="local")
        assert first.uploaded == n, first
        Asset.objects.all().delete()  # a fresh deployment database, same store
        began = time.perf_counter()
        second = assets_deploy(experiment=experiment, mode="local")
        redeploy = time.perf_counter() - began
        keys = list(Asset.objects.values_list("storage_key", flat=True))
        before = storage.requests
        began = time.perf_counter()
        assert all(storage.exists(key) for key in keys)
        per_file = time.perf_counter() - began
        per_file_requests = storage.requests - before
    return {
        "first deploy: uploaded": first.uploaded, "first deploy seconds": first.seconds,
        "redeploy: uploads": second.uploaded, "redeploy: already stored": second.already_stored,
        "redeploy: requests to the store": second.store_requests,
        "redeploy: seconds (register + listing)": redeploy,
        "baseline: one HEAD per file, requests": per_file_requests,
        "baseline: one HEAD per file, seconds (check only)": per_file,
    }


def show(figures: dict) -> None:
    for key, value in figures.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items())
        print(f"  {key}: {value:.2f}" if isinstance(value, float) else f"  {key}: {value}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submits", type=int, default=20)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--cached", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="worker processes for figure 2")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads"])
    parser.add_argument("--only", type=int, choices=[1, 2, 3], help="measure one figure")
    args = parser.parse_args()
    var = setup_environment(args)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    procs = Processes(var)
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    moto_port = free_port()
    procs.moto = procs.start("moto", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)], {}, moto_port)
    endpoint = f"http://127.0.0.1:{moto_port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket=BUCKET)
    try:
        if args.only in (None, 1):
            print(f"== 1. submit latency, 5 MB recording, {args.submits} submits per store ==", flush=True)
            show(figure_submit(procs, var, args.submits))
        if args.only in (None, 2):
            print(f"== 2. deposit throughput, {args.files} x 1 MB into S3 (moto) ==", flush=True)
            show(figure_throughput(procs, var, args.files, endpoint, args.concurrency, args.pool))
        if args.only in (None, 3):
            print(f"== 3. redeploy of {args.cached} unchanged cached assets ==", flush=True)
            show(figure_redeploy(args.cached, endpoint))
    finally:
        procs.stop_all()
        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
