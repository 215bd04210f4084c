"""`parley bot train|parse|evaluate --engine rasa`: the embedded commands' Rasa halves.

`bot.cli` parses the options and calls in here; output has the embedded engine's shapes, so the two
engines can be compared on the same data with the same tools.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bot.embedded import InvalidTrainingData
from bot.evaluate import EvaluationReport
from bot.model_sync import announce_trained
from bot.rasa import store
from bot.rasa.client import RasaError
from bot.rasa.config import RasaNotInstalled, RasaSettings
from bot.rasa.engine import RasaEngine
from bot.rasa.evaluation import active_server, default_config, evaluate_active, evaluate_throwaway
from bot.rasa.trainer import TrainingFailed, train
from bot.training_data import TrainingData, TrainingDataError
from bot.types import TurnContext
from models.settings import Settings


def train_command(ctx: click.Context, settings: Settings, source: Path, config: Path | None) -> None:
    def progress(share: float, stage: str) -> None:
        click.echo(f"  {share * 100:5.1f}%  {stage}", err=True)

    try:
        result = train(settings, source, config=config, progress=progress, actor="cli")
    except InvalidTrainingData as exc:
        click.echo(f"Not trained: {len(exc.problems)} problem(s) in {source}:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        ctx.exit(1)
    except (TrainingDataError, RasaNotInstalled, TrainingFailed) as exc:
        raise click.ClickException(str(exc)) from exc
    meta = result.meta
    announce_trained(settings, "rasa", meta.version)
    click.echo(f"Trained Rasa model {meta.version} on {meta.n_examples} examples ({len(meta.intents)} intents) "
               f"in {meta.train_seconds:.1f}s; it is now active.")


def parse_command(settings: Settings, text: str, fallbacks: int) -> dict[str, Any]:
    """A real turn through Rasa (NLU and dialogue) under a throwaway conversation id."""
    rasa = RasaSettings.from_settings(settings)
    try:
        with active_server(settings, rasa) as server:
            engine = RasaEngine(settings, server)
            turn = engine.turn(text, TurnContext(conversation_id=f"parley-cli-{secrets.token_hex(6)}",
                                                 consecutive_fallbacks=fallbacks))
    except (RasaError, RasaNotInstalled, store.NoRasaModel) as exc:
        raise click.ClickException(str(exc)) from exc
    return turn.parse_json(text)


def evaluate_command(
    settings: Settings,
    datasets: tuple[TrainingData | None, TrainingData, tuple[str, ...]],
    data_path: Path,
    train_path: Path | None,
    handoff_threshold: float | None,
    as_json: bool,
    config: Path | None,
    print_report: Callable[[dict[str, Any], EvaluationReport], None],
) -> None:
    """`parley bot evaluate --engine rasa`: the datasets as `bot.cli` read them from the options, the
    report printed by the same function as the embedded engine's, so the two compare line for line."""
    rasa = RasaSettings.from_settings(settings)
    train_set, test, held = datasets

    def progress(share: float, stage: str) -> None:
        if not as_json or sys.stderr.isatty():
            click.echo(f"  {share * 100:5.1f}%  {stage}", err=True)

    try:
        if train_set is None:
            result = evaluate_active(settings, test, handoff_threshold=handoff_threshold, rasa=rasa)
        else:
            cfg = config or default_config(settings, train_path or data_path, rasa)
            result = evaluate_throwaway(settings, train_set, test, config=cfg, handoff_threshold=handoff_threshold,
                                        rasa=rasa, progress=progress)
    except InvalidTrainingData as exc:
        raise click.ClickException(str(exc)) from exc
    except (RasaError, RasaNotInstalled, store.NoRasaModel, TrainingDataError, TrainingFailed) as exc:
        raise click.ClickException(str(exc)) from exc
    summary = {
        "model": {**result.model, "engine": "rasa"},
        "data": test.source,
        "held_out_intents": list(held),
        **result.report.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        summary["model"]["train_seconds"] = summary["model"].get("train_seconds") or 0.0
        summary["model"]["n_train_examples"] = summary["model"].get("n_train_examples") or 0
        print_report(summary, result.report)
        click.echo(f"\nParsed {result.report.n_examples} messages through Rasa in {result.parse_seconds:.1f}s.")
