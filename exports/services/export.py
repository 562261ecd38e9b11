"""`export_create`: the whole study as a folder (or zip), written aside and moved in when complete.

Layout: manifest.json, database/<table>.csv (every table, restorable), data/*.csv (analysis
sheets + basic data), participant_identifiers.csv (unless anonymised), assets/ (+ manifest.csv),
source/ (the experiment folder), logs.jsonl. All database reads share one REPEATABLE READ
snapshot, tables stream through COPY, so memory stays flat whatever the size of the study.

Locks: none (reads only; the snapshot's lanes adopt it with pg_export_snapshot()). Idempotent:
exporting again to the same path replaces the earlier export only once the new one is complete.
"""

import json
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from experiments.loading import get_experiment
from experiments.models import Deployment

from .. import sheets as sheet_registry
from ..archive import FORMAT, FORMAT_VERSION, MANIFEST, manifest_json
from ..assets_hook import ASSET_MODES, export_assets
from ..basic_data import basic_data_all, row_keys
from ..csvsafe import write_rows
from ..dbio import begin_snapshot, copy_to, read_snapshot, table_select
from ..sheets import SheetPart, part_sql, sheet_parts
from ..tables import Table, export_tables
from .files import ExportWriter, zip_folder
from .logs import write_logs

#: progress(description, total) returns a tqdm-like bar: update(n), close().
ProgressFactory = Callable[[str, int], Any]


class ExportError(Exception):
    """The export cannot be made as asked; nothing was written at the destination."""


class ExportOptionError(ExportError):
    """Invalid options (the command exits with status 2)."""


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(description: str, total: int) -> _NoBar:
    return _NoBar()


@dataclass
class ExportResult:
    path: Path
    manifest: dict[str, Any]


# --- pieces -------------------------------------------------------------------------------------

def dump_tables(cursor, writer: ExportWriter, tables: list[Table], *, anonymize: bool,
                progress: ProgressFactory) -> dict[str, int]:
    """database/<table>.csv for each table; returns row counts read in the same snapshot."""
    counts: dict[str, int] = {}
    bar = progress("database", len(tables))
    try:
        for table in tables:
            sql, params = table_select(table, anonymize=anonymize)
            with writer.binary(f"database/{table.name}.csv") as out:
                counts[table.name] = copy_to(cursor, sql, params, out)
            bar.update(1)
    finally:
        bar.close()
    return counts


def _write_part(cursor, writer: ExportWriter, part: SheetPart) -> None:
    sql, params = part_sql(part)
    with writer.binary(part.path) as out:
        copy_to(cursor, sql, params, out)


