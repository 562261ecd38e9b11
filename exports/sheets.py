"""Analysis sheets: the data/*.csv files, one small declaration per table.

THE REGISTRY IS `SHEETS` BELOW. A sheet names a model by label; when that model does not exist
(its app has not landed yet) the sheet is simply skipped, so declarations for trials, nodes,
networks, assets and sync groups sit here already and start producing files the day their
models arrive. To add one: append `Sheet("name", "app.Model", unpack=(json fields...))`.

What a sheet does with its model, generically:
- every concrete column, minus `exclude` and minus identifiers (those live only in
  participant_identifiers.csv); foreign keys appear as `<name>_id`;
- JSON columns hold the value itself when it is a scalar, JSON text otherwise; each field in
  `unpack` also gets one `<field>.<key>` column per top-level key found in the data;
- `split_by` also writes one file per value of that column under data/<name>/ (trials per
  trial maker), each unpacking only the keys its rows use;
- every text cell is neutralised against spreadsheet formulas.
The whole sheet is one `COPY (SELECT ...)` computed by the server (`part_sql`).
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models

from .csvsafe import sql_neutralise
from .dbio import qn
from .tables import is_identifier

#: A JSON field with more distinct top-level keys than this is left packed (one JSON column).
MAX_UNPACKED_KEYS = 200


@dataclass(frozen=True)
class Sheet:
    name: str
    model: str
    exclude: tuple[str, ...] = ()
    unpack: tuple[str, ...] = ()
    split_by: str | None = None
    #: Only these columns, in this order (default: all concrete columns).
    columns: tuple[str, ...] | None = None
    rename: dict[str, str] = field(default_factory=dict)
    #: participant_identifiers.csv is the one sheet that keeps identifier columns.
    identifiers: bool = False
    #: Where the file goes, relative to the export root.
    folder: str = "data"


SHEETS: list[Sheet] = [
    Sheet("participants", "experiments.Participant", unpack=("vars",),
          exclude=("token", "timeline_state", "page_uuid", "position", "page_started_at")),
    Sheet("responses", "experiments.Response", unpack=("answer",)),
    Sheet("module_states", "experiments.ModuleState", unpack=("vars",)),
    # Skipped until the Trials, Assets and Sync models exist (check the labels when they land).
    Sheet("trials", "trials.Trial", unpack=("definition", "answer", "vars"),
          split_by="trial_maker_id"),
    Sheet("nodes", "trials.Node", unpack=("definition", "vars"), split_by="trial_maker_id"),
    Sheet("networks", "trials.Network", unpack=("vars",), split_by="trial_maker_id"),
    Sheet("assets", "assets.Asset", unpack=("variables",)),
    Sheet("sync_groups", "sync.SyncGroup", unpack=("vars",)),
]

IDENTIFIERS_SHEET = Sheet(
    "participant_identifiers", "experiments.Participant", identifiers=True, folder="",
    columns=("id", "worker_id", "assignment_id", "recruiter", "entry_params", "user_agent",
             "ip_address"),
    rename={"id": "participant_id"},
)


@dataclass(frozen=True)
class Column:
    header: str
    source: str  # db column
    kind: str  # "plain" | "bool" | "text" | "json" | "key"
    key: str | None = None


@dataclass
class SheetPart:
    """One file of a sheet: the whole table, or the rows with one value of `split_by`."""

    path: str
    sheet: Sheet
    model: type[models.Model]
    columns: list[Column]
    where: tuple[str, Any] | None = None


def sheet_model(sheet: Sheet) -> type[models.Model] | None:
    try:
        return apps.get_model(sheet.model)
    except (LookupError, ValueError):
        return None


def _fields(sheet: Sheet, model: type[models.Model]) -> list[models.Field]:
    concrete = {f.column: f for f in model._meta.concrete_fields}
    names = sheet.columns or tuple(concrete)
    chosen = []
    for name in names:
        f = concrete.get(name) or concrete.get(f"{name}_id")
        if f is None or f.column in sheet.exclude or f.name in sheet.exclude:
            continue
        if not sheet.identifiers and is_identifier(model, f.column):
            continue
        chosen.append(f)
    return chosen


def _kind(f: models.Field) -> str:
    if isinstance(f, models.JSONField):
        return "json"
    if isinstance(f, models.BooleanField):
        return "bool"
    if isinstance(f, (models.CharField, models.TextField, models.GenericIPAddressField)) \
            and not f.is_relation:
        return "text"
    return "plain"


def _where_sql(where: tuple[str, Any] | None) -> tuple[str, list]:
    if where is None:
        return "", []
    column, value = where
    if value is None:
        return f" WHERE {qn(column)} IS NULL", []
    return f" WHERE {qn(column)} = %s", [value]


def _json_keys(cursor, model, column: str, where) -> list[str] | None:
    """Top-level keys of a JSON column's object values, or None when there are too many."""
    table = qn(model._meta.db_table)
    where_sql, params = _where_sql(where)
    cond = f"jsonb_typeof({qn(column)}) = 'object'"
    where_sql = f"{where_sql} AND {cond}" if where_sql else f" WHERE {cond}"
    cursor.execute(
        f"SELECT DISTINCT jsonb_object_keys({qn(column)}) FROM {table}{where_sql} "
        f"LIMIT {MAX_UNPACKED_KEYS + 1}", params)
    keys = {row[0] for row in cursor.fetchall()}
    return None if len(keys) > MAX_UNPACKED_KEYS else sorted(keys)


