"""Reading and validating Rasa-format training data."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from bot.training_data import (
    TrainingDataError,
    load_csv,
    load_nlu_file,
    load_training_data,
    strip_entities,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data"
TINY = ROOT / "tests" / "fixtures" / "bot" / "tiny"

REQUIRED_INTENTS = {
    "greet", "goodbye", "thanks", "affirm", "deny", "order_status", "shipping_times", "shipping_costs",
    "returns_refunds", "refund_status", "payment_methods", "opening_hours", "change_address",
    "cancel_order", "damaged_item", "discount_codes", "product_availability", "bot_challenge",
    "human_handoff", "out_of_scope",
}  # fmt: skip


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture()
def tiny_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(TINY, target)
    return target


def test_shipped_data_validates_clean_and_covers_the_shop() -> None:
    data = load_training_data(SHIPPED)
    assert data.validate() == []
    assert set(data.intents) >= REQUIRED_INTENTS
    by_intent = data.examples_by_intent()
    assert min(len(by_intent[intent]) for intent in REQUIRED_INTENTS) >= 12
    for response in ("utter_ask_rephrase", "utter_handoff", "utter_default"):
        assert data.responses[response]
    # every answerable intent is answered by its own response
    assert data.intent_responses["order_status"] == "utter_order_status"
    assert data.intent_responses["human_handoff"] == "utter_handoff"


def test_entity_annotations_are_stripped_to_what_customers_type() -> None:
    assert strip_entities("where is order [48213](order_id) now") == "where is order 48213 now"
    assert strip_entities('do you have [tee]{"entity": "product", "value": "t-shirt"} in black') == (
        "do you have tee in black"
    )
    assert strip_entities('[Berlin](city:berlin) to [Paris][{"entity": "city"}]') == "Berlin to Paris"
    examples = dict(load_training_data(SHIPPED).examples)
    assert examples["where is order 48213"] == "order_status"
    assert not any("](" in text or "]{" in text for text in examples)


def test_list_form_examples_and_single_nlu_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "nlu.yml",
        """
        version: "3.1"
        nlu:
        - intent: greet
          examples:
          - text: hi
            metadata: {sentiment: neutral}
          - text: hello
        - intent: bye
          examples: |
            - bye
            - see you
        - synonym: bye
          examples: |
            - cya
        """,
    )
    data = load_nlu_file(path)
    assert data.examples == (("hi", "greet"), ("hello", "greet"), ("bye", "bye"), ("see you", "bye"))


def test_hash_is_stable_and_changes_with_content(tiny_copy: Path) -> None:
    first = load_training_data(tiny_copy).data_hash
    assert load_training_data(tiny_copy).data_hash == first
    assert load_training_data(TINY).data_hash == first  # same files elsewhere: same hash
    # a config change does not touch what the embedded engine learns
    _write(tiny_copy, "config.yml", "recipe: default.v1\npipeline: []\n")
    assert load_training_data(tiny_copy).data_hash == first
    nlu = tiny_copy / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("- hiya", "- hiya\n    - howdy"))
    assert load_training_data(tiny_copy).data_hash != first


def test_malformed_yaml_names_the_file(tiny_copy: Path) -> None:
    _write(tiny_copy, "rules.yml", "rules:\n  - rule: [unclosed\n")
    with pytest.raises(TrainingDataError, match=r"rules\.yml: invalid YAML"):
        load_training_data(tiny_copy)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("nlu: {greet: hi}\n", "'nlu' must be a list"),
        ("nlu:\n- intent: greet\n  examples: 42\n", "'examples' must be"),
        ("nlu:\n- intent: greet\n  examples: |\n    hi without a dash\n", "does not start with '- '"),
        ("- just a list\n", "expected a mapping at the top level"),
    ],
)
def test_wrongly_shaped_nlu_is_refused(tmp_path: Path, body: str, message: str) -> None:
    _write(tmp_path, "nlu.yml", body)
    with pytest.raises(TrainingDataError, match=message) as info:
        load_training_data(tmp_path)
    assert "nlu.yml" in str(info.value)


def test_missing_directory_or_no_rasa_files(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="no such directory"):
        load_training_data(tmp_path / "nope")
    _write(tmp_path, "notes.yml", "hello: world\n")
    with pytest.raises(TrainingDataError, match="no Rasa training data"):
        load_training_data(tmp_path)


def test_tiny_fixture_is_valid(tiny_copy: Path) -> None:
    assert load_training_data(tiny_copy).validate() == []


def test_validate_lists_each_problem(tiny_copy: Path) -> None:
    domain = tiny_copy / "domain.yml"
    domain.write_text(domain.read_text().replace("  - out_of_scope\n", "  - out_of_scope\n  - refund_status\n"))
    nlu = tiny_copy / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("    - play some music", "    - play some music\n    - Hello Bot"))
    rules = tiny_copy / "rules.yml"
    rules.write_text(rules.read_text() + "- rule: broken\n  steps:\n  - intent: greet\n  - action: utter_missing\n")
    problems = load_training_data(tiny_copy).validate()
    assert "Intent 'refund_status' has no examples in the NLU data." in problems
    assert any("'Hello Bot'" in p or "'hello bot'" in p for p in problems if "several intents" in p)
    assert any("uses response 'utter_missing', which the domain does not define" in p for p in problems)
    assert any("already answers it with 'utter_greet'" in p for p in problems)
    assert len(problems) == 4, problems


def test_validate_needs_two_intents_and_an_answer_for_each(tmp_path: Path) -> None:
    _write(tmp_path, "nlu.yml", "nlu:\n- intent: greet\n  examples: |\n    - hi\n")
    _write(tmp_path, "domain.yml", "intents: [greet]\nresponses: {}\n")
    problems = load_training_data(tmp_path).validate()
    assert "Only 1 intent(s) with examples: a classifier needs at least 2." in problems
    assert any(p.startswith("Intent 'greet' has no answer") for p in problems)


def test_undeclared_intent_and_missing_domain(tmp_path: Path) -> None:
    _write(tmp_path, "nlu.yml", "nlu:\n- intent: a\n  examples: |\n    - x\n- intent: b\n  examples: |\n    - y\n")
    problems = load_training_data(tmp_path).validate()
    assert any("No domain file" in p for p in problems)
    _write(tmp_path, "domain.yml", "intents: [a]\nresponses:\n  utter_a: [{text: A}]\n  utter_b: [{text: B}]\n")
    assert load_training_data(tmp_path).validate() == [
        "Intent 'b' has examples but is not listed under 'intents' in the domain."
    ]


def test_csv_loading(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('text,category\nI lost my card,lost_card\n"hello, there",greet\n,empty\n', encoding="utf-8")
    assert load_csv(path).examples == (("I lost my card", "lost_card"), ("hello, there", "greet"))
    path.write_text("sentence,label\nhi,greet\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="needs a header with 'text' and 'category'"):
        load_csv(path)


def test_data_split_over_several_files_is_merged_and_errors_name_the_nested_file(tiny_copy: Path) -> None:
    _write(tiny_copy, "nlu/extra.yml", "nlu:\n- intent: greet\n  examples: |\n    - howdy\n")
    data = load_training_data(tiny_copy)
    assert ("howdy", "greet") in data.examples and data.validate() == []
    _write(tiny_copy, "nlu/extra.yml", "nlu:\n- intent: greet\n  examples: |\n  - howdy\n bad: [\n")
    with pytest.raises(TrainingDataError, match=r"^nlu/extra\.yml: invalid YAML"):
        load_training_data(tiny_copy)


# ------------------------------------------------------------------------- YAML 1.2, as Rasa reads it

_YES_NO_DOMAIN = """\
version: "3.1"
intents:
  - yes
  - no
  - on:
      use_entities: []
  - off
