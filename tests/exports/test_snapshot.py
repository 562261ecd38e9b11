"""Snapshots: written when data changed, nearly free when not, last K kept, restorable."""

import zipfile

import pytest
from django.db import connection

from experiments.locks import Space, lock_key
from exports.archive import Archive
from exports.models import Snapshot
from exports.services import database_restore, snapshot_take

from .conftest import ROOT, database_url, run_bot

pytestmark = pytest.mark.django_db(transaction=True)


def _flush_stats() -> None:
    # Statistics counters reach pg_stat_user_tables when a backend flushes them (within ~1-10 s
    # in production); tests ask for it now instead of sleeping.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")


def test_snapshot_only_when_changed_and_cheap_otherwise(artifacts, django_assert_max_num_queries, settings):
    settings.SNAPSHOT_KEEP = 2
    run_bot(worker_id="w1")
    first = snapshot_take()
    assert first is not None
    assert (artifacts / first.artifact).is_file()
    with zipfile.ZipFile(artifacts / first.artifact) as archive:
        names = set(archive.namelist())
    assert "manifest.json" in names and "database/experiments_response.csv" in names
    assert not any(n.startswith(("data/", "source/")) for n in names)

    with django_assert_max_num_queries(1):
        assert snapshot_take() is None  # nothing changed: one query

    run_bot(worker_id="w2", steps=2)  # inserts: max ids move at once
    second = snapshot_take()
    assert second is not None and second.row_counts["experiments_participant"] == 2

    # An update alone (no insert) is seen through the table statistics.
    from experiments.models import Participant

    Participant.objects.filter(worker_id="w2").update(status="approved")
    _flush_stats()
    third = snapshot_take()
    assert third is not None
    assert Snapshot.objects.count() == 2  # SNAPSHOT_KEEP
    assert not (artifacts / first.artifact).exists()
    assert snapshot_take() is None


def test_snapshot_is_skipped_while_another_holds_the_lock(artifacts):
    import psycopg

    run_bot(worker_id="w1")
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [Space.SNAPSHOT, lock_key("")])
        assert snapshot_take(force=True) is None
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [Space.SNAPSHOT, lock_key("")])
    assert snapshot_take(force=True) is not None


def test_snapshot_restores(artifacts):
    for i in range(2):
        run_bot(worker_id=f"w{i}")
    snapshot = snapshot_take()
    path = artifacts / snapshot.artifact
    Archive(path).verify()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE experiments_participant, experiments_deployment CASCADE")
    result = database_restore(path=path)
    assert result.kind == "snapshot"
    assert result.row_counts["experiments_response"] == 20


def test_snapshot_task_runs_the_service(artifacts):
    from exports.tasks import snapshot_take as task

    run_bot(worker_id="w")
    assert task.apply().get() is True
    assert task.apply().get() is False


def test_snapshots_go_to_s3_and_restore_from_there(s3_artifacts, settings, tmp_path):
    client, bucket = s3_artifacts
    settings.SNAPSHOT_KEEP = 1
    run_bot(worker_id="w1")
    first = snapshot_take()
    run_bot(worker_id="w2", steps=3)
    second = snapshot_take()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == [f"artifacts/{second.artifact}"]  # the older one was pruned
    assert first.artifact != second.artifact
    body = client.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    (tmp_path / "s.zip").write_bytes(body)
    Archive(tmp_path / "s.zip").verify()

    from django.core.management import call_command

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE experiments_participant, experiments_deployment CASCADE")
    call_command("restore", "--latest-snapshot")
    from experiments.models import Participant, Response

    assert Participant.objects.count() == 2 and Response.objects.count() == 13


def _counts() -> dict[str, int]:
    from exports.tables import export_tables

    out = {}
    with connection.cursor() as cursor:
        for table in export_tables():
            cursor.execute(f'SELECT count(*) FROM "{table.name}"')
            out[table.name] = cursor.fetchone()[0]
    return out


def _emptied() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE experiments_participant, experiments_deployment CASCADE")


def test_snapshots_are_kept_per_experiment_and_restore_refuses_another_experiments(
        artifacts, use_experiment):
    from django.core.management import CommandError, call_command

    from exports.services import snapshot_restore_latest
    from exports.services.snapshot import snapshot_folder

    hello, chain = ROOT / "demos" / "hello_world", ROOT / "demos" / "chain"
    use_experiment(hello)
    for i in range(2):
        run_bot(worker_id=f"a{i}")
    of_a = snapshot_take()
    assert of_a.artifact.startswith(snapshot_folder("Hello world") + "/")
    manifest = Archive(artifacts / of_a.artifact).manifest
    assert manifest["experiment"]["label"] == "Hello world"
    assert len(manifest["experiment"]["source_hash"]) == 64
    taken = _counts()

    # Experiment B (no snapshot of its own yet): A's newest snapshot is refused, nothing changes.
    use_experiment(chain)
    _emptied()
    with pytest.raises(CommandError) as refused:
        call_command("restore", "--latest-snapshot")
    message = str(refused.value)
    assert "'Hello world'" in message and "'Chain demo: serial reproduction of numbers'" in message
    assert "--force" in message
    assert sum(_counts().values()) == 0

    # B's own snapshot lands in B's folder; A's latest is still A's, though B's is newer.
    of_b = snapshot_take(force=True)
    assert of_b.artifact.startswith(snapshot_folder("Chain demo: serial reproduction of numbers") + "/")
    assert Archive(artifacts / of_b.artifact).manifest["experiment"]["label"].startswith("Chain demo")
    use_experiment(hello)
    result = snapshot_restore_latest()
    assert result.source == of_a.artifact and _counts() == taken

    # With --force, B restores A's snapshot (B's own removed, so A's is the only one left).
    _emptied()
    artifacts.joinpath(of_b.artifact).unlink()
    use_experiment(chain)
    call_command("restore", "--latest-snapshot", "--force")
    assert _counts() == taken
