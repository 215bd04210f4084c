"""Shared file storage (attachments, trained models): `storage_for(settings)` picks the backend.

`PARLEY_STORAGE_URL` unset: the instance folder, as `parley run` has always used. `file:///path` (or
a plain path): a folder every host mounts. `s3://bucket/prefix`: S3-compatible object storage, with
`PARLEY_S3_ENDPOINT_URL` for a non-AWS server and `PARLEY_S3_REGION`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from models.settings import Settings
from models.storage.base import NotStored, Storage, StorageError, check_key
from models.storage.local import LocalStorage

__all__ = ["LocalStorage", "NotStored", "Storage", "StorageError", "check_key", "storage_for"]


def storage_for(settings: Settings) -> Storage:
    """The storage the settings name; a URL it cannot use raises ValueError naming the variable."""
    url = (settings.storage_url or "").strip()
    if not url:
        return LocalStorage(settings.instance_dir)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from models.storage.s3 import S3Storage  # boto3 loads only when S3 is configured

        return S3Storage(parts.netloc, unquote(parts.path), endpoint_url=settings.s3_endpoint_url or None,
                         region=settings.s3_region or None)
    if parts.scheme == "file":
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "":
        return LocalStorage(Path(url).resolve())
    raise ValueError(f"PARLEY_STORAGE_URL must be s3://bucket/prefix, file:///path or a folder, got {url!r}")
