"""Serving asset files: a view keyed by the asset's unguessable token.

Local files are streamed with Range support (seeking audio/video) and their content type;
S3 objects get a redirect to a fresh presigned URL; fast-function assets are made on request.
Personal assets need a signed grant minted for their participant, or a staff session.
"""

import json
import re
import tempfile
from pathlib import Path

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_http_methods

from .keys import InvalidKey, clean_relative_path
from .models import Asset
from .selectors import asset_by_token, personal_access_ok, storage_key_for
from .services import render_fast_function
from .services.inbox import in_inbox
from .storage import external_s3_storage, get_storage
from .uploads import content_type_for

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # A stored SVG or HTML opened directly can run nothing.
    "Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
}


def _error(code: int, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=code)
    response["Cache-Control"] = "no-store"
    return response


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(start, end) of a single byte range; None to serve it all; False if unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multiple or malformed ranges: serve the whole file (RFC 9110 allows it)
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size:
            return False
        if end < start:
            return None
    else:
        length = int(last)
        if length == 0:
            return False
        start, end = max(0, size - length), size - 1
    return start, end


def _file_chunks(path: Path, start: int, length: int, chunk: int = 64 * 1024):
    with open(path, "rb") as handle:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(chunk, length))
            if not data:
                break
            length -= len(data)
            yield data


def serve_file(request: HttpRequest, path: Path, content_type: str, cache_control: str) -> HttpResponse:
    size = path.stat().st_size
    byte_range = parse_range(request.headers.get("Range"), size)
    if byte_range is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif request.method == "HEAD":
        response = HttpResponse(content_type=content_type)
        response["Content-Length"] = str(size)
    elif byte_range is None:
        response = FileResponse(open(path, "rb"), content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = byte_range
        response = StreamingHttpResponse(_file_chunks(path, start, end - start + 1),
                                         status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = cache_control
    for name, value in _SAFE_HEADERS.items():
        response[name] = value
    return response


def _content_type(asset: Asset, subpath: str) -> str:
    if subpath:
        return content_type_for(Path(subpath).suffix)
    return asset.content_type or content_type_for(asset.extension)


@require_http_methods(["GET", "HEAD"])
def asset_file(request: HttpRequest, token: str, subpath: str = "") -> HttpResponse:
    asset = asset_by_token(token)
    if asset is None:
        return _error(404, "no such asset")
    if asset.personal and not personal_access_ok(asset, request.GET.get("access"), user=request.user):
        return _error(403, "this recording belongs to another participant")
    if subpath:
        try:
            subpath = clean_relative_path(subpath, what="file in folder")
        except InvalidKey as exc:
            return _error(400, str(exc))
    cache_control = "private, no-store" if asset.personal else "private, max-age=3600"
    if asset.kind == Asset.Kind.EXTERNAL:
        return HttpResponseRedirect(asset.source_url)
    if asset.kind == Asset.Kind.FAST_FUNCTION:
        with tempfile.TemporaryDirectory(prefix="chorus-fast-") as tmp:
            path = render_fast_function(asset, Path(tmp))
            response = HttpResponse(path.read_bytes(), content_type=_content_type(asset, ""))
        response["Cache-Control"] = "private, max-age=60"
        for name, value in _SAFE_HEADERS.items():
            response[name] = value
        return response
    if asset.is_folder and not subpath:
        return _error(404, "this asset is a folder: ask for one of its files")
    content_type = _content_type(asset, subpath)
    if asset.status != Asset.Status.DEPOSITED:
        # Accepted but not yet in storage: serve the staged input if this machine has it.
        staged = Path(asset.input_path) / subpath if subpath else Path(asset.input_path or "")
        if asset.input_path and in_inbox(staged) and staged.is_file():
            return serve_file(request, staged, content_type, "private, no-store")
        response = _error(503, "this asset is not deposited yet", status=asset.status)
        response["Retry-After"] = "2"
        return response
    storage = external_s3_storage(asset.bucket) if asset.kind == Asset.Kind.EXTERNAL_S3 else get_storage()
    key = storage_key_for(asset, subpath)
    local = storage.local_path(key)
    if local is not None:
        if not local.is_file():
            return _error(404, "file not found in storage")
        return serve_file(request, local, content_type, cache_control)
    from django.conf import settings

    url = storage.url(key, expires=settings.ASSET_URL_EXPIRY, content_type=content_type)
    if url:
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response
    # A back-end with neither local files nor URLs: stream through this process.
    response = StreamingHttpResponse(storage.open(key), content_type=content_type)
    response["Cache-Control"] = cache_control
    for name, value in _SAFE_HEADERS.items():
        response[name] = value
    return response


@require_http_methods(["GET"])
def asset_status(request: HttpRequest, token: str) -> HttpResponse:
    """A cheap poll for pages waiting for an asset (e.g. feedback playing a fresh recording)."""
    asset = asset_by_token(token)
    if asset is None:
        return _error(404, "no such asset")
    if asset.personal and not personal_access_ok(asset, request.GET.get("access"), user=request.user):
        return _error(403, "this recording belongs to another participant")
    body = {"status": asset.status, "ready": asset.status == Asset.Status.DEPOSITED,
            "failed": asset.status == Asset.Status.FAILED}
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response
