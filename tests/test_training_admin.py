"""The admin's training-data loop in the console: browse and edit intents with validation first,
versioned changes written back in Rasa format, train/evaluate/compare/activate/rollback, and learning
from handoffs. The embedded engine here (fast); the Rasa half is in test_rasa_studio.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from bot import embedded
from bot.training_data import load_training_data
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user

REPO_DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """A private copy of data/: these tests write to it."""
    data = tmp_path / "data"
    shutil.copytree(REPO_DATA, data)
    return settings.with_(data_dir=data)


@pytest.fixture
def admin(app: Flask, db: Database) -> Agent:
    make_user(db, "root@example.com", role="admin")
    return Agent(app, "root@example.com")


def _files(settings: Settings) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(settings.data_dir.glob("*.yml"))}


def _save(admin: Agent, changes: list[dict[str, Any]], base_hash: str | None = None) -> Any:
    if base_hash is None:
        base_hash = admin.get("/bot/data").get_json()["data_hash"]
    return admin.post("/bot/data/changes", {"changes": changes, "base_hash": base_hash})


def test_admin_browses_intents_with_examples_and_responses(admin: Agent) -> None:
    data = admin.get("/bot/data").get_json()
    by_name = {i["name"]: i for i in data["intents"]}
    assert len(by_name) == 20 and data["problems"] == []
    assert "hi" in by_name["greet"]["examples"]
    assert by_name["greet"]["response"] == "utter_greet" and len(by_name["greet"]["response_texts"]) == 2
    assert by_name["human_handoff"]["handoff"] is True and by_name["human_handoff"]["response"] == "utter_handoff"
    assert {"kind": "rule", "name": "greet", "file": "rules.yml"} in by_name["greet"]["used_in"]
    assert any(r["name"] == "utter_default" for r in data["responses"])


def test_only_admins(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com", role="agent")
    make_user(db, "sue@example.com", role="supervisor")
    for email in ("ada@example.com", "sue@example.com"):
        user = Agent(app, email)
        assert user.get("/bot/data").status_code == 403
        assert user.post("/bot/runs", {"kind": "train", "engine": "embedded"}).status_code == 403
        assert user.client.get("/admin/bot").status_code == 403
        assert b"admin-bot-link" not in user.client.get("/").data
    make_user(db, "root@example.com", role="admin")
    root = Agent(app, "root@example.com")
    page = root.client.get("/admin/bot")
    assert page.status_code == 200 and b"admin_bot.js" in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert b"admin-bot-link" in root.client.get("/").data
    assert Agent(app, "root@example.com").client.post("/api/v1/bot/data/changes", json={}).status_code == 401  # CSRF


def test_problems_are_shown_before_anything_is_saved(admin: Agent, settings: Settings) -> None:
    before = _files(settings)
    # a duplicate across intents
    r = _save(admin, [{"op": "add_examples", "intent": "goodbye", "examples": ["hi"]}])
    assert r.status_code == 422
    assert r.get_json()["error"]["problems"] == ["Example 'hi' appears under several intents: 'goodbye', 'greet'."]
    # an intent without an answer
    r = _save(admin, [{"op": "add_intent", "intent": "gift_cards", "examples": ["do you sell gift cards"]}])
    assert "Intent 'gift_cards' has no answer" in r.get_json()["error"]["problems"][0]
    # a response a rule uses, deleted
    r = _save(admin, [{"op": "delete_response", "response": "utter_greet"}])
    assert r.status_code == 400 and "used in rule 'greet'" in r.get_json()["error"]["message"]
    # an intent that stories rely on
    r = _save(admin, [{"op": "delete_intent", "intent": "greet"}])
    assert r.status_code == 400 and "used in story" in r.get_json()["error"]["message"]
    # all examples removed: the intent would have none
    greet = next(i for i in admin.get("/bot/data").get_json()["intents"] if i["name"] == "greet")
    r = _save(admin, [{"op": "set_examples", "intent": "greet", "examples": []}])
    assert r.get_json()["error"]["problems"] == ["Intent 'greet' has no examples in the NLU data."]
    assert greet["examples"]
    # bad input is a 400 with a sentence, never a traceback
    for bad in ({"op": "add_intent", "intent": "Gift Cards!", "examples": ["x"]}, {"op": "explode"},
                {"op": "add_examples", "intent": "greet", "examples": "hi"}):
        r = _save(admin, [bad])
        assert r.status_code == 400 and r.get_json()["error"]["message"]
    assert _files(settings) == before  # nothing was written
    assert admin.get("/bot/data/versions").get_json()["versions"] == []


def test_check_shows_the_diff_without_writing(admin: Agent, settings: Settings) -> None:
    before = _files(settings)
    r = admin.post("/bot/data/check", {"changes": [{"op": "add_examples", "intent": "greet",
                                                    "examples": ["good day to you"]}]})
    body = r.get_json()
    assert r.status_code == 200 and body["ok"] is True and body["introduced"] == []
    assert "+    - good day to you\n" in body["diff"]["nlu.yml"]
    assert _files(settings) == before


def test_a_change_is_written_back_in_rasa_format_and_versioned(admin: Agent, settings: Settings) -> None:
    original = _files(settings)
    r = _save(admin, [
        {"op": "add_intent", "intent": "gift_cards", "examples": ["do you sell gift cards", "can I buy a voucher"],
         "response": ["Yes: gift cards from $10, under Gifts."]},
        {"op": "add_examples", "intent": "greet", "examples": ["good day to you"]},
    ])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["version"]["author"] == "Root" and body["version"]["kind"] == "change"
    assert "Added intent 'gift_cards' with 2 example(s) answered by 'utter_gift_cards'." in body["summary"]
    # Rasa's format, Rasa's files: the nlu item, the domain's intent and response, the rule
    nlu = yaml.safe_load((settings.data_dir / "nlu.yml").read_text())
    item = next(i for i in nlu["nlu"] if i.get("intent") == "gift_cards")
    assert item["examples"] == "- do you sell gift cards\n- can I buy a voucher\n"
    domain = yaml.safe_load((settings.data_dir / "domain.yml").read_text())
    assert "gift_cards" in domain["intents"]
    assert domain["responses"]["utter_gift_cards"] == [{"text": "Yes: gift cards from $10, under Gifts."}]
    rules = yaml.safe_load((settings.data_dir / "rules.yml").read_text())["rules"]
    assert {"rule": "gift cards", "steps": [{"intent": "gift_cards"}, {"action": "utter_gift_cards"}]} in rules
    # untouched files stay byte for byte, and the touched ones keep their comments and layout
    after = _files(settings)
    assert after["stories.yml"] == original["stories.yml"] and after["config.yml"] == original["config.yml"]
    assert after["rules.yml"].startswith(original["rules.yml"])  # only appended
    data = load_training_data(settings.data_dir)
    assert data.validate() == [] and ("good day to you", "greet") in data.examples
    assert data.intent_responses["gift_cards"] == "utter_gift_cards"
    # who, when, what
    history = admin.get("/bot/data/versions").get_json()["versions"]
    assert [v["kind"] for v in history] == ["change", "baseline"]
    assert history[0]["changes"][0]["intent"] == "gift_cards" and history[0]["data_hash"] == data.data_hash
    detail = admin.get(f"/bot/data/versions/{history[0]['id']}").get_json()
    assert {d["file"] for d in detail["diffs"]} == {"nlu.yml", "domain.yml", "rules.yml"}
    # the embedded engine trains on it and answers the new intent
    model = embedded.train(data)
    assert model.parse("do you sell gift cards?").intent == "gift_cards"


def test_edits_from_two_admins_do_not_overwrite_each_other(admin: Agent) -> None:
    loaded = admin.get("/bot/data").get_json()["data_hash"]
    assert _save(admin, [{"op": "add_examples", "intent": "greet", "examples": ["yo yo"]}], loaded).status_code == 201
    r = _save(admin, [{"op": "add_examples", "intent": "thanks", "examples": ["ta"]}], loaded)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_data"


def test_restore_an_older_version(admin: Agent, settings: Settings) -> None:
    original = _files(settings)
    assert _save(admin, [{"op": "delete_intent", "intent": "opening_hours"}]).status_code == 201
    assert "opening_hours" not in load_training_data(settings.data_dir).intents
    baseline = admin.get("/bot/data/versions").get_json()["versions"][-1]
    r = admin.post(f"/bot/data/versions/{baseline['id']}/restore", {})
    assert r.status_code == 201 and r.get_json()["version"]["kind"] == "restore"
    assert _files(settings) == original


def test_train_evaluate_compare_activate_and_roll_back(admin: Agent, settings: Settings) -> None:
    first = embedded.train_and_activate(settings)  # what `parley run` made at start
    assert _save(admin, [{"op": "add_intent", "intent": "gift_cards",
                          "examples": ["do you sell gift cards", "gift card please", "can I buy a voucher"],
                          "response": ["Gift cards from $10."]}]).status_code == 201
    run = admin.post("/bot/runs", {"kind": "train", "engine": "embedded"}).get_json()  # inline jobs: done now
    run = admin.get(f"/bot/runs/{run['id']}").get_json()
    assert run["status"] == "succeeded", run
    candidate = run["result"]["model_version"]
    assert embedded.active_version(settings) == first  # a candidate does not answer customers yet

    for version in (first, candidate):
        r = admin.post("/bot/runs", {"kind": "evaluate", "engine": "embedded", "model_version": version,
                                     "protocol": "holdout", "fraction": 0.2, "seed": 1})
        assert r.status_code == 202
        done = admin.get(f"/bot/runs/{r.get_json()['id']}").get_json()
        assert done["status"] == "succeeded", done
        result = done["result"]
        assert 0.5 < result["intent_accuracy"] <= 1 and result["per_intent"]["greet"]["f1"] > 0.5
        assert {"handoff_recall", "false_handoff_rate", "most_confused", "macro_f1"} <= set(result)
    cv = admin.post("/bot/runs", {"kind": "evaluate", "engine": "embedded", "model_version": candidate,
                                  "protocol": "cv", "folds": 3}).get_json()
    cv = admin.get(f"/bot/runs/{cv['id']}").get_json()
    assert cv["status"] == "succeeded" and cv["result"]["n_in_scope"] + cv["result"]["n_out_of_scope"] == \
        cv["result"]["n_examples"]  # every example predicted exactly once

    compared = admin.get(f"/bot/compare?engine=embedded&a={first}&b={candidate}").get_json()
    assert compared["not_evaluated"] == []
    headline = {h["metric"]: h for h in compared["comparisons"][0]["headline"]}
    assert headline["intent_accuracy"]["a"] is not None and headline["intent_accuracy"]["b"] is not None
    gift = next(r for r in compared["comparisons"][0]["per_intent"] if r["intent"] == "gift_cards")
    assert gift["a"] is None and gift["b"] is not None  # the old model's data had no such intent

    catalog = admin.get("/bot/models").get_json()
    assert {v["version"] for v in catalog["embedded"]["versions"]} >= {first, candidate}
    assert catalog["rasa_server"]["mode"] == "not_in_use"
    assert admin.post(f"/bot/models/embedded/{candidate}/activate").status_code == 200
    assert embedded.active_version(settings) == candidate
    catalog = admin.get("/bot/models").get_json()["embedded"]
    assert catalog["rollback_to"] == first and catalog["activations"][0]["by"] == "Root"
    assert admin.post("/bot/models/embedded/rollback").get_json()["active"] == first
    assert embedded.active_version(settings) == first
    assert admin.post("/bot/models/embedded/nope/activate").status_code == 400


def test_learning_from_handoffs(app: Flask, admin: Agent, settings: Settings) -> None:
    # The RuleEngine hands off whatever mentions a person or a human.
    for text in ("can a human help me with gift cards", "Can a human help me with gift cards?",
                 "a human to help with my gift cards", "human please, my parcel is wet"):
        Customer(app).say(text)
    groups = admin.get("/bot/handoffs").get_json()["groups"]
    assert [g["count"] for g in groups] == [3, 1]
    top = groups[0]
    assert top["reasons"] == {"customer_asked": 3} and top["bot_guess"] == "human_handoff"
    assert top["text"].lower().startswith("can a human help me with gift cards")

    r = admin.post("/bot/handoffs/learn", {"message_ids": top["message_ids"], "intent": "gift_cards",
                                           "new_intent": True, "response": ["Gift cards from $10."],
                                           "texts": ["can I buy gift cards", "do you sell gift cards"]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["version"]["kind"] == "learn"
    data = load_training_data(settings.data_dir)
    assert ("do you sell gift cards", "gift_cards") in data.examples and data.validate() == []
    # learnt messages leave the list; another can be set aside
    groups = admin.get("/bot/handoffs").get_json()["groups"]
    assert [g["count"] for g in groups] == [1]
    assert admin.post("/bot/handoffs/dismiss", {"message_ids": groups[0]["message_ids"]}).get_json() == \
        {"dismissed": 1}
    assert admin.get("/bot/handoffs").get_json()["groups"] == []
    assert admin.get("/bot/handoffs?reason=out_of_scope").status_code == 200


def test_learning_into_an_existing_intent_skips_what_it_has(app: Flask, admin: Agent, settings: Settings) -> None:
    Customer(app).say("human: where is my parcel")
    group = admin.get("/bot/handoffs").get_json()["groups"][0]
    r = admin.post("/bot/handoffs/learn", {"message_ids": group["message_ids"], "intent": "order_status"})
    assert r.status_code == 201 and r.get_json()["added"] == ["human: where is my parcel"]
    assert ("human: where is my parcel", "order_status") in load_training_data(settings.data_dir).examples


def test_a_run_whose_process_died_is_reported_as_interrupted(admin: Agent, db: Database) -> None:
    import socket
    import subprocess
    from datetime import timedelta

    from models.schema.base import utcnow
    from models.schema.training import BotTrainingRun

    gone = subprocess.Popen(["true"])
    gone.wait()
    with db.transaction() as s:
        s.add(BotTrainingRun(kind="train", engine="rasa", status="queued",
                             params={"owner": f"{socket.gethostname()}:{gone.pid}"}))
        s.add(BotTrainingRun(kind="train", engine="rasa", status="running", params={"owner": "elsewhere:1"},
                             heartbeat_at=utcnow() - timedelta(minutes=5)))
        s.add(BotTrainingRun(kind="train", engine="rasa", status="running", params={"owner": "elsewhere:2"},
                             heartbeat_at=utcnow()))
    runs = admin.get("/bot/runs").get_json()["runs"]
    assert [r["status"] for r in runs] == ["running", "failed", "failed"]
    assert runs[1]["error"].startswith("Interrupted")
