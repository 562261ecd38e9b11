"""`database_restore`: rebuild an empty (migrated) database from an export or a snapshot.

Everything is checked before the first row is written — format version, paths, checksums,
tables and columns known to this code, every table empty — and the rows go in with
`COPY ... FROM STDIN` in one transaction (foreign keys are checked at commit), sequences reset
after. Any failure rolls the whole restore back: the database is as it was.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from django.core.management.color import no_style
from django.db import connection, transaction

from ..archive import Archive, ArchiveError
from ..dbio import is_postgres, qn
from ..tables import Table, export_tables


class RestoreError(Exception):
    """The restore was refused or failed; the database was not changed."""


@dataclass
class RestoreResult:
    kind: str
    row_counts: dict[str, int]


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


def database_restore(*, path: str | Path) -> RestoreResult:
    """Restore the database/ tables of the archive at `path` into this (empty) database."""
    if not is_postgres():
        raise RestoreError("restore needs PostgreSQL (set DATABASE_URL); the embedded SQLite "
                           "database is for demos")
    try:
        archive = Archive(path)
    except ArchiveError as exc:
        raise RestoreError(str(exc)) from None
    try:
        archive.verify("database/")
        plan = _plan(archive)
        with transaction.atomic():
            with connection.cursor() as cursor:
                for table in export_tables():
                    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {qn(table.name)})")
                    if cursor.fetchone()[0]:
                        raise RestoreError(
                            f"refusing to restore: the database is not empty (table {table.name} "
                            "has rows); restore into a freshly migrated database")
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
        return RestoreResult(kind=str(archive.manifest.get("kind", "export")), row_counts=restored)
    except ArchiveError as exc:
        raise RestoreError(str(exc)) from None
    except RestoreError:
        raise
    except Exception as exc:  # a COPY that PostgreSQL refused: the transaction rolled back
        raise RestoreError(f"restore failed and was rolled back: {exc}") from exc
    finally:
        archive.close()
