"""Low-level reads for exports: one consistent snapshot, COPY streamed to files.

Everything an export reads happens in one `REPEATABLE READ READ ONLY` transaction, so all files
describe the same instant while participants keep submitting; tables are streamed with
`COPY ... TO STDOUT` (psycopg 3 `cursor.copy`), never loaded into memory. Reads only: no locks
taken, nothing written, so any number of exports may run at once.
"""

import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from django.db import connection

from .tables import Table, blank_value, field_for_column, identifier_rule

#: Session settings that make COPY output identical from run to run (and after a restore).
PG_SESSION = [
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL IntervalStyle = 'postgres'",
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL bytea_output = 'hex'",
]
_cursor_ids = itertools.count()


def qn(name: str) -> str:
    return connection.ops.quote_name(name)


@contextmanager
def read_snapshot() -> Iterator[Any]:
    """A cursor inside one read-only, repeatable-read transaction on the default connection."""
    if connection.in_atomic_block:
        raise RuntimeError("an export reads its own snapshot; call it outside transaction.atomic()")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        begin_snapshot(cursor)
        try:
            yield cursor
        finally:
            cursor.execute("ROLLBACK")


class HashingWriter(io.BufferedIOBase):
    """A binary file wrapper that keeps the sha256 and size of what went through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.sha256.update(data)
        self.size += len(data)
        return self.stream.write(data)

    @property
    def hexdigest(self) -> str:
        return self.sha256.hexdigest()


def copy_to(cursor, sql: str, params: list | tuple | None, out: HashingWriter) -> int:
    """Stream `COPY (sql) TO STDOUT (FORMAT csv, HEADER)` into `out`; returns the row count."""
    statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)"
    raw = getattr(cursor, "cursor", cursor)
    with raw.copy(statement, params or None) as copy:
        for chunk in copy:
            out.write(chunk)
    return raw.rowcount


def begin_snapshot(cursor, snapshot_id: str | None = None) -> None:
    """Start the export's read-only repeatable-read transaction on `cursor`'s connection;
    with `snapshot_id` (from pg_export_snapshot()) it sees exactly what that transaction sees."""
    cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    if snapshot_id:
        cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot_id])
    for statement in PG_SESSION:
        cursor.execute(statement)


def fetch_batches(sql: str, params: list | tuple | None = None,
                  size: int = 5000) -> Iterator[list[tuple]]:
    """Rows of a query in batches through a server-side cursor, without holding the whole result."""
    raw = connection.connection
    with raw.cursor(name=f"chorus_export_{next(_cursor_ids)}") as server_cursor:
        server_cursor.itersize = size
        server_cursor.execute(sql, params or None)
        while True:
            rows = server_cursor.fetchmany(size)
            if not rows:
                return
            yield rows


# --- database/ tables ---------------------------------------------------------------------------

def table_select(table: Table, *, anonymize: bool) -> tuple[str, list]:
    """SELECT of a whole table in primary-key order; identifiers replaced when anonymising."""
    parts: list[str] = []
    params: list = []
    for column in table.columns:
        rule = identifier_rule(table.model, column) if anonymize else None
        if rule is None:
            parts.append(qn(column))
        elif rule == "hash":
            parts.append(f"encode(sha256(convert_to({qn(column)}::text, 'UTF8')), 'hex') AS {qn(column)}")
        else:
            field = field_for_column(table.model, column)
            value = blank_value(field)
            if value is None:
                parts.append(f"NULL AS {qn(column)}")
            else:
                db_type = field.db_type(connection)
                literal = _json_text(value) if not isinstance(value, str) else value
                cast = f"::{db_type}" if db_type else ""
                parts.append(f"%s{cast} AS {qn(column)}")
                params.append(literal)
    sql = f"SELECT {', '.join(parts)} FROM {qn(table.name)} ORDER BY {qn(table.pk)}"
    return sql, params


def _json_text(value: Any) -> str:
    return json.dumps(value)
