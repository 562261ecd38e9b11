"""Basic data: the summary sheets an experiment's `get_basic_data()` provides.

`get_basic_data(context=None, **kwargs)` may return every sheet as a dict (name → rows) or,
like the reference platform, pick one with `kwargs["sheet"]` and return its rows (declare the
names in `basic_data_sheets` so exports can ask for each). Unknown sheets raise `DataError`.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from experiments.experiment import DataError  # the core defines it; raised here, importable here

from .tables import IDENTIFIER_NAMES

#: Keys dropped from basic-data rows in anonymised exports.
ANONYMISED_KEYS = IDENTIFIER_NAMES | {"token", "entry_params"}


def basic_data_sheet(experiment: Any, sheet: str | None, *, context: Any = None,
                     **params: Any) -> Any:
    """Rows of one sheet (or every sheet as a dict when `sheet` is None); DataError if unknown."""
    kwargs = dict(params)
    if sheet is not None:
        kwargs["sheet"] = sheet
    try:
        data = experiment.get_basic_data(context=context, **kwargs)
    except (KeyError, LookupError) as exc:
        raise DataError(f"unknown sheet {sheet!r}") from exc
    if isinstance(data, dict):
        if sheet is None:
            return data
        if sheet not in data:
            raise DataError(f"unknown sheet {sheet!r}; sheets: {', '.join(sorted(data))}")
        return data[sheet]
    return data


def basic_data_all(experiment: Any, *, anonymize: bool) -> dict[str, Iterable[Any]]:
    """Every sheet, for exports: declared `basic_data_sheets`, else whatever the call returns."""
    context = {"export": True, "anonymize": anonymize}
    names = getattr(experiment, "basic_data_sheets", None)
    if names:
        sheets = {name: basic_data_sheet(experiment, name, context=context) for name in names}
    else:
        data = basic_data_sheet(experiment, None, context=context)
        sheets = data if isinstance(data, dict) else {"basic_data": data}
    if anonymize:
        sheets = {name: _without_identifiers(rows) for name, rows in sheets.items()}
    return sheets


def _without_identifiers(rows: Iterable[Any]) -> Iterator[Any]:
    for row in rows:
        yield {k: v for k, v in row.items() if k not in ANONYMISED_KEYS} if isinstance(row, dict) else row


def row_keys(header: dict[str, None], row: Any) -> None:
    """Add a row's keys to `header` (an ordered set): first-seen order across rows."""
    if isinstance(row, dict):
        header.update(dict.fromkeys(map(str, row)))
    else:
        header.setdefault("value", None)


def row_values(keys: list[str], row: Any) -> list[Any]:
    if isinstance(row, dict):
        as_str = {str(k): v for k, v in row.items()}
        return [as_str.get(k) for k in keys]
    return [row]


def rows_table(rows: list[Any]) -> tuple[list[str], list[list[Any]]]:
    """Header (keys in first-seen order) and value lists for a list of dict rows."""
    header: dict[str, None] = {}
    for row in rows:
        row_keys(header, row)
    keys = list(header)
    return keys, [row_values(keys, row) for row in rows]