class _Lane:
    """Work done on another connection on the same snapshot, beside the database/ dump.

    The export's transaction publishes its snapshot (pg_export_snapshot(), as pg_dump -j does);
    a thread's own connection adopts it, so the server formats two streams at once and both
    describe the same instant. Everything the thread reads through Django's connection (COPY,
    server cursors, the ORM) is inside that snapshot.
    """

    def __init__(self, cursor, work: Callable[[Any], Any]) -> None:
        cursor.execute("SELECT pg_export_snapshot()")
        self.snapshot_id = cursor.fetchone()[0]
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="export-lane", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with connection.cursor() as cursor:  # this thread's own connection
                begin_snapshot(cursor, self.snapshot_id)
                try:
                    self.result = self.work(cursor)
                finally:
                    cursor.execute("ROLLBACK")
        except BaseException as exc:  # re-raised in the export's thread by join()
            self.error = exc
        finally:
            connection.close()

    def join(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


def write_sheets(cursor, writer: ExportWriter, *, anonymize: bool, progress: ProgressFactory) -> list[str]:
    """data/*.csv from the SHEETS registry (+ participant_identifiers.csv unless anonymised)."""
    # Read at call time, so sheets appended by other apps (or tests) are included.
    sheets = list(sheet_registry.SHEETS) + ([] if anonymize else [sheet_registry.IDENTIFIERS_SHEET])
    parts = [part for sheet in sheets for part in sheet_parts(sheet, cursor)]
    bar = progress("analysis sheets", len(parts))
    try:
        for part in parts:
            _write_part(cursor, writer, part)
            bar.update(1)
    finally:
        bar.close()
    return [p.path for p in parts]


def _json_cells(row: list[Any]) -> list[Any]:
    return [json.dumps(v, default=str) if isinstance(v, (dict, list)) else v for v in row]


def write_basic_data(writer: ExportWriter, experiment: Any, *, anonymize: bool) -> list[str]:
    """data/basic_<sheet>.csv. Rows may be any iterable (a generator keeps memory flat): they
    are spilled to a temporary file while the header (every key seen) is collected."""
    names = []
    for sheet, rows in basic_data_all(experiment, anonymize=anonymize).items():
        name = f"data/basic_{''.join(c if c.isalnum() or c in '-_' else '_' for c in sheet)}.csv"
        header: dict[str, None] = {}
        encode = DjangoJSONEncoder().encode
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spill:
            for row in rows:
                row_keys(header, row)
                spill.write(encode(row) + "\n")
            spill.seek(0)
            keys = list(header)
            with writer.text(name) as text:
                # Spilled rows are JSON objects again, so their keys are strings already.
                write_rows(text, keys, (_json_cells([row.get(k) for k in keys] if isinstance(row, dict)
                                                    else [row]) for row in map(json.loads, spill)))
        names.append(name)
    return names


def copy_source(writer: ExportWriter, folder: Path) -> int:
    """source/: the experiment folder (no caches, no hidden files, no symlinks followed)."""
    n = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if (path.is_symlink() or not path.is_file() or "__pycache__" in rel.parts
                or any(part.startswith(".") for part in rel.parts)):
            continue
        with writer.binary(f"source/{rel.as_posix()}") as out, open(path, "rb") as src:
            for chunk in iter(lambda s=src: s.read(1 << 20), b""):
                out.write(chunk)
        n += 1
    return n


def _migrations(cursor) -> dict[str, str]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, id")
    latest: dict[str, str] = {}
    for app, name in cursor.fetchall():
        latest[app] = name
    return latest


def _deployment(cursor) -> dict[str, Any] | None:
    row = Deployment.objects.order_by("-created_at").values("id", "label", "source_hash").first()
    return {"id": str(row["id"]), "label": row["label"], "source_hash": row["source_hash"]} if row else None


# --- the service ------------------------------------------------------------------------------

def write_export(root: Path, *, assets: str, anonymize: bool, source: bool,
                 progress: ProgressFactory, kind: str = "export") -> dict[str, Any]:
    """Write a complete export (or, with kind="snapshot", only database/) into `root`."""
    writer = ExportWriter(root)
    experiment = None
    warnings: list[str] = []
    try:
        experiment = get_experiment()
    except Exception as exc:  # the data still matters when the code no longer loads
        if kind == "export":
            warnings.append(f"experiment did not load ({exc}); basic data and source skipped")
    tables = export_tables()
    manifest: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
        "created": timezone.now().isoformat(),
        # Which experiment the data belongs to: restore refuses another experiment's archive.
        "experiment": ({"label": experiment.label, "source_hash": experiment.source_hash,
                        "path": Path(experiment.path).name} if experiment else None),
    }
    with read_snapshot() as cursor:
        manifest["deployment"] = _deployment(cursor)
        manifest["database"] = {"vendor": connection.vendor, "migrations": _migrations(cursor)}

        def second_lane(lane_cursor) -> tuple[list[str], int]:
            names = write_sheets(lane_cursor, writer, anonymize=anonymize, progress=progress)
            return names, write_logs(writer, progress=progress)

        def basic_lane(lane_cursor) -> list[str]:
            if experiment is None:
                return []
            return write_basic_data(writer, experiment, anonymize=anonymize)

        # An export's sheets + logs, and the researcher's basic data (Python work, the ORM), run
        # on their own connections in the same snapshot, overlapping the server's COPYs below.
        # A snapshot is database/ only: nothing runs beside it.
        lanes = [_Lane(cursor, second_lane), _Lane(cursor, basic_lane)] if kind == "export" else []
        try:
            manifest["row_counts"] = dump_tables(cursor, writer, tables, anonymize=anonymize,
                                                 progress=progress)
            if kind == "export":
                manifest["assets"] = export_assets(writer, mode=assets, anonymize=anonymize,
                                                   progress=progress)
        finally:
            results = [lane.join() for lane in lanes]
        manifest["tables"] = {t.name: {"model": t.label, "columns": list(t.columns)} for t in tables}
        if kind == "export":
            (names, log_lines), basic = results
            manifest["sheets"] = names + basic
            manifest["log_lines"] = log_lines
    if kind == "export":
        manifest["options"] = {"anonymize": anonymize, "assets": assets, "source": source}
        if source and experiment is not None:
            copy_source(writer, Path(experiment.path))
    manifest["warnings"] = warnings
    manifest["files"] = dict(sorted(writer.files.items()))
    (root / MANIFEST).write_bytes(manifest_json(manifest))
    return manifest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(item: Path, prefix: str) -> bool:
    try:
        pid = int(item.name[len(prefix):].split("-", 1)[0])
    except ValueError:
        return False
    return not _pid_alive(pid)


