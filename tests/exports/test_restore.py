"""restore: round trip into a fresh database, and refusals that leave the database unchanged."""

import filecmp
import json
import shutil
import zipfile

import psycopg
import pytest
from django.db import connection

from exports.services import RestoreError, database_restore, export_create
from tests.processes import database_url

from .conftest import ROOT, manage, run_bot

pytestmark = pytest.mark.django_db(transaction=True)


def _counts() -> dict[str, int]:
    from exports.tables import export_tables

    with connection.cursor() as cursor:
        out = {}
        for table in export_tables():
            cursor.execute(f'SELECT count(*) FROM "{table.name}"')
            out[table.name] = cursor.fetchone()[0]
        return out


@pytest.fixture
def exported(tmp_path):
    for i in range(3):
        run_bot(worker_id=f"w{i}")
    run_bot(worker_id="partial", steps=4)
    return export_create(path=tmp_path / "export").path


@pytest.fixture
def fresh_database():
    """A second, freshly migrated database (restore's real target), dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_fresh"
    admin = psycopg.connect(database_url("postgres"), autocommit=True)  # the test's server
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    migrated = manage("migrate", "-v", "0", env={"DATABASE_URL": url})
    assert migrated.returncode == 0, migrated.stderr
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def empty_database():
    """A new database on the test's PostgreSQL server that was never migrated, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_empty"
    admin = psycopg.connect(database_url("postgres"), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    yield database_url(name)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


def _rows(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def test_restore_migrates_a_database_that_was_never_migrated(exported, empty_database, tmp_path):
    assert _tables(empty_database) == []
    restored = manage("restore", str(exported), env={"DATABASE_URL": empty_database})
    assert restored.returncode == 0, restored.stderr
    assert "migrated it first" in restored.stdout and "Restored" in restored.stdout
    manifest = json.loads((exported / "manifest.json").read_text())
    for table, n in manifest["row_counts"].items():
        assert _rows(empty_database, table) == n, table
    # Fully migrated: nothing left for `migrate` to do, and the database serves the experiment.
    check = manage("migrate", "--check", env={"DATABASE_URL": empty_database})
    assert check.returncode == 0, check.stdout + check.stderr
    again = manage("export", "--path", str(tmp_path / "again"), "-v", "0",
                   env={"DATABASE_URL": empty_database})
    assert again.returncode == 0, again.stderr
    for name in manifest["row_counts"]:
        member = f"database/{name}.csv"
        assert (tmp_path / "again" / member).read_bytes() == (exported / member).read_bytes(), name


def test_restore_of_another_experiment_is_refused_before_anything_changes(exported, empty_database):
    chain = str(ROOT / "demos" / "chain")
    refused = manage("restore", str(exported), env={"DATABASE_URL": empty_database,
                                                    "EXPERIMENT": chain})
    assert refused.returncode == 1
    assert "'Hello world'" in refused.stderr and "'Chain demo" in refused.stderr
    assert "--force" in refused.stderr
    assert _tables(empty_database) == []  # not even migrated
    forced = manage("restore", str(exported), "--force", env={"DATABASE_URL": empty_database,
                                                              "EXPERIMENT": chain})
    assert forced.returncode == 0, forced.stderr
    assert "'Hello world'" in forced.stderr  # the warning says whose data went in
    assert _rows(empty_database, "experiments_participant") == 4


def test_restore_invalid_options_exit_2_and_change_nothing(exported, tmp_path):
    before = _counts()
    for args, expected in [((), "one of the arguments path --latest-snapshot is required"),
                           ((str(exported), "--latest-snapshot"), "not allowed with argument"),
                           ((str(exported), "--bogus"), "unrecognized arguments: --bogus"),
                           ((str(tmp_path / "nowhere"),), "does not exist; give an export folder")]:
        result = manage("restore", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
    assert _counts() == before


def test_round_trip_export_restore_export_gives_identical_database_files(exported, fresh_database, tmp_path):
    restored = manage("restore", str(exported), env={"DATABASE_URL": fresh_database})
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout
    again = manage("export", "--path", str(tmp_path / "again"), "-v", "0",
                   env={"DATABASE_URL": fresh_database})
    assert again.returncode == 0, again.stderr
    names = sorted(p.name for p in (exported / "database").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again" / "database").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(exported / "database", tmp_path / "again" / "database",
                                               names, shallow=False)
    assert mismatch == [] and errors == [] and match == names
    # Sequences were reset: a new participant in the restored database gets a fresh id.
    created = manage("shell", "-c", "from experiments import services; "
                     "print(services.participant_create(worker_id='new').id)",
                     env={"DATABASE_URL": fresh_database})
    assert created.returncode == 0, created.stderr
    exported_ids = [int(line.split(",")[0]) for line in
                    (exported / "database" / "experiments_participant.csv").read_text().splitlines()[1:]]
    assert int(created.stdout.strip().splitlines()[-1]) == max(exported_ids) + 1
    # A second restore into the now non-empty database is refused.
    twice = manage("restore", str(exported), env={"DATABASE_URL": fresh_database})
    assert twice.returncode == 1 and "not empty" in twice.stderr


def test_restore_in_process_after_emptying(exported, tmp_path):
    before = _counts()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE experiments_participant, experiments_deployment CASCADE")
    assert sum(_counts().values()) == 0
    result = database_restore(path=exported)
    assert result.row_counts == before == _counts()
    zipped = export_create(path=tmp_path / "z", zip=True).path
    with zipfile.ZipFile(zipped) as archive:
        for name in archive.namelist():
            if name.startswith("database/"):
                assert archive.read(name) == (exported / name).read_bytes(), name


def _refused(path, match: str) -> None:
    before = _counts()
    with pytest.raises(RestoreError, match=match):
        database_restore(path=path)
    assert _counts() == before


def _emptied() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE experiments_participant, experiments_deployment CASCADE")


def test_restore_refuses_a_non_empty_database(exported):
    _refused(exported, "not empty")


def test_restore_refuses_unknown_format_version(exported):
    _emptied()
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["format_version"] = 99
    (exported / "manifest.json").write_text(json.dumps(manifest))
    _refused(exported, "unknown format version 99")


def test_restore_refuses_tampered_files(exported):
    _emptied()
    path = exported / "database" / "experiments_response.csv"
    path.write_bytes(path.read_bytes().replace(b"Bot", b"Tob"))
    _refused(exported, "checksum mismatch for database/experiments_response.csv")


def test_restore_refuses_unlisted_files_and_unknown_tables(exported, tmp_path):
    _emptied()
    extra = exported / "database" / "auth_user.csv"
    extra.write_text("id,username,password\n1,root,x\n")
    _refused(exported, "not listed in manifest.json")
    extra.unlink()
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["row_counts"]["evil_table"] = 1
    (exported / "manifest.json").write_text(json.dumps(manifest))
    _refused(exported, "table 'evil_table'")


@pytest.mark.parametrize("member", ["../escape.csv", "/etc/passwd", "database/../../x.csv",
                                    "database\\..\\x.csv"])
def test_restore_refuses_traversal_paths_in_zip(exported, tmp_path, member):
    _emptied()
    target = tmp_path / "evil.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(exported.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(exported).as_posix())
        archive.writestr(member, "id\n1\n")
    _refused(target, "leaves the archive|unsafe path")
    assert not (tmp_path.parent / "escape.csv").exists()


def test_restore_refuses_garbage(tmp_path, exported):
    _emptied()
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    _refused(junk, "neither an export folder nor a zip")
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(empty, "no manifest.json")
    _refused(tmp_path / "missing", "does not exist")
    bad_rows = tmp_path / "bad_rows"
    shutil.copytree(exported, bad_rows)
    manifest = json.loads((bad_rows / "manifest.json").read_text())
    manifest["row_counts"]["experiments_participant"] = 999
    (bad_rows / "manifest.json").write_text(json.dumps(manifest))
    _refused(bad_rows, "the manifest says 999")


def test_an_anonymised_export_restores_without_identifiers(exported, tmp_path):
    from experiments.models import Participant

    anonymous = export_create(path=tmp_path / "anon", anonymize=True).path
    before = _counts()
    _emptied()
    database_restore(path=anonymous)
    assert _counts() == before
    assert set(Participant.objects.values_list("worker_id", flat=True)) == {""}
    assert all(len(t) == 64 for t in Participant.objects.values_list("token", flat=True))
