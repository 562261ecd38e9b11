"""Creating asset rows and links: declared assets of holders, and new experiment assets."""

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from experiments.timeline.elements import ExperimentError

from ..functions import cache_key, fill_arguments
from ..holders import holder_kind, holder_ref
from ..keys import InvalidKey, clean_key, derived_key
from ..kinds import (
    AssetSpec,
    CachedAsset,
    ExperimentAsset,
    ExternalAsset,
    ExternalS3Asset,
    FastFunctionAsset,
    FunctionAssetBase,
    InheritedAsset,
)
from ..models import Asset, AssetLink
from ..uploads import Upload, content_type_for
from . import inbox
from .deposit import asset_deposit, deposit_enqueue
from .files import (
    cached_storage_key,
    content_sha256,
    experiment_path,
    function_storage_key,
)


def _holder_arguments(holder: Any) -> dict[str, Any]:
    getter = getattr(holder, "asset_arguments", None)
    return getter() if callable(getter) else {}


def _participant_id(holder: Any) -> int | None:
    if holder is None or isinstance(holder, tuple):
        return None
    if holder_kind(holder) == "participant":
        return holder.pk
    return getattr(holder, "participant_id", None)


def _declared_fields(spec: AssetSpec, holder: Any) -> dict[str, Any]:
    """The row fields a declaration determines (identical on every deploy if nothing changed)."""
    fields: dict[str, Any] = {
        "kind": spec.kind, "description": spec.description, "extension": spec.extension,
        "variables": spec.variables, "personal": spec.personal,
        "content_type": content_type_for(spec.extension) if spec.extension else "",
    }
    if isinstance(spec, CachedAsset):
        path = experiment_path(spec.input_path)
        if not path.exists():
            raise ExperimentError(f"{type(spec).__name__}: {path} does not exist")
        sha, size = content_sha256(path)
        if isinstance(spec, InheritedAsset) and spec.expected_sha256 and not path.is_dir() \
                and spec.expected_sha256 != sha:
            raise ExperimentError(f"inherited asset {spec.key_within_experiment}: {path} changed "
                                  f"since it was exported (sha256 differs)")
        fields.update(input_path=str(path), delete_input=False, is_folder=path.is_dir(), sha256=sha,
                      size=size, storage_key=cached_storage_key(
                          sha256=sha, extension=spec.extension, is_folder=path.is_dir()))
    elif isinstance(spec, FunctionAssetBase):
        arguments = fill_arguments(spec.function, spec.arguments, _holder_arguments(holder))
        key = cache_key(spec.function, arguments, spec.extension)
        fields.update(function=spec.function_path, arguments=arguments, cache_key=key)
        if not isinstance(spec, FastFunctionAsset):
            fields["storage_key"] = function_storage_key(key=key, extension=spec.extension)
    elif isinstance(spec, ExternalAsset):
        fields["source_url"] = spec.source_url
    elif isinstance(spec, ExternalS3Asset):
        fields.update(bucket=spec.bucket, storage_key=spec.s3_key)
    else:
        raise ExperimentError(f"{type(spec).__name__} cannot be declared on a holder; "
                              f"use .deposit() (e.g. ExperimentAsset(...).deposit())")
    if spec.kind in ("fast_function", "external", "external_s3"):
        fields["status"] = Asset.Status.DEPOSITED  # nothing to deposit
    return fields


def asset_link(*, asset: Asset, holder: Any, local_key: str) -> AssetLink:
    """Name `asset` on `holder` as `local_key` (replacing what that key named before)."""
    kind, holder_id = holder_ref(holder)
    link, _ = AssetLink.objects.update_or_create(
        holder_kind=kind, holder_id=holder_id, local_key=clean_key(local_key, what="local_key"),
        defaults={"asset": asset},
    )
    return link


@transaction.atomic
def asset_register(*, spec: AssetSpec | Asset, holder: Any = None, local_key: str | None = None) -> Asset:
    """Create (or update) the row of a declared asset and link it to `holder` as `local_key`.

    Idempotent: registering the same declaration again (a redeploy) keeps the row, and resets it
    to `pending` only when what it should contain changed (edited function, changed file).
    """
    return assets_register_many(items=[(spec, holder, local_key)])[0]


