"""Where a browser fetches an asset: its URL, and the signed grants of personal assets.

No queries and no imports of the models (the Asset model's `url` uses this), so it sits below
them; choices are read from the row itself (`asset.Kind`).
"""

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .keys import InvalidKey, clean_relative_path
from .storage import external_s3_storage, get_storage

if TYPE_CHECKING:
    from .models import Asset

_PERSONAL_SALT = "chorus.assets.personal"


def personal_access_token(asset: "Asset") -> str:
    """A signed, expiring grant to read `asset` as its participant (goes in the URL)."""
    return signing.dumps({"a": asset.token, "p": asset.participant_id}, salt=_PERSONAL_SALT,
                         compress=True)


def personal_access_ok(asset: "Asset", grant: str | None, *, user: Any = None) -> bool:
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


def asset_url(asset: "Asset", subpath: str = "") -> str:
    """The URL a page uses: the source URL of an external asset, a presigned URL of an S3 object,
    or Chorus's token-keyed view (with a signed grant for personal assets)."""
    if asset.kind == asset.Kind.EXTERNAL:
        return asset.source_url
    if subpath:
        subpath = clean_relative_path(subpath, what="file in folder")
    if not asset.personal and asset.status == asset.Status.DEPOSITED and asset.kind != asset.Kind.FAST_FUNCTION:
        direct = _direct_url(asset, subpath)
        if direct:
            return direct
    url = reverse("asset-file", kwargs={"token": asset.token})
    if subpath:
        url += quote(subpath)
    if asset.personal:
        url += "?access=" + personal_access_token(asset)
    return url


def _direct_url(asset: "Asset", subpath: str = "") -> str | None:
    key = f"{asset.storage_key}/{subpath}" if subpath else asset.storage_key
    if asset.kind == asset.Kind.EXTERNAL_S3:
        return external_s3_storage(asset.bucket).url(key, expires=settings.ASSET_URL_EXPIRY,
                                           content_type=asset.content_type)
    return get_storage().url(key, expires=settings.ASSET_URL_EXPIRY,
                             content_type="" if subpath else asset.content_type)


def storage_key_for(asset: "Asset", subpath: str = "") -> str:
    if asset.is_folder:
        if not subpath:
            raise InvalidKey("a folder asset needs a file path")
        return f"{asset.storage_key}/{clean_relative_path(subpath, what='file in folder')}"
    return asset.storage_key
