"""Every change of the training data, versioned: who, when, what, and the files after it.

The database decides which version is current: a host whose `data/` holds an older recorded version
(another host committed since) is brought up to date before anything reads it (`sync_from_database`).
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
from bot.training_data import TrainingDataError
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
    """The version row of the data as it is now (a `baseline` is recorded when there is none).

    Takes the newest row's lock first, so admins on two hosts committing at once are serialised; data
    that is an older recorded version is stale (another host moved on): never recorded over the newer."""
    session.execute(select(BotDataVersion.id).order_by(BotDataVersion.id.desc()).limit(1).with_for_update())
    last = latest(session)
    if last is not None and last.data_hash_after == project.data_hash:
        return last
    if last is not None and _recorded(session, project.data_hash):
        raise StaleData("The training data changed on another server; reload and apply your change again.")
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


def _recorded(session: Session, data_hash: str) -> bool:
    return session.scalar(select(BotDataVersion.id).where(BotDataVersion.data_hash_after == data_hash)
                          .limit(1)) is not None


def sync_from_database(settings: Settings, db: Database) -> bool:
    """Bring this host's `data/` to the newest version recorded in the database when it is behind (it
    holds an older recorded version: another host committed since). Data that matches no recorded
    version was edited outside Parley on this host and is left alone: the next commit records it as a
    baseline, as before. Returns whether files were written."""
    with locked(lock_path(settings)):
        return sync_locked(settings, db)


def sync_locked(settings: Settings, db: Database) -> bool:
    """`sync_from_database` for a caller that holds `lock_path(settings)` already."""
    with db.session() as session:
        last = latest(session)
        if last is None:
            return False
        try:
            disk = RasaProject.load(settings.data_dir).data_hash
        except TrainingDataError:
            disk = None  # unreadable here: if the database has good data, it wins
        if disk == last.data_hash_after or (disk is not None and not _recorded(session, disk)):
            return False
        files = {str(name): str(text) for name, text in last.files.items()}
    stale = {p.relative_to(settings.data_dir).as_posix() for p in
             [*settings.data_dir.rglob("*.yml"), *settings.data_dir.rglob("*.yaml")]} - set(files)
    write_files(settings.data_dir, files)
    for name in stale:  # files the newest version no longer has
        (settings.data_dir / name).unlink(missing_ok=True)
    return True


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
        sync_locked(settings, db)
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
        sync_locked(settings, db)
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
