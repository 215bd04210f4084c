"""`parley bot train | parse | evaluate`, through click's test runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import bot_cli
from bot.embedded import active_version, train_and_activate
from models.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "bot" / "tiny"


@pytest.fixture()
def tiny_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(TINY, target)
    return target


@pytest.fixture()
def settings(tmp_path: Path, tiny_dir: Path) -> Settings:
    env = {"PARLEY_INSTANCE": str(tmp_path / "instance"), "PARLEY_DATA": str(tiny_dir), "PARLEY_SECRET_KEY": "t"}
    return Settings.from_env(env=env, load_dotenv=False)


def _run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(bot_cli, list(args), obj=settings, catch_exceptions=False)


def test_train_makes_the_model_active(settings: Settings) -> None:
    result = _run(settings, "train")
    assert result.exit_code == 0, result.output
    version = active_version(settings)
    assert version is not None
    assert f"Trained embedded model {version} on 24 examples (4 intents)" in result.stdout


def test_train_refuses_invalid_data_and_lists_the_problems(settings: Settings, tiny_dir: Path) -> None:
    (tiny_dir / "rules.yml").write_text("rules:\n- rule: x\n  steps:\n  - intent: greet\n  - action: utter_nope\n")
    result = _run(settings, "train", "--data", str(tiny_dir))
    assert result.exit_code == 1
    assert "Not trained: 1 problem(s)" in result.stderr
    assert "utter_nope" in result.stderr
    assert active_version(settings) is None


def test_train_with_a_missing_directory_is_a_usage_error(settings: Settings, tmp_path: Path) -> None:
    assert _run(settings, "train", "--data", str(tmp_path / "nowhere")).exit_code == 2
    moved = settings.with_(data_dir=tmp_path / "gone")
    result = _run(moved, "train")
    assert result.exit_code == 2 and "no such directory" in result.stderr


def test_parse_prints_the_turn_as_json(settings: Settings) -> None:
    result = _run(settings, "parse", "I want to talk to a person")  # trains on first use
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {
        "text", "intent", "confidence", "ranking", "decision", "reason", "replies", "summary", "engine",
        "model_version",
    }  # fmt: skip
    assert (payload["intent"], payload["decision"], payload["reason"]) == ("human_handoff", "handoff", "customer_asked")
    assert payload["replies"] == ["Passing you to a person."]
    assert payload["model_version"] == active_version(settings)
    assert payload["ranking"][0] == {"name": "human_handoff", "confidence": payload["confidence"]}
    assert len(payload["ranking"]) == 4


def test_parse_can_simulate_earlier_fallbacks(settings: Settings) -> None:
    unsure = settings.with_(bot_fallback_threshold=0.999, bot_handoff_threshold=0.0)
    first = json.loads(_run(unsure, "parse", "where is my order").stdout)
    assert (first["intent"], first["decision"]) == ("nlu_fallback", "answer")
    again = json.loads(_run(unsure, "parse", "--fallbacks", "1", "where is my order").stdout)
    assert (again["decision"], again["reason"]) == ("handoff", "repeated_fallback")


EVALUATE_KEYS = {
    "model", "data", "held_out_intents", "n_examples", "n_in_scope", "n_out_of_scope", "intent_accuracy",
    "macro_f1", "handoff_recall", "out_of_scope_rephrase_rate", "false_handoff_rate", "rephrase_rate",
    "handoff_reasons", "per_intent", "most_confused", "thresholds", "auroc", "fpr95", "ece", "sweep",
}  # fmt: skip


def test_evaluate_holdout_json_leaves_the_active_model_alone(settings: Settings, tiny_dir: Path) -> None:
    before = train_and_activate(settings)
    result = _run(settings, "evaluate", "--data", str(tiny_dir), "--holdout", "0.34", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == EVALUATE_KEYS
    assert report["model"]["throwaway"] is True
    assert report["model"]["n_train_examples"] == 16
    assert report["n_examples"] == 8 and report["n_out_of_scope"] == 2
    assert 0.0 <= report["intent_accuracy"] <= 1.0
    assert set(report["per_intent"]) == {"greet", "human_handoff", "order_status"}
    assert report["thresholds"] == {"fallback": 0.5, "handoff": 0.2, "fallback_attempts": 1}
    # out-of-scope detection, calibration and the threshold sweep
    assert 0.0 <= report["auroc"] <= 1.0 and 0.0 <= report["fpr95"] <= 1.0 and 0.0 <= report["ece"] <= 1.0
    assert [p["threshold"] for p in report["sweep"]] == [round(i / 20, 4) for i in range(21)]
    assert report["sweep"][-1]["handoff_recall"] == 1.0 and report["sweep"][-1]["false_handoff_rate"] == 1.0
    assert active_version(settings) == before


def test_evaluate_active_model_on_its_own_data(settings: Settings, tiny_dir: Path) -> None:
    version = train_and_activate(settings)
    result = _run(settings, "evaluate", "--data", str(tiny_dir / "nlu.yml"), "--json", "--fallback-threshold", "0.3")
    report = json.loads(result.stdout)
    assert report["model"] == {
        "version": version, "throwaway": False, "trained_on": None, "n_train_examples": 24,
        "train_seconds": report["model"]["train_seconds"],
    }  # fmt: skip
    assert report["intent_accuracy"] == 1.0  # its own training examples
    assert report["handoff_recall"] == 1.0
    assert report["thresholds"]["fallback"] == 0.3


def test_evaluate_with_a_csv_training_set_and_held_out_intents(settings: Settings, tmp_path: Path) -> None:
    rows = ["text,category"]
    for intent, words in {
        "card": "card lost stolen blocked", "pin": "pin code forgot change", "fee": "fee charge cost extra",
        "top_up": "top up add money", "refund": "refund return money back",
    }.items():  # fmt: skip
        rows += [f"my {w} question {i},{intent}" for i, w in enumerate(words.split())]
    data = tmp_path / "train.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = _run(settings, "evaluate", "--train", str(data), "--data", str(data), "--holdout-intents", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["held_out_intents"]) == 2
    assert report["n_out_of_scope"] == 8  # 4 examples for each of the 2 held-out intents
    assert report["handoff_recall"] is not None
    assert set(report["per_intent"]).isdisjoint(report["held_out_intents"])


def test_evaluate_prints_a_table_by_default(settings: Settings, tiny_dir: Path) -> None:
    result = _run(settings, "evaluate", "--data", str(tiny_dir), "--holdout", "0.34")
    assert result.exit_code == 0, result.output
    assert "Intent accuracy" in result.stdout and "Handoff recall" in result.stdout
    assert "order_status" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "--data", "/no/such/file.csv"],
        ["evaluate", "--data", "{tiny}", "--train", "{tiny}", "--holdout", "0.2"],
        ["evaluate", "--data", "{tiny}", "--holdout-intents", "1"],
        ["evaluate", "--data", "{tiny}", "--holdout", "1.5"],
        ["evaluate", "--data", "{tiny}/domain.yml"],
    ],
)
def test_evaluate_usage_errors(settings: Settings, tiny_dir: Path, args: list[str]) -> None:
    result = _run(settings, *[a.replace("{tiny}", str(tiny_dir)) for a in args])
    assert result.exit_code == 2, result.output


def test_evaluate_without_an_active_model_says_what_to_do(settings: Settings, tiny_dir: Path) -> None:
    result = _run(settings, "evaluate", "--data", str(tiny_dir))
    assert result.exit_code == 1
    assert "parley bot train" in result.stderr
