"""Training and evaluation runs: started from the console, run in the background, watched live.

A run is a row (`bot_training_runs`) that its worker keeps current: status, a share done and a
sentence saying what is happening, a heartbeat while it lives, the figures when it ends. The console
polls it. A run whose heartbeat stopped (the process restarted mid-training) is reported as failed
rather than "running" forever; a cancel is a flag the worker checks and acts on (killing Rasa's
training process). Training makes a *candidate*: it never changes what customers talk to — the admin
compares and activates (`studio.model_versions`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot import embedded, model_sync
from bot.rasa import store as rasa_store
from bot.rasa import trainer as rasa_trainer
from bot.rasa.config import RasaSettings
from bot.rasa.evaluation import default_config
from bot.studio import versions
from bot.studio.evaluation import ENGINES, Protocol, run_protocol
from bot.studio.files import locked
from bot.studio.project import RasaProject
from bot.training_data import TrainingData, load_training_data
from models.db import Database
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.training import BotDataVersion, BotTrainingRun, RunKind, RunStatus
from models.settings import Settings

log = logging.getLogger(__name__)

Submit = Callable[..., None]
HEARTBEAT_S = 10.0
STALE_AFTER = timedelta(seconds=90)
_PROGRESS_EVERY_S = 1.0


class RunError(ValueError):
    """A run cannot be started as asked (unknown engine, Rasa not installed, unknown model)."""


def run_json(run: BotTrainingRun) -> dict[str, Any]:
    return {
        "id": run.id, "kind": run.kind, "engine": run.engine, "status": run.status,
        "progress": round(run.progress, 3), "stage": run.stage, "params": run.params, "result": run.result,
        "error": run.error, "data_version": run.data_version_id, "model_version": run.model_version,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "cancel_requested": run.cancel_requested,
    }


class Runs:
    def __init__(self, settings: Settings, db: Database, submit: Submit) -> None:
        self.settings = settings
        self.db = db
        self.submit = submit

    # --- starting -----------------------------------------------------------------------------------

    def start_train(self, user: User | None, engine: str) -> dict[str, Any]:
        self._check_engine(engine)
        with locked(versions.lock_path(self.settings)):
            versions.sync_locked(self.settings, self.db)  # another host may have committed newer data
            with self.db.transaction() as session:
                current = versions.ensure_current(session, RasaProject.load(self.settings.data_dir))
                run = BotTrainingRun(kind=RunKind.TRAIN.value, engine=engine, params={"owner": _owner()},
                                     stage="Waiting to start",
                                     requested_by_id=user.id if user else None, data_version_id=current.id)
                session.add(run)
                session.flush()
                run_id = run.id
        self.submit(self._execute, run_id)
        return self.get(run_id)

    def start_evaluate(self, user: User | None, engine: str, model_version: str,
                       params: dict[str, Any]) -> dict[str, Any]:
        self._check_engine(engine)
        try:
            protocol = Protocol.from_json(params)
        except ValueError as exc:
            raise RunError(str(exc)) from exc
        data_version = self._data_version_of(engine, model_version)
        with self.db.transaction() as session:
            run = BotTrainingRun(kind=RunKind.EVALUATE.value, engine=engine,
                                 params={**protocol.to_json(), "owner": _owner()},
                                 stage="Waiting to start", requested_by_id=user.id if user else None,
                                 data_version_id=data_version, model_version=model_version)
            session.add(run)
            session.flush()
            run_id = run.id
        self.submit(self._execute, run_id)
        return self.get(run_id)

    def cancel(self, run_id: int) -> dict[str, Any]:
        with self.db.transaction() as session:
            run = session.get(BotTrainingRun, run_id)
            if run is None:
                raise LookupError(f"No run {run_id}.")
            if run.status in (RunStatus.QUEUED.value, RunStatus.RUNNING.value):
                run.cancel_requested = True
        return self.get(run_id)

    def _check_engine(self, engine: str) -> None:
        if engine not in ENGINES:
            raise RunError(f"engine must be one of: {', '.join(ENGINES)}")
        if engine == "rasa":
            rasa = RasaSettings.from_settings(self.settings)
            if not rasa.installed:
                raise RunError(f"Rasa is not installed at {rasa.venv}: run `make rasa` on the server.")

    def _data_version_of(self, engine: str, model_version: str) -> int:
        """The data version a model was trained on: recorded by the studio's training, else the latest
        version with the hash the model was trained on."""
        data_hash = _model_data_hash(self.settings, engine, model_version)
        with self.db.session() as session:
            trained = session.scalar(select(BotTrainingRun.data_version_id).where(
                BotTrainingRun.kind == RunKind.TRAIN.value, BotTrainingRun.engine == engine,
                BotTrainingRun.model_version == model_version, BotTrainingRun.data_version_id.is_not(None)))
            if trained is not None:
                return int(trained)
            found = session.scalar(select(BotDataVersion.id).where(BotDataVersion.data_hash_after == data_hash)
                                   .order_by(BotDataVersion.id.desc()).limit(1))
            if found is not None:
                return int(found)
        with locked(versions.lock_path(self.settings)):
            versions.sync_locked(self.settings, self.db)  # another host may have committed newer data
            with self.db.transaction() as session:
                current = versions.ensure_current(session, RasaProject.load(self.settings.data_dir))
                if current.data_hash_after == data_hash:
                    return current.id
        raise RunError(f"The data {engine} model {model_version} was trained on is not known to Parley (it was "
                       "trained outside the console from other data); train a candidate here to evaluate it.")

    # --- listing ------------------------------------------------------------------------------------

    def get(self, run_id: int) -> dict[str, Any]:
        self._expire_stale()
        with self.db.session() as session:
            run = session.get(BotTrainingRun, run_id)
            if run is None:
                raise LookupError(f"No run {run_id}.")
            return run_json(run)

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        self._expire_stale()
        with self.db.session() as session:
            rows = session.scalars(select(BotTrainingRun).order_by(BotTrainingRun.id.desc()).limit(limit))
            return [run_json(r) for r in rows]

    def _expire_stale(self) -> None:
        """Runs whose process is gone: a running one whose heartbeat stopped, or a queued/running one
        whose owner (a process on this machine) no longer exists."""
        cutoff = utcnow() - STALE_AFTER
        with self.db.transaction() as session:
            doomed = [
                run for run in session.scalars(select(BotTrainingRun).where(
                    BotTrainingRun.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value])))
                if (run.status == RunStatus.RUNNING.value and run.heartbeat_at is not None
                    and run.heartbeat_at < cutoff) or _owner_gone(run.params.get("owner"))
            ]
            for run in doomed:
                run.status, run.finished_at = RunStatus.FAILED.value, utcnow()
                run.error = "Interrupted: the process running it stopped (a restart?). Start it again."

    # --- the worker ---------------------------------------------------------------------------------

    def _execute(self, run_id: int) -> None:
        with self.db.transaction() as session:
            run = session.get(BotTrainingRun, run_id, with_for_update=True)
            if run is None or run.status != RunStatus.QUEUED.value:
                return
            if run.cancel_requested:
                run.status, run.finished_at = RunStatus.CANCELLED.value, utcnow()
                return
            run.status, run.started_at, run.heartbeat_at = RunStatus.RUNNING.value, utcnow(), utcnow()
            kind, engine, params = run.kind, run.engine, dict(run.params)
            data_version, model_version = run.data_version_id, run.model_version
        beating = threading.Event()
        threading.Thread(target=self._heartbeat, args=(run_id, beating), daemon=True,
                         name=f"run-{run_id}-heartbeat").start()
        reporter = _Reporter(self.db, run_id)
        result: dict[str, Any] | None
        version: str | None
        error: str | None
        try:
            if kind == RunKind.TRAIN.value:
                result, version = self._train(engine, data_version, reporter)
            else:
                assert model_version is not None and data_version is not None
                result = self._evaluate(engine, model_version, data_version, Protocol.from_json(params), reporter)
                version = model_version
            status, error = RunStatus.SUCCEEDED.value, None
        except (InterruptedError, rasa_trainer.TrainingCancelled):
            status, error, result, version = RunStatus.CANCELLED.value, None, None, model_version
        except Exception as exc:  # the run's boundary: whatever failed is reported on the run
            log.exception("bot %s run %s failed", kind, run_id)
            status, error, result, version = RunStatus.FAILED.value, str(exc)[:4000], None, model_version
        finally:
            beating.set()
        with self.db.transaction() as session:
            run = session.get(BotTrainingRun, run_id)
            if run is not None:
                run.status, run.error, run.result, run.model_version = status, error, result, version
                run.finished_at = utcnow()
                if status == RunStatus.SUCCEEDED.value:
                    run.progress, run.stage = 1.0, "Done"

    def _heartbeat(self, run_id: int, done: threading.Event) -> None:
        while not done.wait(HEARTBEAT_S):
            with self.db.transaction() as session:
                session.execute(update(BotTrainingRun).where(BotTrainingRun.id == run_id)
                                .values(heartbeat_at=utcnow()))

    def _train(self, engine: str, data_version: int | None, reporter: _Reporter) -> tuple[dict[str, Any], str]:
        reporter(0.01, "Reading the training data")
        with self._data_of(data_version) as source:
            return self._train_from(engine, source, data_version, reporter)

    @contextlib.contextmanager
    def _data_of(self, data_version: int | None) -> Iterator[Path]:
        """The files of the run's data version (from the database, so a run on any host trains on exactly
        what the admin saw); `data/` itself for a run without one."""
        if data_version is None:
            yield self.settings.data_dir
            return
        with self.db.session() as session:
            row = session.get(BotDataVersion, data_version)
            if row is None:
                raise RunError(f"Data version {data_version} is gone.")
            files = dict(row.files)
        with tempfile.TemporaryDirectory(prefix="parley-studio-data-") as tmp:
            root = Path(tmp)
            for name, text in files.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_text(str(text), encoding="utf-8")
            yield root

    def _train_from(self, engine: str, source: Path, data_version: int | None,
                    reporter: _Reporter) -> tuple[dict[str, Any], str]:
        if engine == "embedded":
            data = load_training_data(source)
            problems = data.validate()
            if problems:
                raise embedded.InvalidTrainingData(data.source, problems)
            reporter(0.1, "Training the embedded classifier")
            model = embedded.train(data)
            embedded.save(model, self.settings)
            model_sync.publish(self.settings, "embedded", model.version)  # any host can activate it
            model_sync.prune_published(self.settings, self.db, "embedded", embedded.KEEP_VERSIONS)
            meta = model.meta
            return ({"model_version": meta.version, "train_seconds": meta.train_seconds,
                     "n_examples": meta.n_examples, "intents": len(meta.intents), "data_hash": meta.data_hash},
                    meta.version)
        # A data version keeps the training data, not Rasa's config.yml: that comes from the deployment
        # (PARLEY_RASA_CONFIG, else the data folder's), as for every other Rasa training.
        result = rasa_trainer.train(self.settings, source, config=default_config(self.settings, source),
                                    activate=False, progress=reporter,
                                    should_stop=reporter.should_stop, data_version=data_version, actor="console")
        rmeta = result.meta
        model_sync.publish(self.settings, "rasa", rmeta.version)
        model_sync.prune_published(self.settings, self.db, "rasa", rasa_store.KEEP_VERSIONS)
        return ({"model_version": rmeta.version, "train_seconds": rmeta.train_seconds,
                 "n_examples": rmeta.n_examples, "intents": len(rmeta.intents), "data_hash": rmeta.data_hash},
                rmeta.version)

    def _evaluate(self, engine: str, model_version: str, data_version: int, protocol: Protocol,
                  reporter: _Reporter) -> dict[str, Any]:
        with self._data_of(data_version) as root:
            data: TrainingData = load_training_data(root)
            config = default_config(self.settings, None) if engine == "rasa" else None
            result = run_protocol(self.settings, engine, data, protocol, config=config, progress=reporter,
                                  should_stop=reporter.should_stop)
        return {**result, "model_version": model_version, "data_version": data_version}


class _Reporter:
    """Progress into the run's row (at most once a second), and the cancel flag out of it."""

    def __init__(self, db: Database, run_id: int) -> None:
        self.db = db
        self.run_id = run_id
        self._last = 0.0
        self._last_check = 0.0
        self._cancelled = False

    def __call__(self, share: float, stage: str) -> None:
        now = time.monotonic()
        if now - self._last < _PROGRESS_EVERY_S and share < 0.999:
            return
        self._last = now
        with self.db.transaction() as session:
            session.execute(update(BotTrainingRun).where(BotTrainingRun.id == self.run_id)
                            .values(progress=max(0.0, min(1.0, share)), stage=stage[:300], heartbeat_at=utcnow()))

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_check >= 2.0:
            self._last_check = now
            with self.db.session() as session:
                self._cancelled = bool(session.scalar(select(BotTrainingRun.cancel_requested)
                                                      .where(BotTrainingRun.id == self.run_id)))
        return self._cancelled


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: Any) -> bool:
    host, _, pid = str(owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) <= 0:
        return False  # another machine's run: its heartbeat tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _model_data_hash(settings: Settings, engine: str, version: str) -> str:
    try:
        if engine == "embedded":
            return embedded.load_meta(settings, version).data_hash
        return rasa_store.load_meta(settings, version).data_hash
    except (embedded.NoActiveModel, rasa_store.NoRasaModel) as exc:
        raise RunError(f"No {engine} model {version}.") from exc
