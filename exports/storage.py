"""Artifact storage: where snapshots and dashboard exports are kept.

`STORAGES["artifacts"]` (settings): a local folder by default, S3 through django-storages when
ARTIFACTS_S3_BUCKET is set. Work on several machines needs the shared (S3) one.
"""

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages


def artifact_storage() -> Storage:
    if "artifacts" in settings.STORAGES:
        return storages["artifacts"]
    return FileSystemStorage(location=settings.VAR_DIR / "artifacts")
