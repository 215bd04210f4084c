"""The one interface to shared file storage, so attachments and trained models live wherever the
deployment keeps files: the instance folder for one host, S3-compatible object storage for several.

Keys are relative, slash-separated paths (`attachments/<key>`, `models/embedded/<version>/meta.json`);
they are checked here, once, so no backend can be led outside its root or prefix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Protocol

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class StorageError(Exception):
    """The storage could not be reached or refused the operation (a server-side failure, not the user's)."""


class NotStored(StorageError):
    """No object under that key."""


def check_key(key: str) -> str:
    """`key` if it is a safe relative path (no `..`, no leading slash, no odd characters), else ValueError."""
    parts = key.split("/")
    if not key or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise ValueError(f"bad storage key {key!r}")
    return key


class Storage(Protocol):
    """Where shared bytes live. Every method is safe to call from several processes and hosts."""

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Store `data` under `key`, replacing what was there; readers see the old or the new, never half."""

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at `path` under `key` (streamed, never read whole into memory)."""

    def open(self, key: str) -> BinaryIO:
        """A stream of the bytes under `key` (the caller closes it); raises NotStored."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""

    def list(self, prefix: str) -> list[str]:
        """Every key under the folder `prefix` (no trailing slash), at any depth, sorted."""

    def local_path(self, key: str) -> Path | None:
        """The file behind `key` when the storage is a local folder (lets the web server send it with
        range requests and sendfile); None for remote storage."""

    def describe(self) -> str:
        """Where the files go, for logs and `parley config show` (no secrets)."""
