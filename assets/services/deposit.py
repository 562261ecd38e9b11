"""Moving asset bytes into storage: the worker-side deposit, retries, re-deposit and the backstop.

A deposit is idempotent: keys are content-addressed (or hash a function and its arguments), so
running it twice, or on two workers at once, stores the same bytes under the same key once and
moves the row to `deposited` once. Attempts are counted in the row, not in the broker.
"""

import logging
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from experiments import hooks
from experiments.loading import get_experiment, in_experiment_folder
from experiments.locks import Space, try_xact_lock

from ..functions import resolve_function
from ..models import Asset
from ..storage import AssetStorage, get_storage
from ..uploads import content_type_for
from . import inbox
from .files import cached_storage_key, content_sha256, experiment_path, folder_files

logger = logging.getLogger(__name__)

RETRYABLE = (Asset.Status.PENDING, Asset.Status.DEPOSITING)

@dataclass
class DepositOutcome:
    status: str
    retry_in: float | None = None


def backoff_delay(attempts: int) -> float:
    """Exponential backoff with jitter: about base * 2^(attempts-1), capped, randomised ±50%."""
    base = settings.ASSET_DEPOSIT_RETRY_BASE * (2 ** max(0, attempts - 1))
    delay = min(settings.ASSET_DEPOSIT_RETRY_MAX, base)
    return delay / 2 + random.uniform(0, delay / 2)


def deposit_enqueue(asset_id: int, *, countdown: float | None = None) -> bool:
    """Publish a deposit task; never raises and never blocks long (the backstop covers failures)."""
    from ..tasks import asset_deposit as task

    try:
        task.apply_async((asset_id,), countdown=countdown, retry=False, ignore_result=True)
        return True
    except Exception as exc:  # broker down: the row stays pending and the backstop re-publishes
        logger.warning("could not enqueue deposit of asset %s: %s", asset_id, exc)
        return False


def _experiment_namespace() -> str:
    return slugify(get_experiment().label)[:64] or "experiment"


def _store_file(storage: AssetStorage, path: Path, key: str, content_type: str) -> None:
    storage.store(path, key, content_type=content_type)  # a no-op when the key exists


def _store_folder(storage: AssetStorage, folder: Path, prefix: str, sha: str) -> None:
    """Files first, then a marker listing them: the marker's presence means the folder is whole."""
    marker = f"{prefix}.json"
    if storage.exists(marker):
        return
    lines = []
    for relative, full in folder_files(folder):
        _store_file(storage, full, f"{prefix}/{relative}", content_type_for(full.suffix))
        lines.append(relative)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        import json

        json.dump({"sha256": sha, "files": lines}, handle)
    try:
        storage.store(Path(handle.name), marker, content_type="application/json")
    finally:
        Path(handle.name).unlink(missing_ok=True)


def _deposit_input(asset: Asset, storage: AssetStorage, source: Path, key_for) -> dict:
    sha, size = content_sha256(source)
    key = key_for(sha)
    if source.is_dir():
        _store_folder(storage, source, key, sha)
    else:
        _store_file(storage, source, key, asset.content_type)
    return {"storage_key": key, "sha256": sha, "size": size, "is_folder": source.is_dir()}


