"""The manifest of an export or snapshot, and safe reading of an archive (folder or zip).

Every file of an archive is listed in manifest.json with its sha256; restore trusts nothing
else: an unknown format version, a path that leaves the archive, a file missing from the
manifest or one whose bytes do not match its checksum is refused before the database is touched.
"""

import hashlib
import json
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

FORMAT = "chorus-export"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = {1}
MANIFEST = "manifest.json"


class ArchiveError(Exception):
    """The archive cannot be used; the message says why."""


def safe_member(name: str) -> str:
    """`name` as a relative POSIX path inside the archive, or ArchiveError."""
    if not name or "\\" in name or "\x00" in name:
        raise ArchiveError(f"refusing archive: unsafe path {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"refusing archive: path {name!r} leaves the archive")
    return str(path)


def sha256_file(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


class Archive:
    """Read access to an export folder or a zip (export or snapshot), paths checked."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise ArchiveError(f"{self.path} does not exist")
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            self.names = self._folder_names()
        elif zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            self.names = self._zip_names()
        else:
            raise ArchiveError(f"{self.path} is neither an export folder nor a zip archive")
        if MANIFEST not in self.names:
            raise ArchiveError(f"{self.path} has no {MANIFEST}; it is not a Chorus export or snapshot")
        with self.open(MANIFEST) as stream:
            try:
                self.manifest: dict[str, Any] = json.load(stream)
            except ValueError as exc:
                raise ArchiveError(f"{MANIFEST} is not valid JSON: {exc}") from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise ArchiveError(f"refusing archive: {MANIFEST} is not a {FORMAT} manifest")
        version = self.manifest.get("format_version")
        if version not in SUPPORTED_VERSIONS:
            raise ArchiveError(
                f"refusing archive: unknown format version {version!r} "
                f"(this Chorus reads version {', '.join(map(str, sorted(SUPPORTED_VERSIONS)))})")

    def _folder_names(self) -> set[str]:
        root = self.path.resolve()
        names = set()
        for item in self.path.rglob("*"):
            if item.is_symlink():
                raise ArchiveError(f"refusing archive: {item} is a symbolic link")
            if item.is_file():
                item.resolve().relative_to(root)
                names.add(safe_member(item.relative_to(self.path).as_posix()))
        return names

    def _zip_names(self) -> set[str]:
        assert self._zip is not None
        names = set()
        for info in self._zip.infolist():
            name = safe_member(info.filename.rstrip("/") if info.is_dir() else info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"refusing archive: {info.filename!r} is a symbolic link")
            if not info.is_dir():
                if name in names:
                    raise ArchiveError(f"refusing archive: {name!r} appears twice")
                names.add(name)
        return names

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        name = safe_member(name)
        if name not in self.names:
            raise ArchiveError(f"{name} is missing from the archive")
        if self._zip is not None:
            with self._zip.open(name) as stream:
                yield stream
        else:
            with open(self.path / name, "rb") as stream:
                yield stream

    def files(self) -> dict[str, dict[str, Any]]:
        files = self.manifest.get("files")
        if not isinstance(files, dict):
            raise ArchiveError(f"refusing archive: {MANIFEST} has no file list")
        return files

    def verify(self, prefix: str = "") -> None:
        """Check that every file under `prefix` is listed and matches its sha256."""
        listed = self.files()
        for name in sorted(n for n in self.names if n.startswith(prefix) and n != MANIFEST):
            if name not in listed:
                raise ArchiveError(f"refusing archive: {name} is not listed in {MANIFEST}")
        for name, entry in sorted(listed.items()):
            safe_member(name)
            if not name.startswith(prefix):
                continue
            if name not in self.names:
                raise ArchiveError(f"refusing archive: {name} is listed in {MANIFEST} but missing")
            with self.open(name) as stream:
                actual = sha256_file(stream)
            if not isinstance(entry, dict) or actual != entry.get("sha256"):
                raise ArchiveError(f"refusing archive: checksum mismatch for {name} "
                                   "(the file was changed after the export)")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def manifest_json(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n").encode()
