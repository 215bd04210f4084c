"""`parley bot ...`: train, try and measure the bot from a terminal.

`console.cli` mounts the `bot` group into `parley`. Settings come from the click context object when
the parent put a `Settings` there (tests do), else from the environment, like every other command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bot.embedded import (
    InvalidTrainingData,
    NoActiveModel,
    TrainedModel,
    ensure_trained,
    load_active,
    load_meta,
    train,
    train_and_activate,
)
from bot.evaluate import (
    EvaluationReport,
    choose_held_out_intents,
    evaluate,
    hold_out_intents,
    load_labelled,
    split_holdout,
)
from bot.model_sync import announce_trained
from bot.policy import respond
from bot.training_data import TrainingData, TrainingDataError
from bot.types import TurnContext
from models.settings import Settings

_EXISTING = click.Path(exists=True, path_type=Path)
_ENGINE = click.option("--engine", type=click.Choice(["embedded", "rasa"]), default="embedded", show_default=True,
                       help="Which intent engine: the embedded classifier, or Rasa (PARLEY_RASA_*; `make rasa`).")
_RASA_CONFIG = click.option("--rasa-config", "rasa_config",
                            type=click.Path(exists=True, dir_okay=False, path_type=Path),
                            help="--engine rasa: the Rasa config.yml to train with (default: the data's config.yml).")


def _settings(ctx: click.Context) -> Settings:
    found = ctx.find_object(Settings)
    return found if found is not None else Settings.from_env()


@click.group("bot")
def bot() -> None:
    """Train, try and evaluate the bot's intent model."""


bot_cli = bot  # an unambiguous name for importers that also import the `bot` package


@bot.command("train")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Rasa data directory (default: PARLEY_DATA, ./data).",
)
@_ENGINE
@_RASA_CONFIG
@click.pass_context
def train_command(ctx: click.Context, data_dir: Path | None, engine: str = "embedded",
                  rasa_config: Path | None = None) -> None:
    """Validate the training data, train the model (embedded, or Rasa) and make it active."""
    settings = _settings(ctx)
    source = data_dir or settings.data_dir
    if not source.is_dir():
        raise click.UsageError(f"{source}: no such directory (set PARLEY_DATA or pass --data)")
    if engine == "rasa":
        from bot.rasa.cli import train_command as rasa_train

        rasa_train(ctx, settings, source, rasa_config)
        return
    try:
        version = train_and_activate(settings, source)
    except InvalidTrainingData as exc:
        click.echo(f"Not trained: {len(exc.problems)} problem(s) in {source}:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        ctx.exit(1)
    except TrainingDataError as exc:
        raise click.ClickException(str(exc)) from exc
    announce_trained(settings, "embedded", version)
    meta = load_meta(settings, version)
    click.echo(
        f"Trained embedded model {version} on {meta.n_examples} examples ({len(meta.intents)} intents) "
        f"in {meta.train_seconds:.1f}s; it is now active."
    )


@bot.command("parse")
@click.argument("text")
@click.option(
    "--fallbacks",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many 'please rephrase' turns came just before (to try the repeated-fallback rule).",
)
@_ENGINE
@click.pass_context
def parse_command(ctx: click.Context, text: str, fallbacks: int, engine: str = "embedded") -> None:
    """Print what the bot makes of TEXT, as JSON (trains first if the model is missing or stale)."""
    settings = _settings(ctx)
    if engine == "rasa":
        from bot.rasa.cli import parse_command as rasa_parse

        click.echo(json.dumps(rasa_parse(settings, text, fallbacks), ensure_ascii=False, indent=2))
        return
    try:
        ensure_trained(settings)
        model = load_active(settings)
    except InvalidTrainingData as exc:
        raise click.ClickException(f"the training data has problems; run `parley bot train`: {exc}") from exc
    except (TrainingDataError, NoActiveModel) as exc:
        raise click.ClickException(str(exc)) from exc
    result = model.parse(text)
    turn = respond(
        result,
        TurnContext(conversation_id="cli", consecutive_fallbacks=fallbacks),
        model.thresholds(settings),
        model.book,
        engine="embedded",
        model_version=model.version,
    )
    payload = turn.parse_json(text)
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


@bot.command("evaluate")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=_EXISTING,
    help="Labelled test data: a Rasa directory, a Rasa NLU .yml file or a text,category .csv.",
)
@click.option(
    "--train",
    "train_path",
    type=_EXISTING,
    help="Train a throwaway model on this (Rasa directory, .yml or .csv) instead of using the active one.",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Split --data per intent: train a throwaway model on the rest, test on this fraction.",
)
@click.option(
    "--holdout-intents",
    type=click.IntRange(min=1),
    help="Leave K intents out of training and relabel their test examples out_of_scope.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for --holdout and --holdout-intents.")
