"""Trained Rasa models, versioned beside the embedded ones: `<models_dir>/rasa/<version>/`.

Each version directory holds `<version>.tar.gz` (what `rasa run --model` loads; the file name is the
version, so Rasa's `/status` names the version it serves) and `meta.json` (what it was trained on).
As in the embedded store, a version is written under a temporary name and renamed, and the `active`
pointer is replaced atomically. Activations are appended to `history.jsonl`, so "roll back" means
"the version that was active before this one", also after a restart.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import model_store
from models.settings import Settings

ENGINE_NAME = "rasa"
META_FILE = "meta.json"
HISTORY_FILE = "history.jsonl"
KEEP_VERSIONS = 5
_STAGING_MAX_AGE = 6 * 3600.0
MODEL_FORMAT = 1


class NoRasaModel(Exception):
    """No Rasa model has been trained yet (or the one asked for is gone)."""


@dataclass(frozen=True)
class RasaModelMeta:
    version: str
    data_hash: str
    trained_at: str
    train_seconds: float
    n_examples: int
    intents: tuple[str, ...]
    # "full" (NLU + dialogue, what `parley run` serves) or "nlu" (throwaway evaluation models).
    kind: str = "full"
    rasa_version: str = ""
    config_hash: str = ""
    # The FallbackClassifier threshold the model was trained with (None: no FallbackClassifier).
    fallback_threshold: float | None = None
    source: str = ""
    # The training-data version (bot studio) this was trained from, when known.
    data_version: int | None = None
    format: int = MODEL_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "intents": list(self.intents)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RasaModelMeta:
        raw: dict[str, Any] = json.loads(text)
        raw["intents"] = tuple(raw.get("intents") or ())
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in raw.items() if key in known})


new_version = model_store.new_version


def store_dir(settings: Settings) -> Path:
    return settings.models_dir / ENGINE_NAME


def model_path(settings: Settings, version: str) -> Path:
    return store_dir(settings) / version / f"{version}.tar.gz"


def save(settings: Settings, version: str, archive: Path, meta: RasaModelMeta) -> Path:
    """Move a trained archive into the store as a complete version directory."""

    def fill(staging: Path) -> None:
        shutil.move(str(archive), staging / f"{version}.tar.gz")
        (staging / META_FILE).write_text(meta.to_json(), encoding="utf-8")

    return model_store.write_version(store_dir(settings), version, fill)


def versions(settings: Settings) -> list[RasaModelMeta]:
    """Every complete version, newest first."""
    found = []
    for path in model_store.version_dirs(store_dir(settings)):
        if (path / META_FILE).is_file():
            try:
                found.append(load_meta(settings, path.name))
            except (NoRasaModel, ValueError, TypeError, KeyError):
                continue
    return found


def load_meta(settings: Settings, version: str) -> RasaModelMeta:
    path = store_dir(settings) / version / META_FILE
    try:
        return RasaModelMeta.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NoRasaModel(f"no Rasa model '{version}' in {store_dir(settings)}") from exc


def active_version(settings: Settings) -> str | None:
    return model_store.read_active(store_dir(settings))


def active_model(settings: Settings) -> Path:
    version = active_version(settings)
    if version is None:
        raise NoRasaModel(
            f"no active Rasa model in {store_dir(settings)}: run `parley bot train --engine rasa`"
        )
    path = model_path(settings, version)
    if not path.is_file():
        raise NoRasaModel(f"the active Rasa model '{version}' is missing from {store_dir(settings)}")
    return path


def activate(settings: Settings, version: str, *, actor: str | None = None, note: str = "") -> str | None:
    """Point `active` at `version` atomically and record it; returns the version it replaced."""
    store = store_dir(settings)
    meta = load_meta(settings, version)
    if meta.kind != "full" or not model_path(settings, version).is_file():
        raise NoRasaModel(f"Rasa model '{version}' cannot serve customers (kind {meta.kind!r})")
    previous = active_version(settings)
    model_store.write_active(store, version)
    entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "version": version,
             "previous": previous, "actor": actor, "note": note}
    with open(store / HISTORY_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    return previous


def history(settings: Settings) -> list[dict[str, Any]]:
    """Activations, newest first."""
    try:
        lines = (store_dir(settings) / HISTORY_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries[::-1]


def rollback_target(settings: Settings) -> str | None:
    """The version that was active before the current one (and still exists)."""
    current = active_version(settings)
    for entry in history(settings):
        if entry.get("version") == current:
            previous = entry.get("previous")
            if previous and previous != current and model_path(settings, previous).is_file():
                return str(previous)
            return None
    return None


def prune(settings: Settings, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete all but the `keep` newest versions (never the active one nor its rollback target)."""
    spared = {active_version(settings), rollback_target(settings)}
    return model_store.prune(store_dir(settings), keep, spared, _STAGING_MAX_AGE)


def delete(settings: Settings, version: str) -> None:
    if version in (active_version(settings), rollback_target(settings)):
        raise ValueError("the active model and its rollback target cannot be deleted")
    shutil.rmtree(store_dir(settings) / version, ignore_errors=True)

