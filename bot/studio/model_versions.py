"""Trained models of both engines as the admin sees them: candidates, the active one, what each was
trained on and how it scored; activation and rollback; two models compared side by side.

The database decides which version is active (bot/model_sync.py): activation publishes the version to
the shared storage and records a `BotModelActivation` row, and every process (the embedded engine on
its next message, the supervised Rasa server by starting the new model beside the old one and
switching once it answers) follows that row. Every activation is recorded with who and which version
it replaced, so "roll back" goes to exactly that version.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import embedded, model_sync
from bot.rasa import store as rasa_store
from bot.rasa.config import RasaSettings
from models.db import Database
from models.schema.accounts import User
from models.schema.training import BotModelActivation, BotTrainingRun, RunKind, RunStatus
from models.settings import Settings
from models.storage import StorageError

log = logging.getLogger(__name__)

HEADLINE = ("intent_accuracy", "macro_f1", "handoff_recall", "false_handoff_rate", "rephrase_rate",
            "out_of_scope_rephrase_rate")


class ModelError(ValueError):
    pass


def _embedded_versions(settings: Settings) -> list[dict[str, Any]]:
    store = embedded.store_dir(settings)
    found = []
    if store.is_dir():
        for path in sorted(store.iterdir(), key=lambda p: p.name, reverse=True):
            if path.is_dir() and not path.name.startswith(".") and (path / embedded.META_FILE).is_file():
                try:
                    meta = embedded.load_meta(settings, path.name)
                except (embedded.NoActiveModel, ValueError, KeyError, TypeError):
                    continue
                found.append({"version": meta.version, "trained_at": meta.trained_at, "n_examples": meta.n_examples,
                              "intents": len(meta.intents), "train_seconds": meta.train_seconds,
                              "data_hash": meta.data_hash})
    return found


def _rasa_versions(settings: Settings) -> list[dict[str, Any]]:
    return [{"version": m.version, "trained_at": m.trained_at, "n_examples": m.n_examples, "intents": len(m.intents),
             "train_seconds": m.train_seconds, "data_hash": m.data_hash, "data_version": m.data_version}
            for m in rasa_store.versions(settings) if m.kind == "full"]


def active_version(session: Session, settings: Settings, engine: str) -> str | None:
    """What the database names; before any activation was recorded, this host's `active` pointer."""
    row = model_sync.active_in_db(session, engine)
    if row is not None:
        return row.version
    return embedded.active_version(settings) if engine == "embedded" else rasa_store.active_version(settings)


def rollback_target(session: Session, settings: Settings, engine: str) -> str | None:
    current = active_version(session, settings, engine)
    row = session.scalar(select(BotModelActivation).where(BotModelActivation.engine == engine,
                                                          BotModelActivation.version == current)
                         .order_by(BotModelActivation.id.desc()).limit(1))
    target = row.previous_version if row is not None else None
    if target is None and engine == "rasa":
        target = rasa_store.rollback_target(settings)
    if target is not None and target not in {v["version"] for v in _versions(settings, engine)}:
        return None
    return target


def _versions(settings: Settings, engine: str) -> list[dict[str, Any]]:
    """The versions this host has, after fetching the newest ones any host published."""
    try:
        model_sync.fetch_recent(settings, engine, embedded.KEEP_VERSIONS if engine == "embedded"
                                else rasa_store.KEEP_VERSIONS)
    except StorageError as exc:  # the list still shows what this host has
        log.error("could not fetch the published %s models: %s", engine, exc)
    return _embedded_versions(settings) if engine == "embedded" else _rasa_versions(settings)


def _evaluations(session: Session, engine: str) -> dict[str, list[dict[str, Any]]]:
    rows = session.scalars(select(BotTrainingRun).where(
        BotTrainingRun.kind == RunKind.EVALUATE.value, BotTrainingRun.engine == engine,
        BotTrainingRun.status == RunStatus.SUCCEEDED.value).order_by(BotTrainingRun.id.desc()))
    found: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    for run in rows:
        result = run.result or {}
        key = (str(run.model_version), str(result.get("protocol_label")))
        if key in seen:
            continue  # the latest run of each protocol
        seen.add(key)
        found.setdefault(str(run.model_version), []).append(
            {"run": run.id, "protocol": result.get("protocol"), "label": result.get("protocol_label"),
             **{k: result.get(k) for k in HEADLINE}, "finished_at": run.finished_at.isoformat()
             if run.finished_at else None})
    return found


def _trained_from(session: Session, engine: str) -> dict[str, int | None]:
    rows = session.execute(select(BotTrainingRun.model_version, BotTrainingRun.data_version_id).where(
        BotTrainingRun.kind == RunKind.TRAIN.value, BotTrainingRun.engine == engine,
        BotTrainingRun.status == RunStatus.SUCCEEDED.value))
    return {str(v): d for v, d in rows}