def _deposit_bytes(asset: Asset, storage: AssetStorage) -> dict:
    """Put the asset's bytes into storage; return the row fields that describe them."""
    kind = asset.kind
    if kind in ("experiment", "recording"):
        source = Path(asset.input_path) if asset.input_path else None
        if source is None or not source.exists():
            present = asset.storage_key and (
                storage.exists(f"{asset.storage_key}.json") if asset.is_folder
                else storage.exists(asset.storage_key))
            if present:
                return {}  # an earlier run stored it; only the row was left behind
            raise FileNotFoundError(
                f"staged input {asset.input_path or '(none)'} is missing on this machine "
                f"(web and workers must share ASSET_INBOX_DIR)")
        namespace = _experiment_namespace()
        return _deposit_input(asset, storage, source, lambda sha: (
            f"experiment/{namespace}/{sha}" if source.is_dir()
            else f"experiment/{namespace}/{sha}{asset.extension}"))
    if kind in ("cached", "inherited"):
        source = experiment_path(Path(asset.input_path))
        if not source.exists():
            raise FileNotFoundError(f"{source} does not exist on this machine")
        return _deposit_input(asset, storage, source, lambda sha: cached_storage_key(
            sha256=sha, extension=asset.extension, is_folder=source.is_dir()))
    if kind == "cached_function":
        key = asset.storage_key
        if storage.exists(key):
            return {}
        with tempfile.TemporaryDirectory(prefix="chorus-fn-") as tmp:
            output = Path(tmp) / f"output{asset.extension}"
            with in_experiment_folder():  # relative paths name files next to experiment.py
                resolve_function(asset.function)(path=str(output), **asset.arguments)
            if not output.is_file():
                raise RuntimeError(f"{asset.function} did not write a file to `path`")
            sha, size = content_sha256(output)
            storage.store(output, key, content_type=asset.content_type)
            return {"sha256": sha, "size": size}
    if kind in ("fast_function", "external", "external_s3"):
        return {}
    raise ValueError(f"unknown asset kind {kind!r}")


def asset_deposit(*, asset_id: int, storage: AssetStorage | None = None) -> DepositOutcome:
    """Deposit one asset (the body of the Celery task). Safe to run again at any point."""
    asset = _claim(asset_id)
    if asset is None:
        row = Asset.objects.filter(pk=asset_id).values_list("status", flat=True).first()
        return DepositOutcome(status=row or "missing")
    try:
        fields = _deposit_bytes(asset, storage or get_storage())
    except Exception as exc:
        return _record_failure(asset, exc)
    staged = asset.input_path if asset.delete_input and inbox.in_inbox(asset.input_path or "/") else ""
    if staged:
        fields["input_path"] = ""  # the file goes next; if we die first, the inbox sweep takes it
    done = Asset.objects.filter(pk=asset_id, status=Asset.Status.DEPOSITING).update(
        status=Asset.Status.DEPOSITED, deposited_at=timezone.now(), last_error="",
        lease_until=None, next_attempt_at=None, updated_at=timezone.now(), **fields)
    if done and staged:
        inbox.remove(staged)
    if done:
        _run_deposited_hooks(asset_id)
    return DepositOutcome(status=Asset.Status.DEPOSITED)


def _run_deposited_hooks(asset_id: int) -> None:
    """`experiments.hooks.asset_deposited` listeners (trials: finalize a trial once all its assets
    are in storage). Errors are logged, never raised."""
    if not hooks.asset_deposited:
        return
    asset = Asset.objects.get(pk=asset_id)
    hooks.asset_deposited.send(asset, on_error=lambda listener, exc: logger.error(
        "deposited hook %r failed for asset %s", listener, asset_id, exc_info=exc))


def _claim(asset_id: int) -> Asset | None:
    """Move a pending (or leased) row to depositing and count the attempt, in one statement."""
    now = timezone.now()
    lease = now + timezone.timedelta(seconds=settings.ASSET_DEPOSIT_LEASE)
    table = Asset._meta.db_table
    with transaction.atomic():
        # Losing this claim in a database crash only loses an attempt count (the row stays
        # retryable), so it need not wait for a WAL flush; the final update does.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        rows = list(Asset.objects.raw(
            f"UPDATE {table} SET status = %s, attempts = attempts + 1, lease_until = %s, "
            f"updated_at = %s WHERE id = %s AND status IN (%s, %s) RETURNING *",
            [Asset.Status.DEPOSITING, lease, now, asset_id, *RETRYABLE]))
    return rows[0] if rows else None


def _record_failure(asset: Asset, exc: Exception) -> DepositOutcome:
    error = f"{type(exc).__name__}: {exc}"[:4000]
    logger.warning("deposit of asset %s failed (attempt %s): %s", asset.pk, asset.attempts, error)
    if asset.attempts >= settings.ASSET_DEPOSIT_MAX_ATTEMPTS:
        Asset.objects.filter(pk=asset.pk, status=Asset.Status.DEPOSITING).update(
            status=Asset.Status.FAILED, last_error=error, lease_until=None, next_attempt_at=None,
            updated_at=timezone.now())
        return DepositOutcome(status=Asset.Status.FAILED)
    delay = backoff_delay(asset.attempts)
    Asset.objects.filter(pk=asset.pk, status=Asset.Status.DEPOSITING).update(
        status=Asset.Status.PENDING, last_error=error, lease_until=None,
        # The backstop takes over if the retry message is lost.
        next_attempt_at=timezone.now() + timezone.timedelta(
            seconds=delay + settings.ASSET_BACKSTOP_GRACE),
        updated_at=timezone.now())
    return DepositOutcome(status=Asset.Status.PENDING, retry_in=delay)


