"""Reads: asset URLs, access to personal assets, readiness, export manifest rows."""

from typing import Any

from .addresses import (  # noqa: F401  (importable from here too)
    asset_url,
    personal_access_ok,
    personal_access_token,
    storage_key_for,
)
from .holders import holder_ref
from .models import Asset, AssetLink


def asset_by_token(token: str) -> Asset | None:
    if not token or len(token) > 64:
        return None
    return Asset.objects.filter(token=token).first()


def assets_ready(assets: Any) -> bool:
    """True when every asset given (rows, or a holder's `.assets`) is deposited."""
    rows = list(assets.values()) if hasattr(assets, "values") else list(assets)
    return all(getattr(row, "status", Asset.Status.DEPOSITED) == Asset.Status.DEPOSITED for row in rows)


def holder_assets_pending(holder: Any) -> int:
    """How many assets linked to `holder` are not deposited yet (trials wait for zero)."""
    kind, holder_id = holder_ref(holder)
    return AssetLink.objects.filter(holder_kind=kind, holder_id=holder_id).exclude(
        asset__status=Asset.Status.DEPOSITED).count()


def manifest_row(asset: Asset, path: str) -> dict[str, Any]:
    """One line of an export's assets/manifest.csv (see kinds.MANIFEST_COLUMNS)."""
    import json

    return {
        "key_within_experiment": asset.key_within_experiment, "kind": asset.kind, "path": path,
        "extension": asset.extension, "content_type": asset.content_type, "size": asset.size or "",
        "sha256": asset.sha256, "personal": str(asset.personal).lower(),
        "variables": json.dumps(asset.variables, sort_keys=True), "parent_kind": asset.parent_kind,
        "parent_id": asset.parent_id,
        "deposited_at": asset.deposited_at.isoformat() if asset.deposited_at else "",
    }
