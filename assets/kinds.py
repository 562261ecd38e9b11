"""The asset kinds a researcher declares: ExperimentAsset, Recording, CachedAsset,
CachedFunctionAsset, FastFunctionAsset, ExternalAsset, ExternalS3Asset, InheritedAssets.

A kind is a declaration. Declared on a holder (`Module(assets=...)`, `StaticNode(assets=...)`,
`trial.add_assets(...)`) it becomes an `Asset` row when the holder is registered (at deploy,
or when the node/trial is created); `ExperimentAsset(...).deposit()` creates its row at once.
After registration `spec.id`, `spec.url` and `spec.row` give the row.
"""

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from experiments.timeline.elements import ExperimentError

from .functions import function_path
from .keys import InvalidKey, clean_extension, clean_key, clean_relative_path


class AssetSpec:
    """Base of every kind. `key_within_experiment` names the asset in the whole experiment
    (generated from its holder and local key when not given)."""

    kind: ClassVar[str] = ""

    def __init__(self, *, key_within_experiment: str | None = None, description: str = "",
                 extension: str | None = None, variables: Mapping[str, Any] | None = None,
                 personal: bool = False) -> None:
        try:
            self.key_within_experiment = (
                clean_key(key_within_experiment, what="key_within_experiment", max_length=512)
                if key_within_experiment is not None else None
            )
            self.extension = clean_extension(extension)
        except InvalidKey as exc:
            raise ExperimentError(str(exc)) from None
        self.description = str(description or "")[:1024]
        self.variables = dict(variables or {})
        self.personal = bool(personal)
        self.row = None

    # After registration -------------------------------------------------------------------
    def _registered(self):
        if self.row is None:
            raise ExperimentError(
                f"{type(self).__name__} has no row yet: it is created when its holder is "
                f"registered (deploy) or when you call .deposit()"
            )
        return self.row

    @property
    def id(self) -> int:
        return self._registered().pk

    @property
    def url(self) -> str:
        return self._registered().url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key_within_experiment or ''}>".replace(" >", ">")


class ExperimentAsset(AssetSpec):
    """A file of this deployment (generated or collected during the experiment).

    `ExperimentAsset(local_key="x", input_path=..., extension=".wav", parent=participant)
    .deposit(async_=True, delete_input=True)` keeps the input durably, commits the row and
    deposits it on a worker; `async_=False` deposits before returning.
    """

    kind = "experiment"

    def __init__(self, local_key: str | None = None, input_path: str | Path | None = None,
                 extension: str | None = None, parent: Any = None,
                 variables: Mapping[str, Any] | None = None, personal: bool = False,
                 key_within_experiment: str | None = None, description: str = "") -> None:
        if extension is None and input_path is not None and Path(input_path).suffix:
            extension = Path(input_path).suffix
        super().__init__(key_within_experiment=key_within_experiment, description=description,
                         extension=extension, variables=variables, personal=personal)
        try:
            self.local_key = clean_key(local_key, what="local_key") if local_key is not None else None
        except InvalidKey as exc:
            raise ExperimentError(str(exc)) from None
        self.input_path = Path(input_path) if input_path is not None else None
        self.parent = parent

    def deposit(self, async_: bool = False, delete_input: bool = False):
        """Create the row and deposit the file; returns the Asset row."""
        from .services import asset_deposit_new

        if self.input_path is None:
            raise ExperimentError(f"{type(self).__name__}.deposit() needs an input_path")
        self.row = asset_deposit_new(spec=self, async_=async_, delete_input=delete_input)
        return self.row


class Recording(ExperimentAsset):
    """An ExperimentAsset collected from a participant's microphone (AudioRecordControl)."""

    kind = "recording"


