"""CSV cells that spreadsheets would run as formulas (`=`, `+`, `-`, `@`, tab, CR first).

Analysis files (data/, participant_identifiers.csv, basic data as CSV) are opened in
spreadsheets, so such cells get a leading apostrophe — unless the cell is a plain number, so
negative numbers stay numbers. database/ files are never altered: they must restore byte-exact.
"""

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")

#: The same rule in SQL, for columns written by PostgreSQL's COPY. `{v}` is the text expression.
SQL_NUMBER = r"'^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$'"
SQL_NEUTRALISE = (
    # ascii() of the first character (=, +, -, @, tab, CR): no string is allocated per cell.
    "CASE WHEN ascii({v}) IN (61, 43, 45, 64, 9, 13) AND {v} !~ " + SQL_NUMBER
    + " THEN '''' || {v} ELSE {v} END"
)


def neutralise(value: str) -> str:
    if value and value.startswith(FORMULA_STARTS) and not _NUMBER.match(value):
        return "'" + value
    return value


def sql_neutralise(expression: str) -> str:
    """Wrap a SQL text expression so its result is neutralised like `neutralise()`."""
    return SQL_NEUTRALISE.format(v=f"({expression})")


def cell(value: Any) -> str:
    """A Python value as an analysis-file cell."""
    kind = type(value)
    if kind is str:
        return neutralise(value)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)  # a number is never a formula
    return neutralise(str(value))


def write_rows(stream: IO[str], header: list[str], rows: Iterable[Iterable[Any]]) -> int:
    """Write a header and rows with every cell made safe; returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([neutralise(h) for h in header])
    n = 0
    for row in rows:
        writer.writerow([cell(v) for v in row])
        n += 1
    return n
