"""bench.intents on a dataset with its own out-of-scope split (CLINC150's layout), and the outlier-exposure
split on BANKING77-like data: a small dataset written here, the sparse engine, no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import intents as bench
from bot.training_data import TrainingData, TrainingDataError

TOPICS = {
    "weather": ["rain", "sunny", "forecast", "snow", "temperature", "windy", "cloudy", "storm"],
    "balance": ["balance", "savings", "funds", "account total", "money left", "available cash", "deposit sum",
                "current balance"],
    "pizza": ["pizza", "pepperoni", "margherita", "cheese pizza", "pizza delivery", "large pizza", "calzone",
              "pizza slice"],
    "flight": ["flight", "plane ticket", "boarding pass", "airline", "departure gate", "layover", "airport",
               "return flight"],
    "music": ["song", "playlist", "album", "music", "track", "singer", "radio", "tune"],
    "alarm": ["alarm", "wake me", "reminder", "snooze", "timer", "alarm clock", "ring at", "wake up call"],
}
OOS = ["quantum physics", "volcano eruption", "knitting pattern", "chess opening", "dinosaur fossil",
       "poetry meter", "origami crane", "glacier melting"]
PATTERNS = ["tell me about the {}", "what is my {}", "i want the {} now", "can you check {} please",
            "{} question", "help with {}"]


def _rows(words: list[str], intent: str, patterns: list[str]) -> list[list[str]]:
    return [[p.format(w), intent] for w in words for p in patterns]


def _dataset() -> dict[str, list[list[str]]]:
    train, test = PATTERNS[:4], PATTERNS[4:]
    return {
        "train": [r for i, w in TOPICS.items() for r in _rows(w, i, train)],
        "val": [r for i, w in TOPICS.items() for r in _rows(w[:2], i, test)],
        "test": [r for i, w in TOPICS.items() for r in _rows(w, i, test)],
        "oos_train": _rows(OOS[:6], "oos", train),
        "oos_val": _rows(OOS[6:], "oos", train),
        "oos_test": _rows(OOS, "oos", test),
    }


@pytest.fixture
def oos_file(tmp_path: Path) -> Path:
    path = tmp_path / "data_full.json"
    path.write_text(json.dumps(_dataset()))
    return path


def test_reads_the_splits_and_relabels_out_of_scope(oos_file: Path) -> None:
    splits = bench.load_oos_json(oos_file)
    assert set(splits) == set(bench.OOS_SPLITS)
    assert len(splits["train"].examples) == 6 * 8 * 4
    assert len(splits["test"].examples) == 6 * 8 * 2
    assert splits["train"].intents == tuple(sorted(TOPICS))
    assert {i for _, i in splits["oos_test"].examples} == {"out_of_scope"}
    assert len(splits["oos_test"].examples) == 16
    assert splits["train"].data_hash != splits["test"].data_hash


@pytest.mark.parametrize("document, why", [
    ({"train": [], "test": []}, "oos_train, oos_test"),
    ({"train": [["a", "b", "c"]], "test": [], "oos_train": [], "oos_test": []}, "'train' must be a list"),
    ({"train": [["hi", 3]], "test": [], "oos_train": [], "oos_test": []}, "'train' must be a list"),
    ({"train": [["hi", "out_of_scope"]], "test": [], "oos_train": [], "oos_test": []}, "belong in 'oos_train'"),
    ([1, 2], "expected the splits"),
])
def test_refuses_other_layouts(tmp_path: Path, document: object, why: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(TrainingDataError, match=why):
        bench.load_oos_json(path)


def test_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b"\xff{not json")
    with pytest.raises(TrainingDataError, match="not a readable JSON file"):
        bench.load_oos_json(path)
    with pytest.raises(TrainingDataError, match="not a readable JSON file"):
        bench.load_oos_json(tmp_path / "missing.json")


def test_measures_in_scope_accuracy_on_test_and_handoff_recall_on_oos_test(oos_file: Path) -> None:
    splits = bench.load_oos_json(oos_file)
    plain = bench.measure_oos("before", splits, oos_train=False, messages=5)
    assert (plain["n_train"], plain["n_test"], plain["n_oos_test"], plain["intents"]) == (192, 96, 16, 6)
    assert plain["in_scope_accuracy"] == 1.0
    # Unknown topics score under every in-scope message (AUROC 1), but most only low enough to be asked
    # to rephrase at the default thresholds (0.5/0.2: too little data for the model's own).
    assert plain["auroc"] == 1.0
    assert plain["handoff_recall"] < 0.5
    assert plain["handoff_recall"] + plain["out_of_scope_rephrased"] == 1.0
    assert plain["false_handoffs"] == 0.0
    taught = bench.measure_oos("before", splits, oos_train=True, messages=5)
    assert taught["n_train"] == 192 + 24
    assert taught["intents"] == 6  # out_of_scope is not an answerable intent
    assert taught["in_scope_accuracy"] == 1.0
    # Taught what it does not answer, it hands off unseen messages on those topics as out_of_scope.
    assert taught["handoff_recall"] >= 0.9
    assert taught["false_handoffs"] == 0.0


def test_main_prints_the_oos_figures_and_reads_the_environment(oos_file: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(bench.OOS_DATA_ENV, str(oos_file))
    assert bench.main(["--engines", "before", "--messages", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data"] == str(oos_file)
    assert [r["engine"] for r in out["rows"]] == ["before"]
    assert out["rows"][0]["in_scope_accuracy"] == 1.0
    assert bench.main(["--engines", "before", "--messages", "3", "--oos-data", str(oos_file)]) == 0
    text = capsys.readouterr().out
    assert "handoff recall" in text and "96 in scope + 16 out of scope" in text


def test_main_says_what_is_wrong_with_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}")
    assert bench.main(["--oos-data", str(path)]) == 2
    assert "expected the splits train, test, oos_train, oos_test" in capsys.readouterr().err


def test_exposure_split_teaches_or_leaves_out_the_same_intents() -> None:
    intents = [f"i{n}" for n in range(12)]
    train = TrainingData(examples=tuple((f"{i} text {k}", i) for i in intents for k in range(3)), data_hash="h")
    test = TrainingData(examples=tuple((f"{i} test", i) for i in intents), data_hash="t")
    held = ("i0", "i1")
    train_k = train.with_examples([e for e in train.examples if e[1] not in held], "k")
    test_k = test.with_examples([(t, "out_of_scope" if i in held else i) for t, i in test.examples], "k")
    left_train, left_test = bench.exposure_split(train_k, test_k, held, 3, teach=False)
    taught_train, taught_test = bench.exposure_split(train_k, test_k, held, 3, teach=True)
    assert left_test.examples == taught_test.examples
    assert len(left_test.examples) == 12 - 3
    exposed = set(train_k.intents) - set(left_train.intents)
    assert len(exposed) == 3 and not exposed & set(held)
    assert {i for _, i in left_test.examples} == set(intents) - exposed - set(held) | {"out_of_scope"}
    assert taught_train.intents == tuple(sorted(set(left_train.intents) | {"out_of_scope"}))
    assert sum(1 for _, i in taught_train.examples if i == "out_of_scope") == 3 * 3


def test_main_compares_intents_left_out_with_intents_taught_as_out_of_scope(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """BANKING77's layout (train.csv, test.csv): one intent unknown, one more left out or taught."""
    import csv

    data = _dataset()
    for name, rows in (("train.csv", data["train"]), ("test.csv", data["test"])):
        with (tmp_path / name).open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "category"])
            writer.writerows(rows)
    args = ["--data", str(tmp_path), "--engines", "before", "--held-out", "1", "--outlier-exposure", "1"]
    assert bench.main([*args, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["outlier_exposure"][0]
    assert len(row["held_out"]) == 1
    assert row["left_out"]["in_scope_accuracy"] == row["taught"]["in_scope_accuracy"] == 1.0
    assert 0 <= row["left_out"]["handoff_recall"] <= 1 and 0 <= row["taught"]["handoff_recall"] <= 1
    assert bench.main(args) == 0
    text = capsys.readouterr().out
    assert "1 more intents left out" in text and "1 more intents taught as out_of_scope" in text
