"""Large exports in the background: a job row (progress: `done` of `total` conversations), the file
written to shared storage (models/storage) under `exports/`, fetched by its owner when done.

The file is written to a temporary file first and stored whole when complete, so a half-written export
is never served; a failure marks the job failed with the reason.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.db import Database
from models.errors import NotFound
from models.reports.export import ExportQuery, conversations, count_conversations, render
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.reports import ExportJob, ExportStatus
from models.storage.base import Storage

log = logging.getLogger(__name__)
PROGRESS_EVERY = 500


def do_start_export(session: Session, user: User, q: ExportQuery) -> ExportJob:
    public_id = "x_" + secrets.token_urlsafe(15)
    job = ExportJob(public_id=public_id, user_id=user.id, params=q.json(), format=q.fmt,
                    status=ExportStatus.RUNNING, total=count_conversations(session, user, q), done=0,
                    storage_key=f"exports/{public_id}.{q.fmt}", created_at=utcnow())
    session.add(job)
    session.flush()
    return job


def access_export(session: Session, user: User, public_id: str) -> ExportJob:
    job = session.scalar(select(ExportJob).where(ExportJob.public_id == public_id))
    if job is None or job.user_id != user.id:
        raise NotFound("No such export.")
    return job


def run_export(db: Database, storage: Storage, job_id: int) -> None:
    """Write the export's file and record progress as it goes (in a job thread or a worker)."""
    with db.session() as s:
        job = s.get(ExportJob, job_id)
        if job is None or job.status != ExportStatus.RUNNING:
            return
        user_id = job.user_id
        q, key = ExportQuery.from_json(job.params), job.storage_key
    done: list[int] = [0]
    try:
        with tempfile.TemporaryDirectory(prefix="parley-export-") as tmp:
            path = Path(tmp) / "export"
            with db.session() as s, path.open("w", encoding="utf-8") as out:
                user = s.get(User, user_id)
                if user is None:
                    raise NotFound("The export's owner is gone.")
                for line in render(_counted(db, job_id, conversations(s, user, q), done), q.fmt):
                    out.write(line)
            storage.put_file(key, path)
        with db.transaction() as s:
            s.execute(update(ExportJob).where(ExportJob.id == job_id).values(
                status=ExportStatus.DONE, done=done[0], finished_at=utcnow()))
    except Exception as exc:  # a job thread's boundary: record why, never leave it "running"
        log.exception("export %s failed", job_id)
        with db.transaction() as s:
            s.execute(update(ExportJob).where(ExportJob.id == job_id).values(
                status=ExportStatus.FAILED, error=str(exc)[:500], finished_at=utcnow()))


def _counted(db: Database, job_id: int, items: Iterator[dict[str, Any]], done: list[int]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        done[0] += 1
        if done[0] % PROGRESS_EVERY == 0:
            _progress(db, job_id, done[0])


def _progress(db: Database, job_id: int, done: int) -> None:
    with db.transaction() as s:
        s.execute(update(ExportJob).where(ExportJob.id == job_id).values(done=done))
