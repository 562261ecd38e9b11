"""Reads: asset URLs, access to personal assets, readiness, export manifest rows."""

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .holders import holder_ref
from .keys import InvalidKey, clean_relative_path
from .models import Asset, AssetLink
from .storage import external_s3_storage, get_storage

_PERSONAL_SALT = "chorus.assets.personal"


def asset_by_token(token: str) -> Asset | None:
    if not token or len(token) > 64:
        return None
    return Asset.objects.filter(token=token).first()


def personal_access_token(asset: Asset) -> str:
    """A signed, expiring grant to read `asset` as its participant (goes in the URL)."""
    return signing.dumps({"a": asset.token, "p": asset.participant_id}, salt=_PERSONAL_SALT,
                         compress=True)


def personal_access_ok(asset: Asset, grant: str | None, *, user: Any = None) -> bool:
    """Staff may read any asset; others only with a grant minted for this asset and its owner."""
    if user is not None and getattr(user, "is_active", False) and getattr(user, "is_staff", False):
        return True
    if not grant or asset.participant_id is None:
        return False
    try:
        data = signing.loads(grant, salt=_PERSONAL_SALT, max_age=settings.ASSET_URL_EXPIRY)
    except signing.BadSignature:
        return False
    return isinstance(data, dict) and data.get("a") == asset.token and data.get("p") == asset.participant_id


def asset_url(asset: Asset, subpath: str = "") -> str:
    """The URL a page uses: the source URL of an external asset, a presigned URL of an S3 object,
    or Chorus's token-keyed view (with a signed grant for personal assets)."""
    if asset.kind == Asset.Kind.EXTERNAL:
        return asset.source_url
    if subpath:
        subpath = clean_relative_path(subpath, what="file in folder")
    if not asset.personal and asset.status == Asset.Status.DEPOSITED and asset.kind != Asset.Kind.FAST_FUNCTION:
        direct = _direct_url(asset, subpath)
        if direct:
            return direct
    url = reverse("asset-file", kwargs={"token": asset.token})
    if subpath:
        url += quote(subpath)
    if asset.personal:
        url += "?access=" + personal_access_token(asset)
    return url


def _direct_url(asset: Asset, subpath: str = "") -> str | None:
    key = f"{asset.storage_key}/{subpath}" if subpath else asset.storage_key
    if asset.kind == Asset.Kind.EXTERNAL_S3:
        return external_s3_storage(asset.bucket).url(key, expires=settings.ASSET_URL_EXPIRY,
                                           content_type=asset.content_type)
    return get_storage().url(key, expires=settings.ASSET_URL_EXPIRY,
                             content_type="" if subpath else asset.content_type)


def storage_key_for(asset: Asset, subpath: str = "") -> str:
    if asset.is_folder:
        if not subpath:
            raise InvalidKey("a folder asset needs a file path")
        return f"{asset.storage_key}/{clean_relative_path(subpath, what='file in folder')}"
    return asset.storage_key


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
