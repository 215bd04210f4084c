"""Build the engine chain named by `PARLEY_BOT_ENGINES`, ready to answer.

This is where start-up meets training: the embedded model is (re)trained here when it is missing or
stale, so `parley run` answers from the current `data/` without a separate step.
"""

from __future__ import annotations

import logging

from bot.embedded import EmbeddedEngine, active_version, ensure_trained
from bot.model_sync import ModelFollower
from bot.studio import versions
from bot.training_data import TrainingDataError
from bot.types import Engine
from models.settings import Settings

log = logging.getLogger(__name__)

# Engines designed (see DESIGN.md) but not built yet: naming one is a configuration error, said at start.
PLANNED: frozenset[str] = frozenset()


def build_engines(settings: Settings, follower: ModelFollower | None = None) -> list[Engine]:
    """One engine per name in `settings.bot_engines`, in order; raises on a name it cannot build.
    `llm` without a configured model is dropped with a warning (bot/llm/setup.py), unless nothing
    would be left to answer. With a `follower`, the trained engines answer with the model the
    database names (bot/model_sync.py)."""
    engines = [e for e in (_build(name, settings, follower) for name in settings.bot_engines) if e is not None]
    if not engines:
        raise ValueError("no bot engine can answer: PARLEY_BOT_ENGINES=llm needs PARLEY_LLM_MODEL "
                         "(e.g. openai:gpt-4o-mini), or add an intent engine (embedded,llm)")
    return engines


def _build(name: str, settings: Settings, follower: ModelFollower | None) -> Engine | None:
    if name == "embedded":
        prepare_embedded(settings, follower)
        follow = (lambda known=None: follower.follow("embedded", known)) if follower else None
        return EmbeddedEngine(settings, follow=follow)
    if name == "llm":
        from bot.llm.setup import build_llm_engine  # langchain loads only when the stage is asked for

        return build_llm_engine(settings)
    if name == "rasa":
        from bot.rasa.build import build_rasa_engine  # starts (or finds) the Rasa server: only when asked

        return build_rasa_engine(settings, follower=follower)
    if name == "http":
        from bot.http_engine import HttpBotEngine

        return HttpBotEngine.from_settings(settings)
    if name in PLANNED:
        raise ValueError(f"bot engine '{name}' is not available yet; use PARLEY_BOT_ENGINES=embedded")
    raise ValueError(f"unknown bot engine '{name}' in PARLEY_BOT_ENGINES (known: embedded, rasa, llm, http)")


def prepare_embedded(settings: Settings, follower: ModelFollower | None = None) -> str:
    """Train if stale. If the data is broken but a model exists, keep serving it rather than take the
    whole support desk down over a typo in `data/`; with no model at all, the error stands.

    With a `follower`, the database's active model is fetched first, so a process on a new host does
    not retrain what another already trained; a model trained here becomes everyone's active one."""
    if follower is not None:
        versions.sync_from_database(settings, follower.db)  # data/ as the admins last saved it, on any host
        follower.follow("embedded")
    try:
        version = ensure_trained(settings)
    except TrainingDataError as exc:
        current = active_version(settings)
        if current is None:
            raise
        log.error("bot training data not usable (%s); still answering with model %s", exc, current)
        return current
    if follower is not None:
        follower.announce("embedded", version, note="trained at start")
    return version
