"""Files of an export being written: every file's sha256 and size recorded for the manifest."""

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..dbio import HashingWriter


@dataclass
class ExportWriter:
    """Writes files under the staging root and records their checksums for the manifest."""

    root: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def binary(self, name: str) -> "_Sink":
        return _Sink(self, name)

    def text(self, name: str) -> "_TextSink":
        return _TextSink(self, name)

    def record(self, name: str, sha256: str, size: int) -> None:
        self.files[name] = {"sha256": sha256, "size": size}


class _Sink:
    def __init__(self, writer: ExportWriter, name: str) -> None:
        self.writer, self.name = writer, name
        path = writer.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stream = open(path, "wb")  # noqa: SIM115 (closed in __exit__)
        self.hashing = HashingWriter(self.stream)

    def __enter__(self) -> HashingWriter:
        return self.hashing

    def __exit__(self, *exc) -> None:
        self.stream.close()
        if exc[0] is None:
            self.writer.record(self.name, self.hashing.hexdigest, self.hashing.size)


class _TextSink(_Sink):
    def __enter__(self) -> IO[str]:  # type: ignore[override]
        self.text = io.TextIOWrapper(self.hashing, encoding="utf-8", newline="")
        return self.text

    def __exit__(self, *exc) -> None:
        self.text.flush()
        self.text.detach()
        super().__exit__(*exc)


def zip_folder(folder: Path, target: IO[bytes]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1,
                         allowZip64=True) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