class CachedAsset(AssetSpec):
    """A file or folder prepared before launch (a path relative to the experiment folder),
    uploaded on deploy and reused across deployments: its storage key is its content hash, so
    an unchanged file is never uploaded twice and identical bytes are stored once."""

    kind = "cached"

    def __init__(self, input_path: str | Path, key_within_experiment: str | None = None,
                 extension: str | None = None, description: str = "",
                 variables: Mapping[str, Any] | None = None, personal: bool = False) -> None:
        path = Path(input_path)
        if extension is None and path.suffix:
            extension = path.suffix
        super().__init__(key_within_experiment=key_within_experiment, description=description,
                         extension=extension, variables=variables, personal=personal)
        self.input_path = path


class FunctionAssetBase(AssetSpec):
    def __init__(self, function: Callable[..., Any], key_within_experiment: str | None = None,
                 arguments: Mapping[str, Any] | None = None, extension: str | None = None,
                 description: str = "", variables: Mapping[str, Any] | None = None,
                 personal: bool = False) -> None:
        super().__init__(key_within_experiment=key_within_experiment, description=description,
                         extension=extension, variables=variables, personal=personal)
        self.function_path = function_path(function)
        self.function = function
        self.arguments = dict(arguments or {})


class CachedFunctionAsset(FunctionAssetBase):
    """A file made by `function(path=..., **arguments)`, generated once on a worker at deploy and
    cached across deployments under a key hashing the function's source and arguments."""

    kind = "cached_function"


class FastFunctionAsset(FunctionAssetBase):
    """A file made by `function(path=..., **arguments)` whenever a browser asks for it; never
    stored (browsers may cache it briefly)."""

    kind = "fast_function"


