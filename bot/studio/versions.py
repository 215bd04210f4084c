"""Every change of the training data, versioned: who, when, what, and the files after it.

`commit` is the only way the studio writes `data/`: under a lock, against the hash the admin loaded,
after `RasaProject.preview` found no new problem; the files are written and the version row committed
together (a failed write rolls the row back). When `data/` changed outside Parley (an editor, a git
pull), the next commit first records that state as a `baseline` version, so the history never
attributes someone else's edit to the admin.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.studio.files import locked, write_files
from bot.studio.project import ChangeRejected, RasaProject, StaleData
from models.db import Database
from models.schema.accounts import User
from models.schema.training import BotDataVersion, DataVersionKind
from models.settings import Settings


@dataclass(frozen=True)
class Committed:
    version: dict[str, Any]
    summary: list[str]
    warnings: list[str]


def lock_path(settings: Settings) -> Path:
    return settings.instance_dir / "studio.lock"


def version_json(v: BotDataVersion, *, with_files: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": v.id, "kind": v.kind, "created_at": v.created_at.isoformat(), "author": v.author_name or None,
        "summary": v.summary, "changes": v.changes, "data_hash": v.data_hash_after,
        "data_hash_before": v.data_hash_before, "restored_from": v.restored_from_id,
    }
    if with_files:
        out["files"] = v.files
    return out


def latest(session: Session) -> BotDataVersion | None:
    return session.scalar(select(BotDataVersion).order_by(BotDataVersion.id.desc()).limit(1))


def ensure_current(session: Session, project: RasaProject) -> BotDataVersion:
    """The version row of the data as it is now (a `baseline` is recorded when there is none)."""
    last = latest(session)
    if last is not None and last.data_hash_after == project.data_hash:
        return last
    first = last is None
    row = BotDataVersion(
        kind=DataVersionKind.BASELINE.value, author_name="",
        summary="The training data as Parley first found it." if first
        else "The training data changed outside Parley (an editor, a deploy).",
        changes=[], data_hash_before=last.data_hash_after if last else None, data_hash_after=project.data_hash,
        files={name: f.text for name, f in project.files.items()},
    )
    session.add(row)
    session.flush()
    return row


def commit(
    settings: Settings,
    db: Database,
    user: User | None,
    changes: Sequence[dict[str, Any]],
    *,
    base_hash: str | None,
    kind: DataVersionKind = DataVersionKind.CHANGE,
    summary: str | None = None,
) -> Committed:
    with locked(lock_path(settings)):
        project = RasaProject.load(settings.data_dir)
        if base_hash is not None and base_hash != project.data_hash:
            raise StaleData("The training data changed since you loaded it; reload and apply your change again.")
        preview = project.preview(list(changes))
        if preview.introduced:
            raise ChangeRejected(preview.introduced)
        if not preview.files:
            raise ChangeRejected(["The change leaves the data exactly as it is."])
        with db.transaction() as session:
            before = ensure_current(session, project)
            files = {name: f.text for name, f in project.files.items()} | preview.files
            row = BotDataVersion(
                kind=kind.value, author_id=user.id if user else None,
                author_name=(user.name or user.email) if user else "",
                summary=summary or " ".join(preview.summary), changes=list(changes),
                data_hash_before=before.data_hash_after, data_hash_after=preview.data_hash_after, files=files,
            )
            session.add(row)
            session.flush()
            write_files(settings.data_dir, preview.files)
            result = version_json(row)
    return Committed(version=result, summary=preview.summary, warnings=preview.existing)


def restore(settings: Settings, db: Database, user: User | None, version_id: int, *,
            base_hash: str | None) -> Committed:
    """Put the files of an older version back (itself a new version)."""
    with db.session() as session:
        old = session.get(BotDataVersion, version_id)
        if old is None:
            raise LookupError(f"No data version {version_id}.")
        files, old_id = dict(old.files), old.id
    with locked(lock_path(settings)):
        project = RasaProject.load(settings.data_dir)
        if base_hash is not None and base_hash != project.data_hash:
            raise StaleData("The training data changed since you loaded it; reload first.")
        with db.transaction() as session:
            before = ensure_current(session, project)
            # Files the old version did not have are left alone: only Rasa files it knew are put back.
            changed = {name: text for name, text in files.items()
                       if name not in project.files or project.files[name].text != text}
            if not changed:
                raise ChangeRejected(["The data is already as in that version."])
            write_files(settings.data_dir, changed)
            after = RasaProject.load(settings.data_dir)
            row = BotDataVersion(
                kind=DataVersionKind.RESTORE.value, author_id=user.id if user else None,
                author_name=(user.name or user.email) if user else "", summary=f"Restored version {old_id}.",
                changes=[], data_hash_before=before.data_hash_after, data_hash_after=after.data_hash,
                files={name: f.text for name, f in after.files.items()}, restored_from_id=old_id,
            )
            session.add(row)
            session.flush()
            result = version_json(row)
    return Committed(version=result, summary=[f"Restored version {old_id}."], warnings=after.view()["problems"])


def history(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(select(BotDataVersion).order_by(BotDataVersion.id.desc()).limit(limit))
    return [version_json(v) for v in rows]


def detail(session: Session, version_id: int) -> dict[str, Any]:
    """A version with the unified diff of each file against the version before it."""
    row = session.get(BotDataVersion, version_id)
    if row is None:
        raise LookupError(f"No data version {version_id}.")
    previous = session.scalar(select(BotDataVersion).where(BotDataVersion.id < row.id)
                              .order_by(BotDataVersion.id.desc()).limit(1))
    before: dict[str, Any] = previous.files if previous is not None else {}
    diffs = []
    for name in sorted(set(before) | set(row.files)):
        old, new = str(before.get(name, "")), str(row.files.get(name, ""))
        if old != new:
            diffs.append({"file": name, "diff": "".join(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"))})
    return {**version_json(row), "diffs": diffs}