@transaction.atomic
def assets_register_many(*, items: list[tuple[Any, Any, str | None]]) -> list[Asset]:
    """`asset_register` for many (spec, holder, local_key) at once, in a few queries whatever
    their number (deploys register thousands of node stimuli)."""
    results: list[Any] = [None] * len(items)
    prepared: list[tuple[int, str, dict[str, Any]]] = []
    links: list[tuple[int, tuple[str, str], str]] = []
    for index, (spec, holder, local_key) in enumerate(items):
        try:
            local_key = clean_key(local_key, what="local_key") if local_key is not None else None
        except InvalidKey as exc:
            raise ExperimentError(str(exc)) from None
        if isinstance(spec, ExperimentAsset):
            if spec.parent is None and holder is not None:
                spec.parent = holder
            if spec.local_key is None:
                spec.local_key = local_key
            results[index] = asset_deposit_new(spec=spec, async_=True, delete_input=False)
            continue
        if isinstance(spec, Asset):
            results[index] = spec
        elif isinstance(spec, AssetSpec):
            if holder is not None:
                kind, holder_id = holder_ref(holder)
                key = spec.key_within_experiment or derived_key(kind, holder_id, local_key or spec.kind)
            else:
                key = spec.key_within_experiment or derived_key(spec.kind, uuid.uuid4().hex)
            fields = _declared_fields(spec, holder)
            if holder is not None and spec.personal:
                fields["participant_id"] = _participant_id(holder)
            prepared.append((index, key, fields))
        else:
            raise ExperimentError(f"{spec!r} is not an asset declaration")
        if holder is not None and local_key is not None:
            links.append((index, holder_ref(holder), local_key))

    keys = {key for _, key, _ in prepared}
    rows = {a.key_within_experiment: a for a in
            Asset.objects.select_for_update().filter(key_within_experiment__in=keys)}
    to_create: dict[str, Asset] = {}
    to_update: dict[str, Asset] = {}
    changed_fields: set[str] = set()
    for index, key, fields in prepared:
        asset = rows.get(key) or to_create.get(key)
        if asset is None:
            asset = to_create[key] = Asset(key_within_experiment=key, **fields)
        elif asset.pk is not None:
            changed = {name: value for name, value in fields.items()
                       if name != "status" and getattr(asset, name) != value}
            if changed:
                if "storage_key" in changed or "kind" in changed:
                    changed.update(status=fields.get("status", Asset.Status.PENDING), attempts=0,
                                   last_error="", deposited_at=None)
                for name, value in changed.items():
                    setattr(asset, name, value)
                changed_fields.update(changed)
                to_update[key] = asset
        results[index] = asset
    if to_create:
        Asset.objects.bulk_create(list(to_create.values()))
    if to_update:
        now = timezone.now()
        for asset in to_update.values():
            asset.updated_at = now
        Asset.objects.bulk_update(list(to_update.values()), [*sorted(changed_fields), "updated_at"])
    if links:
        unique = {(ref, key): results[index] for index, ref, key in links}  # the last one wins
        AssetLink.objects.bulk_create(
            [AssetLink(asset=asset, holder_kind=ref[0], holder_id=ref[1], local_key=key)
             for (ref, key), asset in unique.items()],
            update_conflicts=True, unique_fields=["holder_kind", "holder_id", "local_key"],
            update_fields=["asset"],
        )
    return results


def holder_add_assets(*, holder: Any, assets: Mapping[str, Any]) -> dict[str, Asset]:
    """Register several declarations (or link existing rows) on `holder`, by local key."""
    keys = list(assets)
    rows = assets_register_many(items=[(assets[key], holder, key) for key in keys])
    return dict(zip(keys, rows, strict=True))


def holder_register_pending(holder: Any) -> dict[str, Asset]:
    """Register what `holder.add_assets()` declared before the holder was saved."""
    pending = dict(holder.pending_assets())
    rows = holders_register_pending([holder])
    return dict(zip(pending, rows, strict=True))


def holders_register_pending(holders: list[Any]) -> list[Asset]:
    """Register, in a few queries, the assets declared on holders before they were saved (nodes
    made from templates at deploy, trials whose finalize_definition added assets). Cached assets
    made outside a deploy are deposited on a worker after commit."""
    items = []
    for holder in holders:
        pending = holder.take_pending_assets()
        items.extend((spec, holder, key) for key, spec in pending.items())
    if not items:
        return []
    rows = assets_register_many(items=items)
    for asset_id in {row.pk for row in rows if row.status == Asset.Status.PENDING
                     and row.kind in ("cached", "cached_function", "inherited")}:
        transaction.on_commit(lambda asset_id=asset_id: deposit_enqueue(asset_id), robust=True)
    return rows


def asset_deposit_new(*, spec: ExperimentAsset, async_: bool = True, delete_input: bool = False,
                      source: Upload | Path | None = None, content_type: str = "") -> Asset:
    """Keep the input durably, commit a `pending` row (linked to its parent by local key), and
    deposit it: on a worker after commit (`async_`), or now."""
    source = source if source is not None else spec.input_path
    if source is None:
        raise ExperimentError("an experiment asset needs an input (input_path)")
    original = Path(source) if isinstance(source, str | Path) else None
    if original is not None and not original.exists():
        raise ExperimentError(f"{type(spec).__name__}: {original} does not exist")
    parent = spec.parent
    parent_kind, parent_id = holder_ref(parent) if parent is not None else ("", "")
    key = spec.key_within_experiment or derived_key(
        spec.kind, f"{parent_kind}-{parent_id}" if parent is not None else "unparented",
        f"{spec.local_key or 'asset'}-{uuid.uuid4().hex[:12]}")
    with transaction.atomic():
        staged = inbox.stage(source, spec.extension)
        asset = Asset.objects.create(
            kind=spec.kind, key_within_experiment=key, description=spec.description,
            extension=spec.extension, content_type=content_type or content_type_for(spec.extension),
            is_folder=staged.is_dir(), input_path=str(staged), delete_input=True,
            personal=spec.personal, variables=spec.variables, parent_kind=parent_kind,
            parent_id=parent_id, participant_id=_participant_id(parent),
            next_attempt_at=timezone.now() + timezone.timedelta(seconds=settings.ASSET_BACKSTOP_GRACE),
        )
        if parent is not None and spec.local_key:
            asset_link(asset=asset, holder=parent, local_key=spec.local_key)
        if delete_input and original is not None:
            transaction.on_commit(lambda: _delete_original(original), robust=True)
        if async_:
            transaction.on_commit(lambda: deposit_enqueue(asset.pk), robust=True)
    spec.row = asset
    if not async_:
        asset_deposit(asset_id=asset.pk)
        asset.refresh_from_db()
    return asset


def _delete_original(path: Path) -> None:
    if path.is_dir():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
