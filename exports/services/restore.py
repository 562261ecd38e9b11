"""`database_restore`: rebuild an empty database from an export or a snapshot.

Everything is checked before the database is touched — format version, paths, checksums,
tables and columns known to this code, the archive belongs to the experiment EXPERIMENT names
(unless forced), every table empty. A database that was never migrated (or has pending
migrations and no data) is then migrated, and the rows go in with `COPY ... FROM STDIN` in one
transaction (foreign keys are checked at commit), sequences reset after. Any failure of the
copy rolls it back: the database holds no restored row (a migration it needed stays applied).

Locks: the transaction's own (the COPY takes each table's ROW EXCLUSIVE lock); two restores
into one database cannot both succeed, since the second finds the tables not empty. Not
idempotent by design: a second restore is refused ("not empty").
"""

import csv
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from experiments.loading import get_experiment

from ..archive import Archive, ArchiveError
from ..dbio import qn
from ..storage import artifact_storage
from ..tables import Table, export_tables
from .snapshot import snapshot_folder


class RestoreError(Exception):
    """The restore was refused or failed; the database was not changed."""


class RestoreOptionError(RestoreError):
    """The command line names nothing restorable (the command exits with status 2)."""


@dataclass
class RestoreResult:
    kind: str
    row_counts: dict[str, int]
    #: The database was migrated first (it was empty and never, or not fully, migrated).
    migrated: bool = False
    #: Where the archive came from (a snapshot's name in artifact storage, or the path).
    source: str = ""
    warnings: list[str] = field(default_factory=list)


def _header(archive: Archive, name: str) -> list[str]:
    with archive.open(name) as stream:
        line = io.TextIOWrapper(stream, encoding="utf-8", newline="").readline()
    return next(csv.reader([line]), [])


def _plan(archive: Archive) -> list[tuple[Table, str, list[str], int]]:
    manifest = archive.manifest
    counts = manifest.get("row_counts")
    if not isinstance(counts, dict):
        raise ArchiveError("refusing archive: the manifest has no row counts")
    known = {t.name: t for t in export_tables()}
    plan = []
    for name, rows in sorted(counts.items()):
        if name not in known:
            raise ArchiveError(
                f"refusing archive: it holds table {name!r}, which this code does not have "
                "(made by a different version of the experiment or of Chorus?)")
        table = known[name]
        member = f"database/{name}.csv"
        columns = _header(archive, member)
        unknown = [c for c in columns if c not in table.columns]
        if unknown or not columns:
            raise ArchiveError(f"refusing archive: {member} has columns {unknown or columns} "
                               f"that table {name} does not have")
        if not isinstance(rows, int) or rows < 0:
            raise ArchiveError(f"refusing archive: bad row count for {name}")
        plan.append((table, member, columns, rows))
    return plan


def _experiment_of(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The experiment an archive's data belongs to: the one that wrote it, else the deployment
    recorded in the database (archives from before the manifest named the experiment)."""
    for key in ("experiment", "deployment"):
        value = manifest.get(key)
        if isinstance(value, dict) and value.get("label"):
            return value
    return None


def _check_experiment(archive: Archive, *, force: bool) -> list[str]:
    """Refuse (unless `force`) an archive of another experiment than EXPERIMENT's."""
    theirs = _experiment_of(archive.manifest)
    try:
        ours = get_experiment()
    except Exception as exc:
        if force:
            return [f"EXPERIMENT did not load ({exc}); restored without checking the experiment"]
        raise RestoreError(
            f"refusing to restore: cannot tell whether {archive.path} belongs to this "
            f"experiment, because EXPERIMENT did not load ({exc}); fix EXPERIMENT, or pass "
            "--force to restore without the check") from None
    if theirs is None:
        return [f"{archive.path} does not say which experiment it belongs to (nothing was "
                "deployed when it was made); restored without checking"]
    if theirs["label"] != ours.label:
        if force:
            return [f"restored data of experiment {theirs['label']!r} into the database of "
                    f"{ours.label!r} (--force)"]
        raise RestoreError(
            f"refusing to restore: {archive.path} holds data of experiment {theirs['label']!r} "
            f"(source hash {str(theirs.get('source_hash', '?'))[:12]}), but EXPERIMENT is "
            f"{ours.label!r} (source hash {ours.source_hash[:12]}); set EXPERIMENT to the folder "
            f"of {theirs['label']!r}, or pass --force to restore it anyway")
    if theirs.get("source_hash") and theirs["source_hash"] != ours.source_hash:
        return [f"{archive.path} was made by another version of {ours.label!r} (source hash "
                f"{theirs['source_hash'][:12]}, now {ours.source_hash[:12]})"]
    return []


def _pending_migrations() -> bool:
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _check_empty(cursor) -> None:
    existing = set(connection.introspection.table_names(cursor))
    for table in export_tables():
        if table.name not in existing:
            continue
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {qn(table.name)})")
        if cursor.fetchone()[0]:
            raise RestoreError(
                f"refusing to restore: the database is not empty (table {table.name} has rows); "
                "restore into a new database (createdb NAME, then DATABASE_URL=... manage.py "
                "restore PATH)")