@click.option("--fallback-threshold", type=click.FloatRange(0, 1), help="Override PARLEY_BOT_FALLBACK_THRESHOLD.")
@click.option("--handoff-threshold", type=click.FloatRange(0, 1), help="Override PARLEY_BOT_HANDOFF_THRESHOLD.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@_ENGINE
@_RASA_CONFIG
@click.pass_context
def evaluate_command(
    ctx: click.Context,
    data_path: Path,
    train_path: Path | None,
    holdout: float | None,
    holdout_intents: int | None,
    seed: int,
    fallback_threshold: float | None,
    handoff_threshold: float | None,
    as_json: bool,
    engine: str = "embedded",
    rasa_config: Path | None = None,
) -> None:
    """Measure intent accuracy and handoff behaviour on labelled data.

    With --data alone the ACTIVE model is evaluated; --train or --holdout train a throwaway model and
    leave the active one untouched.
    """
    if train_path is not None and holdout is not None:
        raise click.UsageError("use either --train or --holdout, not both")
    settings = _settings(ctx)
    if engine == "rasa":
        if fallback_threshold is not None:
            raise click.UsageError("with --engine rasa the rephrase threshold is the FallbackClassifier's, "
                                   "in the Rasa config.yml")
        from bot.rasa.cli import evaluate_command as rasa_evaluate

        datasets = _datasets(data_path, train_path, holdout, holdout_intents, seed)
        rasa_evaluate(settings, datasets, data_path, train_path, handoff_threshold, as_json, rasa_config,
                      _print_report)
        return
    overrides = {"bot_fallback_threshold": fallback_threshold, "bot_handoff_threshold": handoff_threshold}
    train_set, test, held = _datasets(data_path, train_path, holdout, holdout_intents, seed)
    model = _model(settings, train_set)
    thresholds = model.thresholds(settings.with_(**{k: v for k, v in overrides.items() if v is not None}))
    report = evaluate(model, test, thresholds)
    summary = {
        "model": {
            "version": model.version,
            "throwaway": train_set is not None,
            "trained_on": train_set.source if train_set is not None else None,
            "n_train_examples": model.meta.n_examples,
            "train_seconds": model.meta.train_seconds,
        },
        "data": test.source,
        "held_out_intents": list(held),
        **report.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_report(summary, report)


def _datasets(
    data_path: Path, train_path: Path | None, holdout: float | None, holdout_intents: int | None, seed: int
) -> tuple[TrainingData | None, TrainingData, tuple[str, ...]]:
    """(training set or None for the active model, test set, held-out intents) as the options ask."""
    test = _load("--data", data_path)
    train_set: TrainingData | None = None
    if holdout is not None:
        train_set, test = split_holdout(test, holdout, seed)
    elif train_path is not None:
        train_set = _load("--train", train_path)
    if holdout_intents is None:
        return train_set, test, ()
    if train_set is None:
        raise click.UsageError("--holdout-intents needs --train or --holdout (the active model is already trained)")
    try:
        held = choose_held_out_intents(train_set, holdout_intents, seed)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    train_set, test = hold_out_intents(train_set, test, held)
    return train_set, test, held


def _load(option: str, path: Path) -> TrainingData:
    try:
        return load_labelled(path)
    except TrainingDataError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


def _model(settings: Settings, train_set: TrainingData | None) -> TrainedModel:
    if train_set is None:
        try:
            return load_active(settings)
        except NoActiveModel as exc:
            raise click.ClickException(f"{exc} (or pass --train / --holdout)") from exc
    try:
        return train(train_set)
    except InvalidTrainingData as exc:
        raise click.ClickException(str(exc)) from exc


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_report(summary: dict[str, Any], report: EvaluationReport) -> None:
    model = summary["model"]
    kind = f"throwaway, trained on {model['trained_on']}" if model["throwaway"] else "active model"
    lines = [
        f"Model            {model['version']} ({kind}; {model['n_train_examples']} examples, "
        f"{model['train_seconds']:.1f}s)",
        f"Test data        {summary['data']}: {report.n_examples} examples "
        f"({report.n_in_scope} in scope, {report.n_out_of_scope} out of scope)",
    ]
    if summary["held_out_intents"]:
        lines.append(f"Held-out intents {', '.join(summary['held_out_intents'])}")
    macro = "n/a" if report.macro_f1 is None else f"{report.macro_f1:.4f}"
    lines += [
        f"Thresholds       fallback {report.thresholds.fallback}, handoff {report.thresholds.handoff}",
        "",
        f"Intent accuracy       {_pct(report.intent_accuracy):>7}   macro F1 {macro}",
        f"Handoff recall        {_pct(report.handoff_recall):>7}   out-of-scope messages handed off",
        f"  asked to rephrase   {_pct(report.out_of_scope_rephrase_rate):>7}   out-of-scope messages",
        f"False handoff rate    {_pct(report.false_handoff_rate):>7}   answerable messages handed off",
        f"Rephrase rate         {_pct(report.rephrase_rate):>7}   answerable messages asked to rephrase",
        "Handoff reasons       " + (", ".join(f"{k} {v}" for k, v in report.handoff_reasons.items()) or "none"),
        f"Out of scope          AUROC {_num(report.auroc)}   FPR95 {_pct(report.fpr95)}   "
        f"calibration error (ECE) {_num(report.ece)}",
        "",
        "Threshold sweep (both thresholds at t): in-scope accuracy / handoff recall / false handoffs",
        "  " + "   ".join(f"{p.threshold:.1f}: {_pct(p.in_scope_accuracy)}/{_pct(p.handoff_recall)}/"
                         f"{_pct(p.false_handoff_rate)}" for p in report.sweep[::4]),
        "",
        f"{'intent':<28} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}",
    ]
    lines += [
        f"{m.intent:<28} {m.precision:>9.3f} {m.recall:>7.3f} {m.f1:>7.3f} {m.support:>8}" for m in report.per_intent
    ]
    if report.most_confused:
        lines += ["", "Most confused (expected → predicted)"]
        lines += [f"  {c.count:>4}  {c.expected} → {c.predicted}" for c in report.most_confused]
    click.echo("\n".join(lines))