entities:
  - y
slots:
  n:
    type: text
    mappings:
    - type: from_entity
      entity: y
responses:
  utter_yes:
  - text: "Great, done."
  utter_no:
  - text: "OK, I won't."
  utter_on:
  - text: "Switched on."
  utter_off:
  - text: "Switched off."
"""
_YES_NO_NLU = """\
version: "3.1"
nlu:
- intent: yes
  examples: |
    - yes please
    - sure, go ahead
    - absolutely
    - sounds good
- intent: no
  examples: |
    - no thanks
    - nope
    - not now
    - don't do that
- intent: on
  examples: |
    - turn it on
    - switch on the lights
    - power [up](y)
- intent: off
  examples: |
    - turn it off
    - switch off the lights
    - shut it down
"""
_YES_NO_RULES = """\
version: "3.1"
rules:
- rule: yes
  steps:
  - intent: yes
  - action: utter_yes
- rule: no
  steps:
  - intent: no
  - action: utter_no
"""


def _yes_no_project(directory: Path) -> Path:
    _write(directory, "domain.yml", _YES_NO_DOMAIN)
    _write(directory, "nlu.yml", _YES_NO_NLU)
    _write(directory, "rules.yml", _YES_NO_RULES)
    return directory


def test_names_that_yaml_1_1_takes_for_booleans_are_text(tmp_path: Path) -> None:
    data = load_training_data(_yes_no_project(tmp_path / "data"))
    assert data.intents == ("no", "off", "on", "yes")
    assert data.domain_intents == ("yes", "no", "on", "off")
    assert set(data.responses) == {"utter_yes", "utter_no", "utter_on", "utter_off"}
    assert data.intent_responses == {"yes": "utter_yes", "no": "utter_no", "on": "utter_on", "off": "utter_off"}
    assert ("power up", "on") in data.examples
    assert data.validate() == []


def test_yaml_1_2_core_schema() -> None:
    from bot import yaml12

    doc = yaml12.safe_load("a: [yes, No, ON, off, y, n, true, False, null, ~, 010, 0o10, 0x1f, 1:30, 2024-01-31, 1.5]")
    assert doc == {"a": ["yes", "No", "ON", "off", "y", "n", True, False, None, None, 10, 8, 31, "1:30",
                         "2024-01-31", 1.5]}