def database_restore(*, path: str | Path, force: bool = False) -> RestoreResult:
    """Restore the database/ tables of the archive at `path` into this (empty) database.

    A database that was never migrated is migrated first; an archive of another experiment is
    refused unless `force`.
    """
    if connection.in_atomic_block:
        raise RuntimeError("database_restore migrates and commits; call it outside transaction.atomic()")
    if not Path(path).expanduser().exists():
        raise RestoreOptionError(f"{path} does not exist; give an export folder, an export zip "
                                 "or a snapshot zip, or --latest-snapshot")
    try:
        archive = Archive(path)
    except ArchiveError as exc:
        raise RestoreError(str(exc)) from None
    try:
        archive.verify("database/")
        plan = _plan(archive)
        warnings = _check_experiment(archive, force=force)
        with connection.cursor() as cursor:
            _check_empty(cursor)
        migrated = _pending_migrations()
        if migrated:
            call_command("migrate", interactive=False, verbosity=0)
        with transaction.atomic():
            with connection.cursor() as cursor:
                _check_empty(cursor)  # again, inside the transaction
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                restored: dict[str, int] = {}
                raw = cursor.cursor
                for table, member, columns, expected in plan:
                    cols = ", ".join(qn(c) for c in columns)
                    statement = f"COPY {qn(table.name)} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true)"
                    with archive.open(member) as stream, raw.copy(statement) as copy:
                        for chunk in iter(lambda s=stream: s.read(1 << 20), b""):
                            copy.write(chunk)
                    restored[table.name] = raw.rowcount
                    if raw.rowcount != expected:
                        raise RestoreError(f"{member} held {raw.rowcount} rows, the manifest says "
                                           f"{expected}; nothing was restored")
                models = [t.model for t, *_ in plan]
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)
        return RestoreResult(kind=str(archive.manifest.get("kind", "export")), row_counts=restored,
                             migrated=migrated, source=str(path), warnings=warnings)
    except ArchiveError as exc:
        raise RestoreError(str(exc)) from None
    except RestoreError:
        raise
    except Exception as exc:  # a COPY that PostgreSQL refused: the transaction rolled back
        raise RestoreError(f"restore failed and was rolled back: {exc}") from exc
    finally:
        archive.close()


def _newest(names: list[str]) -> str | None:
    zips = sorted(n for n in names if n.endswith(".zip"))
    return zips[-1] if zips else None


def _list(storage, folder: str) -> tuple[list[str], list[str]]:
    try:
        return storage.listdir(folder)
    except FileNotFoundError:  # a local folder that was never written
        return [], []


def snapshot_latest() -> str | None:
    """Name (in artifact storage) of the newest snapshot of the experiment EXPERIMENT names."""
    folder = snapshot_folder(get_experiment().label)
    newest = _newest(_list(artifact_storage(), folder)[1])
    return f"{folder}/{newest}" if newest else None


def _newest_of_any() -> str | None:
    """The newest snapshot of any experiment (names sort by time within a folder only, so
    each folder's newest is compared by the timestamp in its name)."""
    storage = artifact_storage()
    folders, loose = _list(storage, "snapshots")
    candidates = [f"snapshots/{n}" for n in [_newest(loose)] if n]  # from before per-experiment folders
    for folder in folders:
        newest = _newest(_list(storage, f"snapshots/{folder}")[1])
        if newest:
            candidates.append(f"snapshots/{folder}/{newest}")
    return max(candidates, key=lambda name: name.rsplit("/", 1)[-1], default=None)


def snapshot_restore_latest(*, force: bool = False) -> RestoreResult:
    """Restore the newest snapshot of this experiment (EXPERIMENT) from artifact storage.

    When this experiment has none, the newest snapshot of any experiment is what the user
    probably means: it goes through the same experiment check, so it is refused (naming both
    experiments) unless `force`.
    """
    try:
        get_experiment()
    except Exception as exc:  # the experiment's code did not load
        if not force:
            raise RestoreError(f"refusing --latest-snapshot: EXPERIMENT did not load ({exc}), so "
                               "it is unknown whose snapshot to restore; fix EXPERIMENT, or pass "
                               "--force to restore the newest snapshot of any experiment") from None
        name = None
    else:
        name = snapshot_latest()
    note = ""
    if name is None:
        name = _newest_of_any()
        if name is not None and not force:
            note = (f"this experiment has no snapshot yet (none under "
                    f"{snapshot_folder(get_experiment().label)}/); the newest snapshot is ")
    if name is None:
        raise RestoreError("there is no snapshot in artifact storage (snapshots are taken every "
                           "SNAPSHOT_INTERVAL seconds while the study runs, or by "
                           "`manage.py snapshot`)")
    with tempfile.TemporaryDirectory(prefix="chorus-restore-") as tmp:
        local = Path(tmp) / "snapshot.zip"
        with artifact_storage().open(name, "rb") as remote, open(local, "wb") as out:
            for chunk in iter(lambda: remote.read(1 << 20), b""):
                out.write(chunk)
        try:
            result = database_restore(path=local, force=force)
        except RestoreError as exc:
            raise RestoreError(f"{note}{name}: {exc}".replace(str(local), "the snapshot")) from None
    result.source = name
    return result
