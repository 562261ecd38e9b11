"""Files arriving with a response: one small wrapper over Django uploads and local paths, and
the checks an upload must pass before anything is kept (size, sniffed media type)."""

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.timeline.controls import AnswerFormatError

CHUNK = 1024 * 1024

# Content types by extension where the platform's table is missing or unhelpful.
_TYPES = {
    ".wav": "audio/wav", ".webm": "audio/webm", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".m4a": "audio/mp4", ".mp3": "audio/mpeg", ".flac": "audio/flac",
    ".mp4": "video/mp4", ".json": "application/json", ".csv": "text/csv", ".txt": "text/plain",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp",
}
#: Extension for each media type a recording may have.
EXTENSIONS = {"audio/webm": ".webm", "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/mp4": ".m4a",
              "audio/mpeg": ".mp3", "audio/flac": ".flac"}


def content_type_for(extension: str) -> str:
    extension = (extension or "").lower()
    return _TYPES.get(extension) or mimetypes.types_map.get(extension) or "application/octet-stream"


def sniff_media_type(head: bytes) -> str | None:
    """The audio container a file really is, from its first bytes (never trust the declared type)."""
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"  # Matroska/WebM (Chromium's MediaRecorder)
    if head.startswith(b"OggS"):
        return "audio/ogg"  # Firefox's MediaRecorder
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "audio/mp4"  # Safari's MediaRecorder
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


class UploadRejected(AnswerFormatError):
    """An upload refused before anything was kept: too large (413) or of the wrong type (415)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """A file to keep: a Django UploadedFile or a local path (bots, researcher code)."""

    name: str
    size: int
    declared_type: str = ""
    _file: Any = None
    _path: Path | None = None

    @classmethod
    def from_django(cls, uploaded: Any) -> "Upload":
        return cls(name=uploaded.name or "upload", size=int(uploaded.size or 0),
                   declared_type=getattr(uploaded, "content_type", "") or "", _file=uploaded)

    @classmethod
    def from_path(cls, path: str | Path) -> "Upload":
        path = Path(path)
        return cls(name=path.name, size=path.stat().st_size, _path=path)

    @classmethod
    def of(cls, value: Any) -> "Upload":
        if isinstance(value, Upload):
            return value
        if isinstance(value, str | Path):
            return cls.from_path(value)
        return cls.from_django(value)

    def chunks(self) -> Iterator[bytes]:
        if self._path is not None:
            with open(self._path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
        else:
            self._file.seek(0)
            yield from self._file.chunks(CHUNK)

    def head(self, n: int = 64) -> bytes:
        if self._path is not None:
            with open(self._path, "rb") as handle:
                return handle.read(n)
        self._file.seek(0)
        data = self._file.read(n)
        self._file.seek(0)
        return data

    @property
    def local_path(self) -> Path | None:
        if self._path is not None:
            return self._path
        path = getattr(self._file, "temporary_file_path", None)
        return Path(path()) if callable(path) else None


def check_upload(upload: Upload, *, max_bytes: int, accepted_types: tuple[str, ...]) -> str:
    """Return the sniffed media type, or raise UploadRejected (413/415) / AnswerFormatError (400)."""
    if upload.size <= 0:
        raise AnswerFormatError("the uploaded file is empty")
    if upload.size > max_bytes:
        raise UploadRejected(f"the uploaded file is {upload.size} bytes; the limit is {max_bytes}", 413)
    media_type = sniff_media_type(upload.head())
    if media_type is None or media_type not in accepted_types:
        raise UploadRejected(
            f"the uploaded file is not one of the accepted types ({', '.join(accepted_types)})", 415)
    return media_type


#: Room for the multipart envelope and the JSON payload beside the files.
MULTIPART_OVERHEAD = 1024 * 1024
MAX_FILES_PER_RESPONSE = 4


def upload_refusal(request: Any) -> tuple[int, str] | None:
    """(status, message) if a multipart body must be refused before it is read: Django bounds
    form fields but not files, so the total is bounded here by its declared length."""
    from django.conf import settings

    length = request.META.get("CONTENT_LENGTH")
    try:
        length = int(length) if length else None
    except ValueError:
        return 400, "invalid Content-Length"
    if length is None:
        return 411, "uploads need a Content-Length"
    limit = settings.ASSET_UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD
    if length > limit:
        return 413, f"request body too large ({length} bytes; the limit is {limit})"
    return None


def split_multipart(data: Any, files: Any) -> tuple[str, dict[str, Any], str | None]:
    """The `payload` field (the JSON body, as text: the caller parses it strictly) and the
    uploads by field name, or a problem to answer with 400."""
    raw = data.get("payload") if hasattr(data, "get") else None
    if not isinstance(raw, str):
        return "", {}, "a multipart submit needs a `payload` field holding the JSON body"
    uploads: dict[str, Any] = {}
    for name in files:
        values = files.getlist(name)
        if len(values) != 1:
            return "", {}, f"file field '{name}' appears {len(values)} times"
        uploads[name] = values[0]
    if len(uploads) > MAX_FILES_PER_RESPONSE:
        return "", {}, f"at most {MAX_FILES_PER_RESPONSE} files per response"
    return raw, uploads, None
