"""The inbox: where an accepted upload is kept, fsynced, before its request returns.

A worker deposits it from here and deletes it once the row says `deposited`. Web processes and
workers must share ASSET_INBOX_DIR (one machine, or a shared volume). Files of requests that
failed are removed at once (`discard_staged_on_error`) or by the backstop's sweep.
"""

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from django.conf import settings

from ..uploads import Upload

_staged: ContextVar[list[Path] | None] = ContextVar("chorus_staged_inputs", default=None)


def inbox_dir() -> Path:
    path = Path(settings.ASSET_INBOX_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def in_inbox(path: str | Path) -> bool:
    try:
        return inbox_dir() in Path(path).resolve().parents
    except OSError:
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(chunks: Iterator[bytes], target: Path) -> int:
    size = 0
    with open(target, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size


def stage(source: Upload | str | Path, extension: str = "") -> Path:
    """Copy `source` (a file, a folder or an upload) into the inbox durably; return its path."""
    inbox = inbox_dir()
    name = f"{uuid.uuid4().hex}{extension}"
    final = inbox / name
    tmp = inbox / f".staging-{name}"
    if isinstance(source, str | Path) and Path(source).is_dir():
        shutil.copytree(source, tmp)
        for dirpath, _dirs, files in os.walk(tmp):
            for file in files:
                with open(Path(dirpath) / file, "rb") as handle:
                    os.fsync(handle.fileno())
    else:
        _write_durably(Upload.of(source).chunks(), tmp)
    os.replace(tmp, final)
    _fsync_dir(inbox)
    collected = _staged.get()
    if collected is not None:
        collected.append(final)
    return final


def remove(path: str | Path) -> None:
    path = Path(path)
    if not in_inbox(path):
        return
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def discard_staged_on_error() -> Iterator[None]:
    """Around a request's transaction: if it raises (nothing was committed), delete what it staged."""
    token = _staged.set([])
    try:
        yield
    except BaseException:
        for path in _staged.get() or []:
            remove(path)
        raise
    finally:
        _staged.reset(token)


def sweep_orphans(*, referenced: set[str], older_than: float) -> int:
    """Delete inbox entries older than `older_than` seconds that no undeposited row references."""
    cutoff = time.time() - older_than
    removed = 0
    for entry in inbox_dir().iterdir():
        try:
            if entry.stat().st_mtime > cutoff or str(entry) in referenced:
                continue
        except FileNotFoundError:
            continue
        remove(entry)
        removed += 1
    return removed
