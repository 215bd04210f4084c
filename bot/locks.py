"""One cross-process lock primitive for the bot's files (model stores, the training-data folder)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive POSIX `flock` on `lock_path` (made if missing) for the duration of the block.

    Without `fcntl` (not POSIX) it does not lock: every writer here writes under a temporary name and
    renames, so readers still never see half a file; only two concurrent writers could then both work.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
