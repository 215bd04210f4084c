"""Writing the data folder: every file replaced atomically, under one lock per folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

from bot.locks import exclusive


def locked(lock_path: Path) -> AbstractContextManager[None]:
    """One writer of the data folder at a time, across processes."""
    return exclusive(lock_path)


def write_files(data_dir: Path, files: dict[str, str]) -> None:
    """Each file written beside itself and renamed over: a reader sees the old file or the new one."""
    for name, text in files.items():
        target = data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            with contextlib.suppress(FileNotFoundError):
                shutil.copymode(target, tmp)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
