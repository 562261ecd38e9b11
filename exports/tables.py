"""Which tables an export holds, and how each column is written (raw or anonymised).

Tables are discovered, not listed: every concrete model of every project app (an app whose code
lives in this repository, so Django's own and third-party apps are left out) is exported,
including many-to-many tables. A new app or model is therefore included without touching this
module. The exports app's own bookkeeping (jobs, snapshots) is left out: it describes exports,
not the experiment, and snapshotting it would make every snapshot differ from the last.
"""

import functools
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import models

#: Column names that identify a person wherever they appear, in any table.
IDENTIFIER_NAMES = frozenset({"worker_id", "assignment_id", "ip_address", "user_agent"})

#: Per-model extra columns that identify a person (or could be joined to a recruiter's records).
#: "hash" replaces the value by its sha256 (keeps uniqueness, so the file still restores);
#: "blank" by NULL, or the field's empty default when the column is NOT NULL.
EXTRA_IDENTIFIERS: dict[str, dict[str, str]] = {
    "experiments.Participant": {"token": "hash", "entry_params": "blank"},
}

#: App labels whose tables are not exported.
EXCLUDED_APPS = frozenset({"exports"})


@dataclass(frozen=True)
class Table:
    model: type[models.Model]
    name: str  # db_table
    columns: tuple[str, ...]  # db column names, in model order
    pk: str

    @property
    def label(self) -> str:
        return self.model._meta.label


def _project_app(app_config) -> bool:
    base = Path(settings.BASE_DIR).resolve()
    try:
        Path(app_config.path).resolve().relative_to(base)
    except ValueError:
        return False
    parts = set(Path(app_config.path).parts)
    installed = parts & {".venv", "venv", "site-packages", "dist-packages"}
    return not installed and app_config.label not in EXCLUDED_APPS


def export_tables() -> list[Table]:
    """Every exported table, sorted by name (a stable order for files and manifests)."""
    return list(_export_tables())


@functools.cache
def _export_tables() -> tuple[Table, ...]:
    # Models are fixed once Django is set up, so the discovery runs once per process.
    tables: dict[str, Table] = {}
    for app_config in apps.get_app_configs():
        if not _project_app(app_config):
            continue
        for model in app_config.get_models(include_auto_created=True):
            meta = model._meta
            if meta.proxy or not meta.managed or meta.db_table in tables:
                continue
            columns = tuple(f.column for f in meta.concrete_fields)
            tables[meta.db_table] = Table(model=model, name=meta.db_table, columns=columns,
                                          pk=meta.pk.column)
    return tuple(tables[name] for name in sorted(tables))


def tables_by_name() -> dict[str, Table]:
    return {t.name: t for t in export_tables()}


def identifier_rule(model: type[models.Model], column: str) -> str | None:
    """'hash', 'blank' or None (not an identifier) for one column of one model."""
    rule = EXTRA_IDENTIFIERS.get(model._meta.label, {}).get(column)
    if rule:
        return rule
    return "blank" if column in IDENTIFIER_NAMES else None


def is_identifier(model: type[models.Model], column: str) -> bool:
    return identifier_rule(model, column) is not None


def field_for_column(model: type[models.Model], column: str) -> models.Field:
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field
    raise KeyError(column)


def blank_value(field: models.Field):
    """The value an anonymised column gets: NULL when allowed, else the field's empty default."""
    if field.null:
        return None
    if field.has_default():
        value = field.get_default()
        if isinstance(value, (dict, list, str)) and not value:
            return value
    if isinstance(field, models.JSONField):
        return {}
    return ""