def _clean_stale_partials(parent: Path, name: str) -> None:
    """Tidy what earlier exports killed midway left beside the destination.

    A killed export's half-written folder is removed; an earlier export that was moved aside
    in the instant before the new one replaced it is put back.
    """
    final = parent / name
    for item in parent.glob(f".{name}.previous-*"):
        if _stale(item, f".{name}.previous-"):
            if not final.exists():
                os.rename(item, final)
            else:
                shutil.rmtree(item, ignore_errors=True)
    for item in parent.glob(f".{name}.partial-*"):
        if _stale(item, f".{name}.partial-"):
            shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)


def _check_destination(final: Path, zip_: bool) -> None:
    if not final.exists():
        return
    if zip_:
        if final.is_dir() or not zipfile.is_zipfile(final):
            raise ExportOptionError(f"{final} exists and is not an export zip; refusing to replace it")
        with zipfile.ZipFile(final) as existing:
            if MANIFEST not in existing.namelist():
                raise ExportOptionError(f"{final} is a zip but not a Chorus export; refusing to replace it")
        return
    if not final.is_dir():
        raise ExportOptionError(f"{final} exists and is not a folder")
    if any(final.iterdir()) and not (final / MANIFEST).is_file():
        raise ExportOptionError(
            f"{final} exists, is not empty and is not a Chorus export; choose another --path")


def export_create(*, path: str | Path, assets: str = "experiment", anonymize: bool = False,
                  source: bool = True, zip: bool = False,
                  progress: ProgressFactory | None = None) -> ExportResult:
    """Export the study to `path` (a folder; with zip=True, `path` + '.zip').

    Written to a hidden folder beside the destination and moved into place only when
    complete: an export killed midway leaves the destination (and any earlier export) as it was.
    """
    if assets not in ASSET_MODES:
        raise ExportOptionError(f"--assets must be one of {', '.join(ASSET_MODES)} (got {assets!r})")
    if not str(path).strip():
        raise ExportOptionError("--path must name a folder")
    final = Path(path).expanduser().absolute()
    if zip and final.suffix != ".zip":
        final = final.with_name(final.name + ".zip")
    _check_destination(final, zip)
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportOptionError(f"cannot create {parent}: {exc}") from None
    _clean_stale_partials(parent, final.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-{os.getpid()}-", dir=parent))
    progress = progress or _no_progress
    try:
        manifest = write_export(staging, assets=assets, anonymize=anonymize, source=source,
                                progress=progress)
        if zip:
            fd, tmp_zip = tempfile.mkstemp(prefix=f".{final.name}.partial-{os.getpid()}-",
                                           suffix=".zip", dir=parent)
            try:
                with os.fdopen(fd, "wb") as target:
                    zip_folder(staging, target)
                    target.flush()
                    os.fsync(target.fileno())
                os.replace(tmp_zip, final)
            except BaseException:
                Path(tmp_zip).unlink(missing_ok=True)
                raise
            shutil.rmtree(staging, ignore_errors=True)
        else:
            previous = None
            if final.exists():
                previous = parent / f".{final.name}.previous-{os.getpid()}-{staging.name[-8:]}"
                os.rename(final, previous)
            os.rename(staging, final)
            if previous is not None:
                shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(path=final, manifest=manifest)
