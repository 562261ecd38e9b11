"""Storage back-ends: where deposited asset files live.

An experiment picks one with `asset_storage = LocalStorage()` or `S3Storage("bucket", "root")`
in experiment.py. A back-end implements the small interface of `AssetStorage`; a researcher may
subclass it for another store. Keys are '/'-separated relative paths (checked by
`clean_storage_key`); managed assets use content-addressed keys, so storing a key that already
exists is a no-op, never an overwrite.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from experiments.loading import get_experiment

from .keys import clean_storage_key


class AssetStorage:
    """The interface every back-end implements.

    - `store(source, key, content_type=)`: copy a local file to `key`; if `key` exists, leave it.
    - `exists(key)`, `size(key)`, `open(key)` (binary file object), `delete(key)`.
    - `list(prefix)`: {key: size} of every object under `prefix`, in as few requests as the store
      allows (deploys check thousands of cached files this way).
    - `export(key, destination)`: download to a local path.
    - `url(key, expires=, content_type=)`: a direct, expiring URL, or None when the files are
      served through Chorus's own view (`local_path(key)` then gives the file to serve).
    """

    #: Count of requests made to the store (benchmarks and tests read it).
    requests = 0

    def store(self, source: Path, key: str, *, content_type: str = "") -> None:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def list(self, prefix: str) -> dict[str, int]:
        raise NotImplementedError

    def export(self, key: str, destination: Path) -> None:
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with self.open(key) as source, open(destination, "wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)

    def url(self, key: str, *, expires: int, content_type: str = "") -> str | None:
        return None

    def local_path(self, key: str) -> Path | None:
        return None

    def describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(AssetStorage):
    """Files in a directory on this machine (default: settings.ASSET_LOCAL_ROOT), served by
    Chorus's asset view. Suits one machine or a shared volume."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root is not None else None

    @property
    def root(self) -> Path:
        return (self._root or Path(settings.ASSET_LOCAL_ROOT)).resolve()

    def _path(self, key: str) -> Path:
        root = self.root
        path = (root / clean_storage_key(key)).resolve()
        if root not in path.parents:
            raise ValueError(f"storage key {key!r} leaves the storage root")
        return path

    def store(self, source: Path, key: str, *, content_type: str = "") -> None:
        target = self._path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, target)  # atomic, and never replaces an existing file
            except FileExistsError:
                pass
            _fsync_dir(target.parent)
        finally:
            os.unlink(tmp)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> dict[str, int]:
        root = self.root
        base = root / prefix if prefix else root
        start = base if base.is_dir() else base.parent
        found: dict[str, int] = {}
        if not start.is_dir():
            return found
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                if name.startswith(".incoming-"):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(root).as_posix()
                if key.startswith(prefix):
                    found[key] = path.stat().st_size
        return found

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def describe(self) -> str:
        return f"LocalStorage({self.root})"


