"""The assets/ folder of an export, filled by the assets app through one hook.

Storage back-ends, regeneration of function assets and downloads of external ones belong to the
assets app, so the export asks it. THE HOOK: `settings.EXPORT_ASSETS_HOOK` (default
"assets.exporting.export_assets") names a function

    export_assets(*, destination: Path, mode: str, anonymize: bool) -> Iterable[dict]

that writes each exported asset's file under `destination` (readable relative paths, e.g.
"participants/17/recording.wav") and yields one dict per file with at least "path" (relative to
`destination`) plus whatever describes it (key, kind, personal, holder, status...). It must honour
`mode` ("experiment": assets made during the experiment; "all": also cached, function-made and
external ones; "none" is never passed) and skip personal assets when `anonymize` is true. Until
that function exists, exports have no assets/ folder. The export checks every path stays inside
assets/, hashes every file into manifest.json and writes assets/manifest.csv from the dicts.
"""

import importlib
from pathlib import Path
from typing import Any

from django.conf import settings

from .archive import ArchiveError, sha256_file
from .csvsafe import write_rows

ASSET_MODES = ("experiment", "all", "none")
DEFAULT_HOOK = "assets.exporting.export_assets"


def load_hook():
    """The assets app's exporter, or None while it has none."""
    dotted = getattr(settings, "EXPORT_ASSETS_HOOK", DEFAULT_HOOK)
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, attr, None)


def export_assets(writer: Any, *, mode: str, anonymize: bool, progress: Any) -> dict[str, Any]:
    """Fill assets/ via the hook; returns a summary for the manifest."""
    if mode == "none":
        return {"mode": mode, "files": 0}
    hook = load_hook()
    if hook is None:
        return {"mode": mode, "files": 0, "note": "no asset exporter installed"}
    destination: Path = writer.root / "assets"
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    rows: list[dict[str, Any]] = []
    bar = progress("assets", 0)
    for row in hook(destination=destination, mode=mode, anonymize=anonymize):
        rel = str(row.get("path", ""))
        target = (destination / rel).resolve()
        try:
            target.relative_to(root)
        except ValueError:
            raise ArchiveError(f"asset path {rel!r} leaves the assets folder") from None
        if not target.is_file() or target.is_symlink():
            raise ArchiveError(f"the asset exporter reported {rel!r} but wrote no file there")
        name = f"assets/{target.relative_to(root).as_posix()}"
        with open(target, "rb") as stream:
            writer.record(name, sha256_file(stream), target.stat().st_size)
        rows.append({**row, "path": name})
        bar.update(1)
    bar.close()
    header: dict[str, None] = {"path": None}
    for row in rows:
        header.update(dict.fromkeys(row))
    with writer.text("assets/manifest.csv") as text:
        write_rows(text, list(header), ([r.get(k) for k in header] for r in rows))
    return {"mode": mode, "files": len(rows)}