def catalog(settings: Settings, db: Database, engines_in_use: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"engines_in_use": list(engines_in_use),
                           "rasa_installed": RasaSettings.from_settings(settings).installed}
    with db.session() as session:
        for engine in ("embedded", "rasa"):
            active = active_version(session, settings, engine)
            evaluations = _evaluations(session, engine)
            trained_from = _trained_from(session, engine)
            versions = []
            for item in _versions(settings, engine):
                version = item["version"]
                versions.append({**item, "active": version == active,
                                 "data_version": trained_from.get(version, item.get("data_version")),
                                 "evaluations": evaluations.get(version, [])})
            history = session.scalars(select(BotModelActivation).where(BotModelActivation.engine == engine)
                                      .order_by(BotModelActivation.id.desc()).limit(20))
            out[engine] = {
                "active": active, "rollback_to": rollback_target(session, settings, engine), "versions": versions,
                "activations": [{"version": a.version, "previous": a.previous_version, "by": a.actor_name or None,
                                 "note": a.note, "at": a.created_at.isoformat()} for a in history],
            }
    return out


def activate(settings: Settings, db: Database, user: User | None, engine: str, version: str,
             note: str = "activate") -> dict[str, Any]:
    if engine not in ("embedded", "rasa"):
        raise ModelError("engine must be 'embedded' or 'rasa'")
    try:
        model_sync.fetch(settings, engine, version)  # trained on another host: in the shared storage
    except ValueError as exc:  # not even a well-formed version name
        raise ModelError(f"No {engine} model {version}.") from exc
    if version not in {v["version"] for v in _versions(settings, engine)}:
        raise ModelError(f"No {engine} model {version}.")
    with db.session() as session:
        previous = active_version(session, settings, engine)
    if previous == version:
        raise ModelError(f"{version} is already the active {engine} model.")
    # This host's pointer first (it checks the version can serve), then the shared storage, then the
    # row that makes every other process switch (they fetch what it names).
    if engine == "embedded":
        embedded.activate(settings, version)
    else:
        rasa_store.activate(settings, version, actor=user.email if user else None, note=note)
    model_sync.publish(settings, engine, version)
    with db.transaction() as session:
        previous = model_sync.record_activation(session, engine, version, user=user, note=note,
                                                local_previous=previous)
    return {"engine": engine, "active": version, "previous": previous}


def rollback(settings: Settings, db: Database, user: User | None, engine: str) -> dict[str, Any]:
    with db.session() as session:
        target = rollback_target(session, settings, engine)
    if target is None:
        raise ModelError(f"There is no earlier {engine} model to roll back to.")
    return activate(settings, db, user, engine, target, note="rollback")


def compare(db: Database, engine: str, a: str, b: str) -> dict[str, Any]:
    """The latest evaluation of each model under each protocol both were evaluated with, side by side."""
    with db.session() as session:
        runs = list(session.scalars(select(BotTrainingRun).where(
            BotTrainingRun.kind == RunKind.EVALUATE.value, BotTrainingRun.engine == engine,
            BotTrainingRun.status == RunStatus.SUCCEEDED.value, BotTrainingRun.model_version.in_([a, b]))
            .order_by(BotTrainingRun.id.desc())))
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        result = run.result or {}
        latest.setdefault((str(run.model_version), str(result.get("protocol_label"))), result)
    protocols = sorted({p for (_, p) in latest if (a, p) in latest and (b, p) in latest})
    comparisons = []
    for label in protocols:
        ra, rb = latest[(a, label)], latest[(b, label)]
        headline = [{"metric": k, "a": ra.get(k), "b": rb.get(k),
                     "delta": round(rb[k] - ra[k], 4) if isinstance(ra.get(k), float | int)
                     and isinstance(rb.get(k), float | int) else None} for k in HEADLINE]
        intents = sorted(set(ra.get("per_intent") or {}) | set(rb.get("per_intent") or {}))
        per_intent = []
        for intent in intents:
            fa = (ra.get("per_intent") or {}).get(intent, {}).get("f1")
            fb = (rb.get("per_intent") or {}).get(intent, {}).get("f1")
            per_intent.append({"intent": intent, "a": fa, "b": fb,
                               "delta": round(fb - fa, 4) if fa is not None and fb is not None else None})
        comparisons.append({"protocol": label, "headline": headline, "per_intent": per_intent,
                            "confused_a": ra.get("most_confused", []), "confused_b": rb.get("most_confused", []),
                            "handoff_reasons_a": ra.get("handoff_reasons", {}),
                            "handoff_reasons_b": rb.get("handoff_reasons", {})})
    missing = [m for m in (a, b) if not any(k[0] == m for k in latest)]
    return {"engine": engine, "a": a, "b": b, "comparisons": comparisons, "not_evaluated": missing}
