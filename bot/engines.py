"""Build the engine chain named by `PARLEY_BOT_ENGINES`, ready to answer.

This is where start-up meets training: the embedded model is (re)trained here when it is missing or
stale, so `parley run` answers from the current `data/` without a separate step.
"""

from __future__ import annotations

import logging

from bot.embedded import EmbeddedEngine, active_version, ensure_trained
from bot.training_data import TrainingDataError
from bot.types import Engine
from models.settings import Settings

log = logging.getLogger(__name__)

# Engines designed (see DESIGN.md) but not built yet: naming one is a configuration error, said at start.
PLANNED = frozenset({"rasa", "llm"})


def build_engines(settings: Settings) -> list[Engine]:
    """One engine per name in `settings.bot_engines`, in order; raises on a name it cannot build."""
    return [_build(name, settings) for name in settings.bot_engines]


def _build(name: str, settings: Settings) -> Engine:
    if name == "embedded":
        prepare_embedded(settings)
        return EmbeddedEngine(settings)
    if name in PLANNED:
        raise ValueError(f"bot engine '{name}' is not available yet; use PARLEY_BOT_ENGINES=embedded")
    raise ValueError(f"unknown bot engine '{name}' in PARLEY_BOT_ENGINES (known: embedded)")


def prepare_embedded(settings: Settings) -> str:
    """Train if stale. If the data is broken but a model exists, keep serving it rather than take the
    whole support desk down over a typo in `data/`; with no model at all, the error stands."""
    try:
        return ensure_trained(settings)
    except TrainingDataError as exc:
        current = active_version(settings)
        if current is None:
            raise
        log.error("bot training data not usable (%s); still answering with model %s", exc, current)
        return current