class ExternalAsset(AssetSpec):
    """A file Chorus does not manage, at a URL."""

    kind = "external"

    def __init__(self, url: str, key_within_experiment: str | None = None, description: str = "",
                 extension: str | None = None, variables: Mapping[str, Any] | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ExperimentError(f"ExternalAsset needs an http(s) URL, not {url!r}")
        super().__init__(key_within_experiment=key_within_experiment, description=description,
                         extension=extension, variables=variables)
        self.source_url = url


class ExternalS3Asset(AssetSpec):
    """An object in an S3 bucket Chorus does not manage; browsers get presigned URLs."""

    kind = "external_s3"

    def __init__(self, bucket: str, key: str, key_within_experiment: str | None = None,
                 description: str = "", extension: str | None = None,
                 variables: Mapping[str, Any] | None = None) -> None:
        if not bucket or not isinstance(bucket, str):
            raise ExperimentError("ExternalS3Asset needs a bucket name")
        try:
            self.s3_key = clean_relative_path(key, what="S3 key")
        except InvalidKey as exc:
            raise ExperimentError(str(exc)) from None
        if extension is None and Path(self.s3_key).suffix:
            extension = Path(self.s3_key).suffix
        super().__init__(key_within_experiment=key_within_experiment, description=description,
                         extension=extension, variables=variables)
        self.bucket = bucket


class InheritedAsset(CachedAsset):
    """One asset of an earlier export (see InheritedAssets)."""

    kind = "inherited"

    def __init__(self, input_path: Path, key_within_experiment: str, *, extension: str | None,
                 sha256: str = "", **kwargs: Any) -> None:
        super().__init__(input_path, key_within_experiment=key_within_experiment,
                         extension=extension, **kwargs)
        self.expected_sha256 = sha256


#: Columns of an export's assets/manifest.csv (exports write it; InheritedAssets reads it).
MANIFEST_COLUMNS = ["key_within_experiment", "kind", "path", "extension", "content_type", "size",
                    "sha256", "personal", "variables", "parent_kind", "parent_id", "deposited_at"]


class InheritedAssets(Mapping):
    """The assets of an earlier export, to reuse in a new experiment (e.g. to rate last month's
    recordings): `InheritedAssets("old_export/assets/manifest.csv", key="previous")`.

    A mapping from the old key_within_experiment to an asset declaration whose key becomes
    "<key>/<old key>"; give it to a holder (`Module("rate", ..., assets=inherited)`) or use the
    values in nodes. Paths in the manifest must stay inside the export's folder.
    """

    def __init__(self, path: str | Path, key: str, *, include_personal: bool = False) -> None:
        manifest = Path(path)
        if manifest.is_dir():
            manifest = manifest / "manifest.csv"
        if not manifest.is_file():
            raise ExperimentError(f"InheritedAssets: no manifest at {manifest}")
        try:
            self.key = clean_key(key, what="InheritedAssets key")
        except InvalidKey as exc:
            raise ExperimentError(str(exc)) from None
        self.manifest = manifest
        self._items: dict[str, InheritedAsset] = {}
        base = manifest.parent.resolve()
        with open(manifest, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"key_within_experiment", "path"} - set(reader.fieldnames or [])
            if missing:
                raise ExperimentError(f"{manifest}: missing column(s) {sorted(missing)}")
            for line, row in enumerate(reader, start=2):
                self._add(row, base, line, include_personal)

    def _add(self, row: dict[str, str], base: Path, line: int, include_personal: bool) -> None:
        where = f"{self.manifest}:{line}"
        personal = str(row.get("personal", "")).strip().lower() in ("1", "true", "yes")
        if personal and not include_personal:
            return
        try:
            old_key = clean_key(row.get("key_within_experiment"), what="key_within_experiment")
            relative = clean_relative_path(row.get("path"), what="path")
        except InvalidKey as exc:
            raise ExperimentError(f"{where}: {exc}") from None
        # Paths are relative to the manifest's folder, or to the export's root ("assets/...").
        root = base.parent if base.name == "assets" else base
        candidates = [(base / relative).resolve(), (root / relative).resolve()]
        inside = [path for path in candidates if root in path.parents]
        if not inside:
            raise ExperimentError(f"{where}: path {relative!r} leaves the export folder")
        path = next((path for path in inside if path.exists()), None)
        if path is None:
            raise ExperimentError(f"{where}: file {relative!r} is missing")
        try:
            variables = json.loads(row.get("variables") or "{}")
        except json.JSONDecodeError:
            raise ExperimentError(f"{where}: variables is not JSON") from None
        self._items[old_key] = InheritedAsset(
            path, key_within_experiment=f"{self.key}/{old_key}",
            extension=row.get("extension") or None, sha256=(row.get("sha256") or "").strip(),
            variables=variables if isinstance(variables, dict) else {"value": variables},
            description=f"inherited from {self.manifest}", personal=personal,
        )

    def __getitem__(self, key: str) -> InheritedAsset:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


KINDS: dict[str, type[AssetSpec]] = {
    cls.kind: cls for cls in (ExperimentAsset, Recording, CachedAsset, CachedFunctionAsset,
                              FastFunctionAsset, ExternalAsset, ExternalS3Asset, InheritedAsset)
}
CACHED_KINDS = ("cached", "cached_function", "inherited")
INBOX_KINDS = ("experiment", "recording")


def asset(source: Any, *, cache: bool | None = None, **kwargs: Any) -> AssetSpec:
    """PsyNet's `asset(...)`: the asset kind that fits `source`.

    An http(s) URL is an ExternalAsset; a function a CachedFunctionAsset (a FastFunctionAsset
    with `cache=False`); a path (relative to the experiment folder) a CachedAsset, uploaded once
    per content whatever `cache` says, since identical bytes are stored once. Other keywords go
    to that class (`extension=`, `arguments=`, `description=`, ...).
    """
    if isinstance(source, str) and source.startswith(("https://", "http://")):
        return ExternalAsset(source, **kwargs)
    if callable(source):
        return (FastFunctionAsset if cache is False else CachedFunctionAsset)(source, **kwargs)
    if isinstance(source, str | Path):
        return CachedAsset(source, **kwargs)
    raise ExperimentError(f"asset() takes a URL, a path or a function, not {source!r}")
