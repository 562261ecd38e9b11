"""Exports under load and under failure: a consistent snapshot, nothing half-written at DIR."""

import json
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.db import connection, connections

from exports.archive import Archive
from exports.services import export_create

from .conftest import ROOT, csv_rows, database_url, read_csv, run_bot

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_while_bots_submit_is_one_consistent_snapshot(tmp_path):
    for i in range(6):
        run_bot(worker_id=f"seed{i}", steps=4)
    stop = threading.Event()
    errors: list[BaseException] = []
    submitted = [0]

    def bot_loop(n: int) -> None:
        try:
            i = 0
            while not stop.is_set():
                run_bot(worker_id=f"live{n}-{i}")
                submitted[0] += 1
                i += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bot_loop, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        exports = [export_create(path=tmp_path / f"e{k}").path for k in range(3)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert submitted[0] > 0  # bots really ran alongside

    counts_seen = []
    for root in exports:
        manifest = json.loads((root / "manifest.json").read_text())
        counts = manifest["row_counts"]
        counts_seen.append(counts["experiments_response"])
        for table, n in counts.items():
            assert csv_rows(root / "database" / f"{table}.csv") == n, (root.name, table)
        # Analysis sheets come from the same snapshot as the tables.
        assert csv_rows(root / "data" / "responses.csv") == counts["experiments_response"]
        assert csv_rows(root / "data" / "participants.csv") == counts["experiments_participant"]
        # Each participant row and its responses agree: a submit's Response and the participant's
        # move are one transaction, so the snapshot never holds one without the other.
        participants = read_csv(root / "database" / "experiments_participant.csv")
        responses = read_csv(root / "database" / "experiments_response.csv")
        by_participant: dict[str, list[dict]] = {}
        for r in responses:
            by_participant.setdefault(r["participant_id"], []).append(r)
        for p in participants:
            mine = sorted(by_participant.get(p["id"], []), key=lambda r: int(r["id"]))
            assert p["page_uuid"] not in {r["page_uuid"] for r in mine}
            if mine:
                assert json.loads(p["answer"] or "null") == json.loads(mine[-1]["answer"] or "null")
            else:
                assert p["answer"] == ""
            if p["complete"] == "t":
                assert len(mine) == 10
        assert set(by_participant) <= {p["id"] for p in participants}
    assert counts_seen == sorted(counts_seen)


def _wait_for_lock_wait(dbname: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url(), dbname=dbname, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                [dbname]).fetchone()
            if row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the export never reached the locked table")


def test_killed_export_leaves_nothing_and_keeps_the_previous_export(tmp_path):
    for i in range(3):
        run_bot(worker_id=f"w{i}")
    destination = tmp_path / "study"
    export_create(path=destination)
    before = {p.relative_to(destination): p.read_bytes() for p in destination.rglob("*") if p.is_file()}
    run_bot(worker_id="later")

    dbname = connection.settings_dict["NAME"]
    # Hold a lock on a table the export reads late, so it is stopped midway deterministically:
    # the earlier tables' files are written, the rest are not.
    with psycopg.connect(database_url(), dbname=dbname) as blocker:
        blocker.execute("LOCK TABLE experiments_timelineevent IN ACCESS EXCLUSIVE MODE")
        env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings",
               "EXPERIMENT": str(ROOT / "demos" / "hello_world")}
        process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "export", "--path",
                                    str(destination), "-v", "0"], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_lock_wait(dbname)
            partial = [p for p in tmp_path.iterdir() if p.name.startswith(".study.partial-")]
            assert len(partial) == 1
            written = {p.name: p.stat().st_size for p in (partial[0] / "database").iterdir()}
            assert written["experiments_participant.csv"] > 0
            assert written.get("experiments_timelineevent.csv", 0) == 0  # waiting on the lock
            process.kill()
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
        blocker.rollback()

    after = {p.relative_to(destination): p.read_bytes() for p in destination.rglob("*") if p.is_file()}
    assert after == before  # the earlier export, byte for byte
    Archive(destination).verify()
    # The next export tidies the killed one's leftovers and replaces the earlier export.
    export_create(path=destination)
    assert [p.name for p in tmp_path.iterdir()] == ["study"]
    manifest = json.loads((destination / "manifest.json").read_text())
    assert manifest["row_counts"]["experiments_participant"] == 4


def test_export_interrupted_in_process_cleans_up(tmp_path, monkeypatch):
    run_bot(worker_id="w")
    from exports.services import export as export_module

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "write_logs", explode)
    with pytest.raises(KeyboardInterrupt):
        export_create(path=tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
