"""Recordings: a participant's upload becomes a `Recording` asset inside the submit transaction."""

from collections.abc import Mapping
from typing import Any

from ..kinds import Recording
from ..models import Asset
from ..uploads import EXTENSIONS, Upload
from .registration import asset_deposit_new


def recording_create(*, upload: Upload, local_key: str, parent: Any, media_type: str,
                     personal: bool = True, variables: Mapping[str, Any] | None = None) -> Asset:
    """Keep an accepted (already checked) upload durably and create its pending Recording,
    linked to `parent` (the trial, else the participant) as `local_key`; deposited after commit."""
    spec = Recording(local_key=local_key, extension=EXTENSIONS.get(media_type, ""), parent=parent,
                     variables=dict(variables or {}), personal=personal)
    return asset_deposit_new(spec=spec, async_=True, source=upload, content_type=media_type)
