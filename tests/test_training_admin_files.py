"""Editing Rasa files in place: what an edit does not touch stays byte for byte, and what it touches
keeps the file's own layout (list indentation, blank lines between items, comments)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.studio import yamlio
from bot.studio.checks import ChangeError
from bot.studio.files import write_files
from bot.studio.project import RasaProject
from bot.training_data import load_training_data

ROOT = Path(__file__).parent.parent
SOURCES = [ROOT / "data", ROOT / "tests" / "fixtures" / "rasa_tiny", ROOT / "tests" / "fixtures" / "bot" / "tiny"]


@pytest.mark.parametrize("path", [p for d in SOURCES for p in sorted(d.glob("*.yml"))], ids=lambda p: p.name)
def test_an_untouched_file_round_trips_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    assert yamlio.dump(yamlio.load(text, path.name), text) == text


def _apply(data: Path, *changes: dict[str, object]) -> dict[str, str]:
    preview = RasaProject.load(data).preview(list(changes))
    assert preview.introduced == [], preview.introduced
    write_files(data, preview.files)
    return preview.files


def test_edits_keep_comments_and_blank_lines(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    _apply(data, {"op": "add_intent", "intent": "gift_cards", "examples": ["gift cards?", "do you sell vouchers"],
                  "response": ['Yes — from $10, "Gifts" menu.']},
           {"op": "delete_intent", "intent": "opening_hours"})
    rules = (data / "rules.yml").read_text()
    assert rules.startswith('version: "3.1"\n\n# One rule per answerable intent')  # the comment survives
    assert "\n\n- rule: gift cards\n  steps:\n  - intent: gift_cards\n  - action: utter_gift_cards\n" in rules
    assert "opening" not in rules and "\n\n\n" not in rules
    domain = (data / "domain.yml").read_text()
    assert '  utter_gift_cards:\n    - text: "Yes — from $10, \\"Gifts\\" menu."\n\nsession_config:' in domain
    assert "  - out_of_scope\n  - gift_cards\n\nentities:" in domain
    nlu = (data / "nlu.yml").read_text()
    assert "    - do you believe in god\n\n- intent: gift_cards\n" in nlu  # before the regex and synonym items
    assert "    - do you sell vouchers\n\n- regex: order_id\n" in nlu
    parsed = load_training_data(data)
    assert parsed.validate() == [] and parsed.intent_responses["gift_cards"] == "utter_gift_cards"
    assert yaml.safe_load(domain)["responses"]["utter_gift_cards"] == [{"text": 'Yes — from $10, "Gifts" menu.'}]


def test_other_layouts_split_files_and_metadata_examples(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "nlu").mkdir(parents=True)
    (data / "domain.yml").write_text(
        'version: "3.1"\nintents:\n  - greet:\n      use_entities: []\n  - bye\nresponses:\n'
        '  utter_greet:\n  - text: "Hi!"\n  utter_bye:\n  - text: "Bye!"\n')
    (data / "nlu" / "greet.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples:\n  - text: hello there\n    metadata:\n'
        '      sentiment: neutral\n  - text: hi\n')
    (data / "nlu" / "bye.yml").write_text('version: "3.1"\nnlu:\n- intent: bye\n  examples: |\n    - bye\n    - ciao\n')
    (data / "rules.yml").write_text('version: "3.1"\nrules:\n- rule: r1\n  steps:\n  - intent: greet\n'
                                    '  - action: utter_greet\n- rule: r2\n  steps:\n  - intent: bye\n'
                                    '  - action: utter_bye\n')
    files = _apply(data, {"op": "add_examples", "intent": "greet", "examples": ["hey"]},
                   {"op": "add_examples", "intent": "bye", "examples": ["see ya"]})
    assert set(files) == {"nlu/greet.yml", "nlu/bye.yml"}  # each intent edited where it lives
    greet = yaml.safe_load((data / "nlu" / "greet.yml").read_text())["nlu"][0]["examples"]
    assert greet == [{"text": "hello there", "metadata": {"sentiment": "neutral"}}, {"text": "hi"}, {"text": "hey"}]
    assert (data / "nlu" / "bye.yml").read_text().endswith("    - bye\n    - ciao\n    - see ya\n")
    project = RasaProject.load(data)
    assert project.domain_intents() == ["greet", "bye"]
    with pytest.raises(ChangeError, match="already has"):
        project.preview([{"op": "add_examples", "intent": "greet", "examples": ["Hey!"]}])


def test_names_like_yes_and_off_round_trip_as_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    domain = ('version: "3.1"\nintents:\n- yes\n- no\n- off\nresponses:\n  utter_yes:\n  - text: "Done."\n'
              '  utter_no:\n  - text: "OK."\n  utter_off:\n  - text: "Off it is."\n')
    nlu = ('version: "3.1"\nnlu:\n- intent: yes\n  examples: |\n    - yes please\n    - sure\n'
           '- intent: no\n  examples: |\n    - no thanks\n    - nope\n'
           '- intent: off\n  examples: |\n    - turn it off\n    - switch off\n')
    (data / "domain.yml").write_text(domain)
    (data / "nlu.yml").write_text(nlu)
    assert RasaProject.load(data).domain_intents() == ["yes", "no", "off"]
    files = _apply(data, {"op": "add_examples", "intent": "yes", "examples": ["go ahead"]},
                   {"op": "add_intent", "intent": "on", "examples": ["turn it on", "switch on"],
                    "response": ["On it is."]})
    assert "domain.yml" in files
    written = (data / "domain.yml").read_text()
    assert written.startswith('version: "3.1"\nintents:\n- yes\n- no\n- off\n- on\n')  # plain, as written
    nlu_written = (data / "nlu.yml").read_text()
    assert "\n- intent: yes\n  examples: |\n    - yes please\n    - sure\n    - go ahead\n" in nlu_written
    parsed = load_training_data(data)
    assert parsed.intents == ("no", "off", "on", "yes")
    assert parsed.intent_responses["on"] == "utter_on"
