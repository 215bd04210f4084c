"""Which trained model every process answers with is decided by the database; the model files travel
through the shared storage (models/storage: the instance folder by default, S3 for several hosts).

- Training writes a version into this host's store (bot/model_store.py), then `publish`es it to the
  storage under `models/<engine>/<version>/`, with a `published` marker written last, so a reader on
  another host never fetches half a version.
- Activating records a `BotModelActivation` row; an engine's newest row names its active version.
- `ModelFollower.follow(engine)` runs on every embedded bot turn and every poll of the supervised Rasa:
  one indexed query, no cache, so after an activation no process answers with the old model once the
  activation is committed. When the database names a version this host lacks, it is fetched from the
  storage (staging directory + rename, under the store's lock); then this host's `active` pointer is
  moved, and the engines, which follow that pointer, switch on their own.
- While the database names no version (a fresh install before its first training), the local pointer
  rules, as it always has for `parley run`.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import String, bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import model_store
from models.db import Database
from models.schema.accounts import User
from models.schema.training import BotModelActivation
from models.settings import Settings
from models.storage import Storage, StorageError, check_key, storage_for

log = logging.getLogger(__name__)

ENGINES = ("embedded", "rasa")
MARKER = "published"  # written last: a version without it is still being uploaded


class ModelUnavailable(Exception):
    """The database names a model version that neither this host nor the shared storage has."""


def store_dir(settings: Settings, engine: str) -> Path:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}")
    return settings.models_dir / engine


def _prefix(engine: str, version: str) -> str:
    return f"models/{engine}/{version}"


def publish(settings: Settings, engine: str, version: str, storage: Storage | None = None) -> None:
    """Upload a complete local version to the shared storage (nothing to do when already there)."""
    storage = storage or storage_for(settings)
    prefix = _prefix(engine, version)
    if storage.exists(f"{prefix}/{MARKER}"):
        return
    folder = store_dir(settings, engine) / version
    if not folder.is_dir():
        raise ModelUnavailable(f"no {engine} model {version} in {folder.parent} to publish")
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER):
        storage.put_file(f"{prefix}/{path.relative_to(folder).as_posix()}", path)
    storage.put(f"{prefix}/{MARKER}", version.encode())


def fetch(settings: Settings, engine: str, version: str, storage: Storage | None = None) -> bool:
    """Make sure this host has `version` (downloading it if needed); False when the storage lacks it."""
    prefix = check_key(_prefix(engine, version))  # a version is one path segment, never `..`
    store = store_dir(settings, engine)
    if (store / version).is_dir():
        return True
    storage = storage or storage_for(settings)
    if not storage.exists(f"{prefix}/{MARKER}"):
        return False
    keys = [k for k in storage.list(prefix) if k != f"{prefix}/{MARKER}"]

    def fill(staging: Path) -> None:
        for key in keys:
            target = staging.joinpath(*key[len(prefix) + 1:].split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(key) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)

    with model_store.locked(store):
        if not (store / version).is_dir():  # another process of this host may have fetched it meanwhile
            model_store.write_version(store, version, fill)
            log.info("fetched %s model %s from %s", engine, version, storage.describe())
    return True


def published_versions(settings: Settings, engine: str, storage: Storage | None = None) -> list[str]:
    """Versions complete in the shared storage, newest first."""
    storage = storage or storage_for(settings)
    root = f"models/{engine}"
    found = {k[len(root) + 1:].split("/")[0] for k in storage.list(root) if k.endswith(f"/{MARKER}")}
    return sorted(found, reverse=True)


def fetch_recent(settings: Settings, engine: str, keep: int) -> None:
    """Bring the `keep` newest published versions to this host (the admin's list shows every host's)."""
    storage = storage_for(settings)
    for version in published_versions(settings, engine, storage)[:keep]:
        fetch(settings, engine, version, storage)


def prune_published(settings: Settings, db: Database, engine: str, keep: int) -> list[str]:
    """Delete from the shared storage all but the `keep` newest published versions, sparing every
    version the recent activations name (active ones and their rollback targets). When the storage is
    this host's own store, the store's prune (bot/model_store.py) already did this."""
    storage = storage_for(settings)
    local = storage.local_path(f"models/{engine}")
    if local is not None and local.resolve() == store_dir(settings, engine).resolve():
        return []
    with db.session() as session:
        rows = session.execute(select(BotModelActivation.version, BotModelActivation.previous_version)
                               .where(BotModelActivation.engine == engine)
                               .order_by(BotModelActivation.id.desc()).limit(keep)).all()
    spared = {v for row in rows for v in row if v}
    doomed = [v for v in published_versions(settings, engine, storage)[keep:] if v not in spared]
    for version in doomed:
        prefix = _prefix(engine, version)
        storage.delete(f"{prefix}/{MARKER}")  # first: a half-deleted version is never fetched
        for key in storage.list(prefix):
            storage.delete(key)
    return doomed


def active_in_db(session: Session, engine: str) -> BotModelActivation | None:
    """The engine's newest activation (the index on (engine, id) makes this one lookup)."""
    return session.scalar(select(BotModelActivation).where(BotModelActivation.engine == engine)
                          .order_by(BotModelActivation.id.desc()).limit(1))


