"""The assets of an export: files under readable names, one manifest row each.

The exports app calls `export_assets(destination=, mode=, anonymize=)` (its EXPORT_ASSETS_HOOK)
and writes assets/manifest.csv from the rows; `InheritedAssets` reads that manifest back into a
new experiment. Modes: "experiment" (assets made during the experiment: recordings and other
experiment assets) or "all" (also cached, function-made and external ones). With `anonymize`,
personal assets are left out.
"""

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.utils.text import slugify

from .models import Asset, AssetLink
from .selectors import manifest_row
from .services import render_fast_function
from .services.inbox import in_inbox
from .storage import AssetStorage, external_s3_storage, get_storage

logger = logging.getLogger(__name__)

EXPERIMENT_KINDS = (Asset.Kind.EXPERIMENT, Asset.Kind.RECORDING)


def _segment(text: str) -> str:
    return slugify(text, allow_unicode=True)[:80] or "asset"


def readable_path(asset: Asset, local_key: str | None) -> str:
    """e.g. trial/12/imitation-57.wav, participant/3/intro-9.webm, cached/module/intro/logo.png."""
    if asset.kind in EXPERIMENT_KINDS:
        parent = f"{_segment(asset.parent_kind)}/{_segment(asset.parent_id)}" if asset.parent_kind else "experiment"
        return f"{parent}/{_segment(local_key or asset.key_within_experiment)}-{asset.pk}{asset.extension}"
    parts = [_segment(part) for part in asset.key_within_experiment.split("/") if part]
    return f"{asset.kind}/{'/'.join(parts) or asset.pk}{asset.extension}"


def _write(asset: Asset, target: Path, storage: AssetStorage) -> list[Path]:
    """Write the asset's bytes at `target` (a folder's files under it); return the files written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if asset.kind == Asset.Kind.FAST_FUNCTION:
        with tempfile.TemporaryDirectory(prefix="chorus-export-") as tmp:
            shutil.copyfile(render_fast_function(asset, Path(tmp)), target)
        return [target]
    if asset.kind == Asset.Kind.EXTERNAL:
        import requests

        response = requests.get(asset.source_url, timeout=30)
        response.raise_for_status()
        target.write_bytes(response.content)
        return [target]
    if asset.kind == Asset.Kind.EXTERNAL_S3:
        external_s3_storage(asset.bucket).export(asset.storage_key, target)
        return [target]
    if asset.status != Asset.Status.DEPOSITED:
        staged = Path(asset.input_path) if asset.input_path else None
        if staged is None or not in_inbox(staged) or not staged.exists():
            raise FileNotFoundError("not deposited yet and its input is not on this machine")
        if staged.is_dir():
            shutil.copytree(staged, target.with_suffix(""), dirs_exist_ok=True)
            return sorted(p for p in target.with_suffix("").rglob("*") if p.is_file())
        shutil.copyfile(staged, target)
        return [target]
    if asset.is_folder:
        folder = target.with_suffix("")
        prefix = f"{asset.storage_key}/"
        written = []
        for key in sorted(storage.list(prefix)):
            destination = folder / key[len(prefix):]
            storage.export(key, destination)
            written.append(destination)
        return written
    storage.export(asset.storage_key, target)
    return [target]


def export_assets(*, destination: Path, mode: str, anonymize: bool) -> Iterator[dict[str, Any]]:
    """Write the exported assets under `destination`; yield one row per file written."""
    destination = Path(destination)
    queryset = Asset.objects.order_by("id")
    if mode == "experiment":
        queryset = queryset.filter(kind__in=EXPERIMENT_KINDS)
    elif mode != "all":
        raise ValueError(f"unknown asset export mode {mode!r}")
    if anonymize:
        queryset = queryset.filter(personal=False)
    storage = get_storage()
    for asset in queryset.iterator(chunk_size=500):
        link = (AssetLink.objects.filter(asset=asset, holder_kind=asset.parent_kind, holder_id=asset.parent_id)
                .values_list("local_key", flat=True).first() if asset.parent_kind else None)
        path = readable_path(asset, link)
        try:
            files = _write(asset, destination / path, storage)
        except Exception as exc:  # one unreadable asset must not sink the export; say which
            logger.warning("asset %s not exported: %s", asset.key_within_experiment, exc)
            continue
        for file in files:
            relative = file.relative_to(destination).as_posix()
            row = manifest_row(asset, relative)
            if asset.is_folder:
                row["key_within_experiment"] = f"{asset.key_within_experiment}/{file.relative_to(destination / Path(path).with_suffix('')).as_posix()}"
            row["local_key"] = link or ""
            yield row
