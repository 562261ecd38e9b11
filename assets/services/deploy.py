"""`manage.py deploy` for assets: register declared assets, then make sure every cached asset is
in storage, uploading only what is missing, in parallel on the workers.

The store is checked with one listing of `cache/` (a request per 1,000 keys on S3), never one
request per file, so a redeploy with unchanged stimuli uploads nothing and costs a few requests.
"""

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from celery import current_app  # the project's app (config.celery), without importing config
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from experiments.hooks import DeployError

from ..kinds import CACHED_KINDS, AssetSpec
from ..models import Asset
from ..storage import AssetStorage, get_storage
from .deposit import asset_deposit, deposit_enqueue
from .registration import assets_register_many

logger = logging.getLogger(__name__)


class AssetDeployError(DeployError):
    """Some cached assets could not be deposited; the message names them."""


@dataclass
class DeployReport:
    registered: int = 0
    cached: int = 0
    already_stored: int = 0
    uploaded: int = 0
    failed: list[str] = field(default_factory=list)
    store_requests: int = 0
    mode: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        deposited = f"{self.uploaded} deposited on {self.mode}" if self.mode else "0 deposited"
        return (f"assets: {self.cached} cached ({self.already_stored} already stored, {deposited}), "
                f"{self.store_requests} store requests, {self.seconds:.1f}s")


@transaction.atomic
def assets_register_declared(*, experiment: Any) -> int:
    """Rows and links for the assets declared on the timeline's modules and on the experiment."""
    items = []
    for module in experiment.program.modules.values():
        for key, spec in (getattr(module, "assets", None) or {}).items():
            if isinstance(spec, AssetSpec):
                items.append((spec, ("module", module.id), key))
    for key, spec in dict(getattr(experiment, "assets", None) or {}).items():
        if isinstance(spec, AssetSpec):
            items.append((spec, ("experiment", "-"), key))
    assets_register_many(items=items)
    return len(items)


def _choose_mode(requested: str | None) -> str:
    mode = requested or settings.ASSET_DEPLOY_MODE
    if mode != "auto":
        return mode
    if not str(settings.CELERY_BROKER_URL).startswith(("redis", "amqp")):
        return "local"  # the embedded broker cannot broadcast a ping; its worker starts later
    try:
        return "workers" if current_app.control.ping(timeout=1.0) else "local"
    except Exception:  # no broker, or a broker without broadcast (the embedded filesystem one)
        return "local"


def assets_deploy(*, experiment: Any, progress: Callable[[str, int], Any] | None = None,
                  mode: str | None = None, storage: AssetStorage | None = None,
                  timeout: float = 3600.0) -> DeployReport:
    """Register declared assets, then deposit every cached asset missing from storage."""
    started = time.monotonic()
    storage = storage or get_storage()
    requests_before = getattr(storage, "requests", 0)
    report = DeployReport(registered=assets_register_declared(experiment=experiment))
    rows = list(Asset.objects.filter(kind__in=CACHED_KINDS).exclude(storage_key="")
                .values("id", "storage_key", "is_folder", "status"))
    report.cached = len(rows)
    listing = storage.list("cache/") if rows else {}
    present, missing = [], []
    for row in rows:
        probe = f"{row['storage_key']}.json" if row["is_folder"] else row["storage_key"]
        (present if probe in listing else missing).append(row)
    now = timezone.now()
    for row in present:
        if row["status"] != Asset.Status.DEPOSITED:
            updates: dict[str, Any] = {"status": Asset.Status.DEPOSITED, "deposited_at": now,
                                       "last_error": "", "lease_until": None, "next_attempt_at": None}
            if not row["is_folder"]:
                updates["size"] = listing[row["storage_key"]]
            Asset.objects.filter(pk=row["id"]).update(**updates)
    report.already_stored = len(present)
    ids = [row["id"] for row in missing]
    if ids:
        Asset.objects.filter(pk__in=ids).update(
            status=Asset.Status.PENDING, attempts=0, last_error="", lease_until=None,
            next_attempt_at=now + timezone.timedelta(seconds=settings.ASSET_BACKSTOP_GRACE))
        report.mode = _choose_mode(mode)
        bar = progress("Depositing cached assets", len(ids)) if progress else None
        try:
            if report.mode == "workers":
                _deposit_on_workers(ids, bar, timeout)
            else:
                _deposit_locally(ids, bar, storage)
        finally:
            if bar is not None:
                bar.close()
        report.uploaded = Asset.objects.filter(pk__in=ids, status=Asset.Status.DEPOSITED).count()
        report.failed = list(Asset.objects.filter(pk__in=ids).exclude(status=Asset.Status.DEPOSITED)
                             .values_list("key_within_experiment", flat=True)[:20])
    report.store_requests = getattr(storage, "requests", 0) - requests_before
    report.seconds = time.monotonic() - started
    if report.failed:
        raise AssetDeployError(f"{len(ids) - report.uploaded} cached asset(s) could not be deposited, "
                               f"e.g. {report.failed[:5]}; see the admin for their errors")
    return report


def _deposit_on_workers(ids: list[int], bar: Any, timeout: float) -> None:
    for asset_id in ids:
        if not deposit_enqueue(asset_id):
            raise AssetDeployError("could not reach the broker to enqueue deposits")
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        finished = Asset.objects.filter(pk__in=ids, status__in=(Asset.Status.DEPOSITED, Asset.Status.FAILED)).count()
        if bar is not None and finished > done:
            bar.update(finished - done)
        done = finished
        if done >= len(ids):
            return
        time.sleep(0.2)


def _deposit_locally(ids: list[int], bar: Any, storage: AssetStorage) -> None:
    def run(asset_id: int) -> None:
        try:
            for _ in range(3):  # retries in-line: there is no worker to retry later
                if asset_deposit(asset_id=asset_id, storage=storage).status != Asset.Status.PENDING:
                    break
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in pool.map(run, ids):
            if bar is not None:
                bar.update(1)