def record_activation(session: Session, engine: str, version: str, *, user: User | None = None,
                      actor_name: str = "", note: str = "activate", local_previous: str | None = None) -> str | None:
    """Make `version` everyone's active model (in the caller's transaction); returns the one it replaced
    (`local_previous` when no activation was recorded yet: the model this host served until now).
    The files must be published first: other processes fetch them as soon as this commits."""
    current = active_in_db(session, engine)
    previous = current.version if current is not None else local_previous
    session.add(BotModelActivation(engine=engine, version=version, previous_version=previous,
                                   actor_id=user.id if user else None,
                                   actor_name=((user.name or user.email) if user else actor_name)[:200],
                                   note=note[:40]))
    return previous


def announce(settings: Settings, db: Database, engine: str, version: str, *, note: str = "trained",
             actor_name: str = "") -> None:
    """A version this process trained and made active locally becomes every process's: published to
    the storage, then recorded as active (unless the database already says so)."""
    publish(settings, engine, version)
    with db.transaction() as session:
        current = active_in_db(session, engine)
        if current is None or current.version != version:
            record_activation(session, engine, version, actor_name=actor_name, note=note)


_ACTIVATIONS = BotModelActivation.__table__
# Asked before every bot turn (`ModelFollower.follow`): built once, on the table.
_ACTIVE_VERSION = (select(_ACTIVATIONS.c.version).where(_ACTIVATIONS.c.engine == bindparam("engine", type_=String))
                   .order_by(_ACTIVATIONS.c.id.desc()).limit(1))


def active_version_column(engine: str) -> Any:
    """`_ACTIVE_VERSION` as a scalar subquery, for a query that runs anyway before each turn (the
    pipeline's look, bot/pipeline.py): the engine then follows the database with no query of its own."""
    return (select(_ACTIVATIONS.c.version).where(_ACTIVATIONS.c.engine == engine)
            .order_by(_ACTIVATIONS.c.id.desc()).limit(1).scalar_subquery())


class ModelFollower:
    """One per process: moves this host's `active` pointers to what the database says."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.storage = storage_for(settings)
        self._pointed: dict[str, str] = {}
        self._lock = threading.Lock()

    def follow(self, engine: str, known: Mapping[str, str | None] | None = None) -> str | None:
        """The version the database names (now on this host, and pointed at); None when it names none.

        `known`: what the database named, read by the caller in a transaction of its own just now (the
        bot pipeline's look for the turn, `active_version_column`); with `engine` in it, no query here.
        A database or storage failure is logged and the current model keeps answering: a hiccup there
        must not turn every customer's message into a handoff."""
        try:
            if known is not None and engine in known:
                version = known[engine]
            else:
                with self.db.session() as session:
                    version = session.scalar(_ACTIVE_VERSION, {"engine": engine})
            if version is None or self._pointed.get(engine) == version:
                return version
            with self._lock:
                store = store_dir(self.settings, engine)
                if not fetch(self.settings, engine, version, self.storage):
                    raise ModelUnavailable(f"the active {engine} model {version} is neither in {store} nor in "
                                           f"{self.storage.describe()}")
                if model_store.read_active(store) != version:
                    model_store.write_active(store, version)
                    log.info("%s model %s is active (decided by the database)", engine, version)
                self._pointed[engine] = version
            return version
        except (SQLAlchemyError, StorageError, ModelUnavailable, OSError) as exc:
            log.error("could not follow the active %s model (%s); answering with the current one", engine, exc)
            return None

    def announce(self, engine: str, version: str, *, note: str = "trained", actor_name: str = "") -> None:
        announce(self.settings, self.db, engine, version, note=note, actor_name=actor_name)
        self._pointed[engine] = version


def announce_trained(settings: Settings, engine: str, version: str, *, actor_name: str = "cli") -> None:
    """`parley bot train`: the model it just trained and activated here becomes every process's. The
    command may run before the server ever did, so the database is migrated first."""
    from models.migrate import upgrade

    db = Database(settings.database_url)
    try:
        upgrade(db.engine)
        announce(settings, db, engine, version, note="trained", actor_name=actor_name)
    finally:
        db.dispose()