class S3Storage(AssetStorage):
    """An S3 bucket (any S3-compatible store), through django-storages and boto3.

    Endpoint, region and credentials come from settings (AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME,
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Objects are private; browsers get SigV4 presigned
    URLs that expire; existing keys are never overwritten.
    """

    def __init__(self, bucket: str, root: str = "") -> None:
        if not bucket or not isinstance(bucket, str):
            raise ValueError("S3Storage needs a bucket name")
        self.bucket = bucket
        self.root = root.strip("/")
        if self.root:
            clean_storage_key(self.root)
        self._backends: dict[tuple, object] = {}

    def _config_key(self) -> tuple:
        return (settings.AWS_S3_ENDPOINT_URL, settings.AWS_S3_REGION_NAME,
                settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY,
                settings.AWS_S3_ADDRESSING_STYLE, settings.ASSET_S3_CONNECT_TIMEOUT,
                settings.ASSET_S3_MAX_ATTEMPTS)

    @property
    def backend(self):
        """The django-storages S3Storage for the current settings (made once per settings)."""
        key = self._config_key()
        backend = self._backends.get(key)
        if backend is None:
            from botocore.config import Config
            from storages.backends.s3 import S3Storage as DjangoS3Storage

            backend = DjangoS3Storage(
                bucket_name=self.bucket, location=self.root,
                endpoint_url=settings.AWS_S3_ENDPOINT_URL, region_name=settings.AWS_S3_REGION_NAME,
                access_key=settings.AWS_ACCESS_KEY_ID, secret_key=settings.AWS_SECRET_ACCESS_KEY,
                signature_version="s3v4", default_acl=None, querystring_auth=True,
                custom_domain=None, file_overwrite=False,
                client_config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": settings.AWS_S3_ADDRESSING_STYLE},
                    connect_timeout=settings.ASSET_S3_CONNECT_TIMEOUT, read_timeout=60,
                    retries={"max_attempts": settings.ASSET_S3_MAX_ATTEMPTS, "mode": "standard"},
                    max_pool_connections=20,
                ),
            )
            self._backends[key] = backend
        return backend

    @property
    def client(self):
        return self.backend.connection.meta.client

    def _full(self, key: str) -> str:
        key = clean_storage_key(key)
        return f"{self.root}/{key}" if self.root else key

    #: Files up to this size go up in one conditional PUT; larger ones in a multipart upload.
    single_put_limit = 16 * 1024 * 1024

    def store(self, source: Path, key: str, *, content_type: str = "") -> None:
        from botocore.exceptions import ClientError
        from django.core.files import File

        source = Path(source)
        if source.stat().st_size <= self.single_put_limit:
            # One request: `If-None-Match: *` makes S3 refuse to replace an existing object.
            extra = {"ContentType": content_type} if content_type else {}
            self.requests += 1
            try:
                with open(source, "rb") as handle:
                    self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=handle,
                                           IfNoneMatch="*", **extra)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                    raise
            return
        if self.exists(key):
            return
        with open(source, "rb") as handle:
            content = File(handle, name=key)
            if content_type:
                content.content_type = content_type  # type: ignore[attr-defined]
            self.requests += 1
            # exists() just said no; _save writes the key as given (the content-addressed key).
            self.backend._save(clean_storage_key(key), content)

    def exists(self, key: str) -> bool:
        self.requests += 1
        return self.backend.exists(clean_storage_key(key))

    def size(self, key: str) -> int:
        self.requests += 1
        return int(self.client.head_object(Bucket=self.bucket, Key=self._full(key))["ContentLength"])

    def open(self, key: str) -> BinaryIO:
        self.requests += 1
        return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]

    def export(self, key: str, destination: Path) -> None:
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.requests += 1
        self.client.download_file(self.bucket, self._full(key), str(destination))

    def delete(self, key: str) -> None:
        self.requests += 1
        self.backend.delete(clean_storage_key(key))

    def list(self, prefix: str) -> dict[str, int]:
        full_prefix = f"{self.root}/{prefix}" if self.root else prefix
        strip = len(self.root) + 1 if self.root else 0
        found: dict[str, int] = {}
        for page in self._pages(full_prefix):
            for entry in page.get("Contents", ()):
                found[entry["Key"][strip:]] = int(entry["Size"])
        return found

    def _pages(self, prefix: str) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            self.requests += 1
            yield page

    def url(self, key: str, *, expires: int, content_type: str = "") -> str | None:
        parameters = {"ResponseContentType": content_type} if content_type else None
        return self.backend.url(clean_storage_key(key), parameters=parameters, expire=expires)

    def describe(self) -> str:
        return f"S3Storage({self.bucket!r}, {self.root!r})"


def get_storage() -> AssetStorage:
    """The storage of the experiment this process serves (LocalStorage() unless it says otherwise)."""
    storage = getattr(get_experiment(), "asset_storage", None)
    if storage is None:
        return _default_local
    if not isinstance(storage, AssetStorage):
        raise TypeError(f"asset_storage must be an AssetStorage, not {type(storage).__name__}")
    return storage


_default_local = LocalStorage()
_external: dict[str, S3Storage] = {}


def external_s3_storage(bucket: str) -> S3Storage:
    """The (cached) storage for an ExternalS3Asset's bucket: clients are costly to make."""
    storage = _external.get(bucket)
    if storage is None:
        storage = _external[bucket] = S3Storage(bucket)
    return storage
