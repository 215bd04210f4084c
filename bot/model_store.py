"""Versioned model directories on disk, shared by every engine's store (`bot.embedded`, `bot.rasa.store`).

A store is a folder of version directories named by `new_version` (sortable by time), plus an
`active` pointer file. Versions are written under a staging name and renamed, so a version directory
is always complete; the pointer is replaced atomically, never edited; a file lock serialises work
on one store across processes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from bot.locks import exclusive

ACTIVE_FILE = "active"
LOCK_FILE = ".lock"
STAGING_PREFIX = ".tmp-"


def new_version(data_hash: str) -> str:
    """Sortable by time, and unique even when two processes train in the same second."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{data_hash[:8] or 'nodata'}-{secrets.token_hex(2)}"


def write_version(store: Path, version: str, fill: Callable[[Path], None]) -> Path:
    """`fill` a staging directory, then rename it to `store/version` in one step."""
    store.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{version}-", dir=store))
    try:
        fill(staging)
        os.replace(staging, store / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return store / version


def read_active(store: Path) -> str | None:
    try:
        version = (store / ACTIVE_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version or None


def write_active(store: Path, version: str) -> None:
    """Point `active` at `version` atomically (temp file + os.replace)."""
    fd, tmp = tempfile.mkstemp(prefix=".active-", dir=store)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(version + "\n")
    os.replace(tmp, store / ACTIVE_FILE)


def version_dirs(store: Path) -> list[Path]:
    """Every version directory (complete by construction), newest first."""
    if not store.is_dir():
        return []
    return sorted((p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name, reverse=True)


def prune(store: Path, keep: int, spared: Iterable[str | None], staging_max_age: float) -> list[str]:
    """Delete all but the `keep` newest versions (never a `spared` one) and staging directories
    older than `staging_max_age` seconds (younger ones may belong to a training still running)."""
    if not store.is_dir():
        return []
    kept = set(spared)
    doomed = [p for p in version_dirs(store)[keep:] if p.name not in kept]
    cutoff = time.time() - staging_max_age
    doomed += [p for p in store.glob(f"{STAGING_PREFIX}*") if p.is_dir() and p.stat().st_mtime < cutoff]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return [p.name for p in doomed]


def locked(store: Path) -> AbstractContextManager[None]:
    """An exclusive lock on the store, across processes."""
    return exclusive(store / LOCK_FILE)
