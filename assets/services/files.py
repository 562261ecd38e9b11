"""Asset inputs on disk: content hashes, folder listings, storage keys derived from content.

Pure functions (no rows, no locks), shared by registration and deposit.
"""

import hashlib
import os
from pathlib import Path

from django.conf import settings

from experiments.loading import get_experiment

HASH_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files(path: Path) -> list[tuple[str, Path]]:
    """(relative posix path, file) for every file in a folder, sorted; hidden files skipped."""
    files = []
    for dirpath, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                full = Path(dirpath) / name
                files.append((full.relative_to(path).as_posix(), full))
    return sorted(files)


def content_sha256(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, or of a folder (over its files' names and hashes)."""
    if not path.is_dir():
        return file_sha256(path), path.stat().st_size
    digest, size = hashlib.sha256(), 0
    for relative, full in folder_files(path):
        digest.update(f"{relative}\0{file_sha256(full)}\n".encode())
        size += full.stat().st_size
    return digest.hexdigest(), size


def cached_storage_key(*, sha256: str, extension: str, is_folder: bool) -> str:
    return f"cache/folders/{sha256}" if is_folder else f"cache/sha256/{sha256}{extension}"


def function_storage_key(*, key: str, extension: str) -> str:
    return f"cache/function/{key}{extension}"


def experiment_path(path: Path) -> Path:
    """A researcher's relative path is relative to the experiment folder."""
    if path.is_absolute():
        return path
    return Path(get_experiment().path or settings.EXPERIMENT) / path