def _columns(sheet: Sheet, model, cursor, where) -> list[Column]:
    columns: list[Column] = []
    unpack = set(sheet.unpack)
    for f in _fields(sheet, model):
        header = sheet.rename.get(f.column, f.column)
        kind = _kind(f)
        columns.append(Column(header, f.column, kind))
        if kind == "json" and f.name in unpack:
            for key in _json_keys(cursor, model, f.column, where) or []:
                columns.append(Column(f"{header}.{key}", f.column, "key", key))
    return columns


def _safe_filename(value: Any) -> str:
    text = "none" if value is None else str(value)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")[:100] or "blank"


def sheet_parts(sheet: Sheet, cursor) -> list[SheetPart]:
    """The files a sheet produces ([] when its model does not exist)."""
    model = sheet_model(sheet)
    if model is None:
        return []
    prefix = f"{sheet.folder}/" if sheet.folder else ""
    parts = [SheetPart(f"{prefix}{sheet.name}.csv", sheet, model, _columns(sheet, model, cursor, None))]
    if sheet.split_by:
        split = next((f for f in model._meta.concrete_fields
                      if sheet.split_by in (f.name, f.column)), None)
        if split is not None:
            cursor.execute(f"SELECT DISTINCT {qn(split.column)} FROM {qn(model._meta.db_table)} "
                           f"ORDER BY 1")
            seen: set[str] = set()
            for (value,) in cursor.fetchall():
                name = _safe_filename(value)
                while name in seen:
                    name += "_"
                seen.add(name)
                where = (split.column, value)
                parts.append(SheetPart(f"{prefix}{sheet.name}/{name}.csv", sheet, model,
                                       _columns(sheet, model, cursor, where), where))
    return parts


def part_sql(part: SheetPart) -> tuple[str, list]:
    """The SELECT computing a part's cells (COPY runs it).

    The inner query extracts each value once (OFFSET 0 keeps PostgreSQL from folding it into
    the outer one, which names each value several times to neutralise it).
    """
    inner: list[str] = []
    outer: list[str] = []
    params: list = []
    for i, c in enumerate(part.columns):
        col, alias = qn(c.source), f"c{i}"
        if c.kind == "plain":
            inner.append(f"{col} AS {alias}")
            outer.append(f"{alias} AS {qn(c.header)}")
            continue
        if c.kind == "bool":
            inner.append(f"{col}::text AS {alias}")
            outer.append(f"{alias} AS {qn(c.header)}")
            continue
        if c.kind == "text":
            inner.append(f"{col}::text AS {alias}")
        elif c.kind == "json":
            inner.append(f"{col} #>> '{{}}' AS {alias}")
        else:
            inner.append(f"{col} ->> %s::text AS {alias}")
            params.append(c.key)
        outer.append(f"{sql_neutralise(alias)} AS {qn(c.header)}")
    where_sql, where_params = _where_sql(part.where)
    params.extend(where_params)
    pk = qn(part.model._meta.pk.column)
    sql = (f"SELECT {', '.join(outer)} FROM (SELECT {pk} AS chorus_pk, {', '.join(inner)} "
           f"FROM {qn(part.model._meta.db_table)}{where_sql} ORDER BY {pk} OFFSET 0) AS cells "
           "ORDER BY chorus_pk")
    return sql, params
