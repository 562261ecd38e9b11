"""Periodic database snapshots: database/ tables zipped into artifact storage, last K kept.

Lock: one session-level advisory lock (experiments.locks, Space.SNAPSHOT), taken with try-lock after the cheap check, so
overlapping beat runs or several beat processes never write two snapshots at once; a run that
does not get it skips. Idempotent: a run when nothing changed writes nothing.

Cheap when nothing changed: one query reads a change fingerprint of the exported tables (the
cumulative insert/update/delete counters of pg_stat_user_tables plus each table's max id, so a
fresh insert shows at once even before statistics are flushed) together with the last
snapshot's fingerprint; equal → done. The fingerprint is read before the data, so a change it
misses is in the data, or makes the next fingerprint differ.

Snapshots are kept per experiment, under `snapshots/<slug of the label>-<hash of the label>/`,
and their manifest names the experiment (label + source hash): `restore --latest-snapshot`
looks only in the folder of the experiment it runs, and restore refuses another experiment's
archive unless forced.
"""

import functools
import hashlib
import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import connection, models
from django.utils import timezone

from experiments.loading import get_experiment
from experiments.locks import Space, session_unlock, try_session_lock
from experiments.models import Deployment

from ..dbio import qn
from ..models import Snapshot
from ..storage import artifact_storage
from ..tables import export_tables
from .export import write_export
from .files import zip_folder


def _max_id_columns() -> list[tuple[str, str]]:
    integer = (models.AutoField, models.BigAutoField, models.IntegerField, models.BigIntegerField)
    return [(t.name, t.pk) for t in export_tables()
            if isinstance(t.model._meta.pk, integer)]


@functools.cache
def _fingerprint_sql() -> tuple[str, list]:
    names = [t.name for t in export_tables()]
    max_ids = " || ',' || ".join(
        f"coalesce(CAST((SELECT max({qn(pk)}) FROM {qn(name)}) AS TEXT), '-')" for name, pk in _max_id_columns()
    ) or "''"
    stats = ("(SELECT coalesce(string_agg(relname || ':' || n_tup_ins || ':' || n_tup_upd || ':' "
             "|| n_tup_del, ',' ORDER BY relname), '') FROM pg_stat_user_tables "
             "WHERE schemaname = current_schema() AND relname = ANY(%s))")
    return f"md5({stats} || '|' || {max_ids})", [tuple(names)]


def snapshot_status() -> tuple[str, str | None]:
    """(current fingerprint, last snapshot's fingerprint), read in one query."""
    fingerprint, params = _fingerprint_sql()
    last = (f"(SELECT fingerprint FROM {qn(Snapshot._meta.db_table)} "
            "ORDER BY created_at DESC, id DESC LIMIT 1)")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {fingerprint}, {last}",
                       [list(p) if isinstance(p, tuple) else p for p in params])
        current, previous = cursor.fetchone()
    return hashlib.sha256(str(current).encode()).hexdigest(), previous


def _try_lock() -> bool:
    return try_session_lock(Space.SNAPSHOT)


def _unlock() -> None:
    session_unlock(Space.SNAPSHOT)


def snapshot_folder(label: str) -> str:
    """Where the snapshots of the experiment labelled `label` go in artifact storage.

    A readable slug plus a hash of the exact label, so two labels that slug alike stay apart.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:60] or "experiment"
    return f"snapshots/{slug}-{hashlib.sha256(label.encode()).hexdigest()[:8]}"


def _current_folder() -> str:
    """This experiment's folder; when its code does not load, the deployed experiment's (the
    data still deserves its snapshot)."""
    try:
        return snapshot_folder(get_experiment().label)
    except Exception:
        label = Deployment.objects.order_by("-created_at").values_list("label", flat=True).first()
        return snapshot_folder(label or "unknown experiment")


def snapshot_take(*, force: bool = False) -> Snapshot | None:
    """Take a snapshot if the data changed since the last one (or `force`); None if skipped.

    Nothing changed: one query. Changed: an advisory lock (so overlapping beat runs or several
    beat processes never write two snapshots at once), a re-check under it, then the snapshot.
    """
    if connection.in_atomic_block:
        raise RuntimeError("snapshot_take reads its own snapshot; call it outside a transaction")
    fingerprint, previous = snapshot_status()
    if fingerprint == previous and not force:
        return None
    if not _try_lock():
        return None  # another snapshot is being taken
    try:
        fingerprint, previous = snapshot_status()
        if fingerprint == previous and not force:
            return None
        return _write_snapshot(fingerprint)
    finally:
        _unlock()


def _write_snapshot(fingerprint: str) -> Snapshot:
    storage = artifact_storage()
    folder_name = _current_folder()
    with tempfile.TemporaryDirectory(prefix="chorus-snapshot-") as tmp:
        folder = Path(tmp) / "snapshot"
        folder.mkdir()
        manifest = write_export(folder, assets="none", anonymize=False, source=False,
                                progress=lambda d, t: _Quiet(), kind="snapshot")
        zip_path = Path(tmp) / "snapshot.zip"
        with open(zip_path, "wb") as target:
            zip_folder(folder, target)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
        with open(zip_path, "rb") as stream:
            name = storage.save(f"{folder_name}/snapshot-{stamp}.zip", File(stream))
        snapshot = Snapshot.objects.create(artifact=name, size=os.path.getsize(zip_path),
                                           fingerprint=fingerprint,
                                           row_counts=manifest["row_counts"])
    snapshots_prune(keep=settings.SNAPSHOT_KEEP)
    return snapshot


class _Quiet:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def snapshots_prune(*, keep: int) -> int:
    """Delete all but the newest `keep` snapshots (files and rows)."""
    storage = artifact_storage()
    old = list(Snapshot.objects.order_by("-created_at", "-id")[max(keep, 1):])
    for snapshot in old:
        storage.delete(snapshot.artifact)
        snapshot.delete()
    return len(old)