def asset_redeposit(*, asset_id: int, run_now: bool = False) -> Asset:
    """Deposit again from scratch (admin action "re-deposit"): attempts reset, then enqueue."""
    with transaction.atomic():
        Asset.objects.filter(pk=asset_id).exclude(kind__in=("fast_function", "external", "external_s3")).update(
            status=Asset.Status.PENDING, attempts=0, last_error="", lease_until=None,
            next_attempt_at=timezone.now() + timezone.timedelta(seconds=settings.ASSET_BACKSTOP_GRACE),
            updated_at=timezone.now())
        if not run_now:
            transaction.on_commit(lambda: deposit_enqueue(asset_id), robust=True)
    if run_now:
        asset_deposit(asset_id=asset_id)
    return Asset.objects.get(pk=asset_id)


def deposits_requeue_stuck(*, limit: int = 500) -> int:
    """Beat backstop: re-publish deposits still pending past their time, or whose worker's lease
    ran out (a lost message, a publish that failed with the broker down, a killed worker)."""
    now = timezone.now()
    grace = timezone.timedelta(seconds=settings.ASSET_BACKSTOP_GRACE)
    with transaction.atomic():
        if not try_xact_lock(Space.ASSET_JOBS, "deposits_backstop"):
            return 0
        stuck = (Q(status=Asset.Status.PENDING) & (Q(next_attempt_at__lte=now) | Q(next_attempt_at=None))) \
            | Q(status=Asset.Status.DEPOSITING, lease_until__lt=now)
        ids = list(Asset.objects.filter(stuck).order_by("id").values_list("id", flat=True)[:limit])
        if ids:
            Asset.objects.filter(pk__in=ids, status=Asset.Status.PENDING).update(next_attempt_at=now + grace)
            Asset.objects.filter(pk__in=ids, status=Asset.Status.DEPOSITING).update(lease_until=now + grace)
    for asset_id in ids:
        deposit_enqueue(asset_id)
    return len(ids)


def inbox_sweep(*, older_than: float = 24 * 3600) -> int:
    """Delete staged inputs of requests that never committed (no row references them)."""
    referenced = set(Asset.objects.exclude(input_path="").exclude(status=Asset.Status.DEPOSITED)
                     .values_list("input_path", flat=True))
    return inbox.sweep_orphans(referenced=referenced, older_than=older_than)


def asset_delete_file(*, asset_id: int) -> None:
    """Delete an asset's stored bytes unless another row uses the same key (identical bytes)."""
    asset = Asset.objects.get(pk=asset_id)
    if not asset.storage_key or asset.kind in ("external", "external_s3", "fast_function"):
        return
    if Asset.objects.filter(storage_key=asset.storage_key).exclude(pk=asset_id).exists():
        return
    storage = get_storage()
    if asset.is_folder:
        for key in storage.list(f"{asset.storage_key}/"):
            storage.delete(key)
        storage.delete(f"{asset.storage_key}.json")
    else:
        storage.delete(asset.storage_key)


def render_fast_function(asset: Asset, directory: Path) -> Path:
    """Make a FastFunctionAsset's file in `directory` (the asset view serves and discards it)."""
    output = directory / f"output{asset.extension}"
    with in_experiment_folder():  # relative paths name files next to experiment.py
        resolve_function(asset.function)(path=str(output), **asset.arguments)
    if not output.is_file():
        raise RuntimeError(f"{asset.function} did not write a file to `path`")
    return output


__all__ = ["asset_deposit", "asset_redeposit", "deposit_enqueue", "deposits_requeue_stuck",
           "inbox_sweep", "asset_delete_file", "render_fast_function", "backoff_delay",
           "DepositOutcome"]
