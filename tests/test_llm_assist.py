"""Agent assist in the console (drafts from the knowledge base, edited and sent, outcomes per intent)
and the admin's knowledge-base pages and API."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from sqlalchemy import select

from bot.llm.setup import build_llm_engine
from bot.llm.testing import faithful_model
from console.api.assist import RETRIEVAL_LABEL
from models.db import Database
from models.schema.llm import AssistDraft, LlmTurn
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.documents import make_pdf
from tests.support.engines import IntentStub


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_LLM_MODEL", raising=False)
    monkeypatch.delenv("PARLEY_EMBEDDING_MODEL", raising=False)


def handed_over(app: Flask, *questions: str) -> tuple[Customer, str]:
    """A customer who asked for a person, then asked their questions while waiting."""
    customer = Customer(app)
    conv_id = customer.say("I want to talk to a person")["conversation_id"]
    for q in questions:
        customer.say(q)
    return customer, conv_id


def test_without_a_model_the_draft_is_the_best_passage_clearly_labelled(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    customer, conv_id = handed_over(app, "how much is the delivery fee?")
    r = ada.post(f"/conversations/{conv_id}/assist/drafts")
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()["draft"]
    assert draft["mode"] == "retrieval" and draft["label"] == RETRIEVAL_LABEL
    assert draft["question"] == "how much is the delivery fee?"
    assert "$4.95" in draft["text"] and draft["intent"] == "shipping_costs"
    assert draft["sources"][0]["text"] == draft["text"] and draft["sources"][0]["id"].startswith("P")

    edited = draft["text"] + " Anything else?"
    sent = ada.post(f"/conversations/{conv_id}/assist/drafts/{draft['id']}/send", {"text": edited})
    assert sent.status_code == 201
    assert sent.get_json()["draft"]["outcome"] == "edited"
    assert customer.replies("agent") == [edited]
    assert ada.get(f"/conversations/{conv_id}").get_json()["unreplied"] == 0
    again = ada.post(f"/conversations/{conv_id}/assist/drafts/{draft['id']}/discard")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "decided"


def test_outcomes_are_counted_per_intent(app: Flask, db: Database) -> None:
    make_user(db, "boss@example.com", role="admin")
    boss = Agent(app, "boss@example.com")
    _, conv_id = handed_over(app, "which payment methods do you accept?")
    first = boss.post(f"/conversations/{conv_id}/assist/drafts").get_json()["draft"]
    assert boss.post(f"/conversations/{conv_id}/assist/drafts/{first['id']}/send",
                     {"text": "  " + first["text"] + "\n"}).get_json()["draft"]["outcome"] == "sent_unchanged"
    second = boss.post(f"/conversations/{conv_id}/assist/drafts").get_json()["draft"]
    assert boss.post(f"/conversations/{conv_id}/assist/drafts/{second['id']}/discard").get_json()["draft"][
        "outcome"] == "discarded"
    third = boss.post(f"/conversations/{conv_id}/assist/drafts").get_json()["draft"]
    stats = {r["intent"]: r for r in boss.get("/assist/stats").get_json()["intents"]}
    assert stats["payment_methods"] == {"intent": "payment_methods", "drafts": 3, "sent_unchanged": 1, "edited": 0,
                                        "discarded": 1, "pending": 1, "unchanged_rate": 0.333}
    assert third["outcome"] is None


def test_drafts_only_for_handed_over_conversations_and_nothing_when_nothing_matches(app: Flask,
                                                                                    db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    bot_owned = Customer(app).say("hi")["conversation_id"]
    r = ada.post(f"/conversations/{bot_owned}/assist/drafts")
    assert r.status_code == 422
    _, conv_id = handed_over(app, "what will the weather be in Paris tomorrow?")
    r = ada.post(f"/conversations/{conv_id}/assist/drafts")
    assert r.status_code == 200 and r.get_json()["draft"] is None
    assert r.get_json()["reason"] == "no_source"
    assert ada.post("/conversations/c_nope/assist/drafts").status_code == 404


def test_with_a_model_the_agent_drafts_with_sources_and_the_run_is_recorded(settings: Settings) -> None:
    from console.app import create_app
    from console.runtime.jobs import InlineJobs

    llm = build_llm_engine(settings, db=Database(settings.database_url), model=faithful_model())
    assert llm is not None
    app = create_app(settings, engines=[IntentStub(), llm], jobs=InlineJobs(), testing=True)
    db: Database = app.extensions["parley"].db
    try:
        make_user(db, "ada@example.com")
        ada = Agent(app, "ada@example.com")
        customer = Customer(app)
        conv_id = customer.say("I want a person")["conversation_id"]
        customer.say("Do you offer gift wrapping?")
        draft = ada.post(f"/conversations/{conv_id}/assist/drafts").get_json()["draft"]
        assert draft["mode"] == "llm" and "Gift wrap" in draft["text"]
        assert draft["sources"][0]["title"] == "Do you offer gift wrapping?"
        with db.session() as s:
            purposes = [t.purpose for t in s.scalars(select(LlmTurn))]
            assert s.scalars(select(AssistDraft)).one().mode == "llm"
        assert "assist" in purposes and "summary" in purposes
    finally:
        db.dispose()


def test_admin_sees_the_llm_status_documents_and_unanswered_questions(app: Flask, db: Database) -> None:
    make_user(db, "boss@example.com", role="admin")
    make_user(db, "ada@example.com")
    boss = Agent(app, "boss@example.com")
    assert Agent(app, "ada@example.com").get("/admin/knowledge").status_code == 403
    _, conv_id = handed_over(app, "do you sell concert tickets?")
    boss.post(f"/conversations/{conv_id}/assist/drafts")

    overview = boss.get("/admin/knowledge").get_json()
    assert overview["status"]["llm_on"] is False and "no model is configured" in overview["status"]["message"]
    titles = {d["title"]: d for d in overview["documents"]}
    assert titles["Juniper Goods FAQ"]["source"] == "data" and titles["Juniper Goods FAQ"]["passages"] >= 12
    assert [q["question"] for q in overview["unanswered"]] == ["do you sell concert tickets?"]
    assert overview["unanswered"][0]["conversation_id"] == conv_id

    page = boss.client.get("/admin/knowledge")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "The LLM stage is off" in html and "do you sell concert tickets?" in html


def test_admin_uploads_searches_and_deletes_documents(app: Flask, db: Database) -> None:
    make_user(db, "boss@example.com", role="admin")
    boss = Agent(app, "boss@example.com")
    pdf = make_pdf(["Concert tickets: we do not sell tickets.", "Try the venue's box office."], title="Tickets")
    r = boss.client.post("/api/v1/admin/knowledge/documents", headers={"X-CSRF-Token": boss.csrf},
                         data={"file": (io.BytesIO(pdf), "tickets.pdf")}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert (doc["title"], doc["kind"], doc["source"], doc["passages"]) == ("Tickets", "pdf", "upload", 1)
    hits = boss.get("/admin/knowledge/search?q=concert+tickets").get_json()["hits"]
    assert hits[0]["document_id"] == doc["id"]
    passages = boss.get(f"/admin/knowledge/documents/{doc['id']}").get_json()["passages"]
    assert "box office" in passages[0]["text"]

    bad = boss.client.post("/api/v1/admin/knowledge/documents", headers={"X-CSRF-Token": boss.csrf},
                           data={"file": (io.BytesIO(b"x"), "notes.docx")}, content_type="multipart/form-data")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_document"
    data_doc = next(d for d in boss.get("/admin/knowledge").get_json()["documents"] if d["source"] == "data")
    assert boss.client.delete(f"/api/v1/admin/knowledge/documents/{data_doc['id']}",
                              headers={"X-CSRF-Token": boss.csrf}).status_code == 422
    assert boss.client.delete(f"/api/v1/admin/knowledge/documents/{doc['id']}",
                              headers={"X-CSRF-Token": boss.csrf}).status_code == 204
    assert boss.get("/admin/knowledge/search?q=concert+tickets").get_json()["hits"] == []


def test_admin_configures_http_actions(app: Flask, db: Database) -> None:
    make_user(db, "boss@example.com", role="admin")
    boss = Agent(app, "boss@example.com")
    body = {"name": "order_lookup", "description": "Look up an order by number.", "param_name": "order_number",
            "url_template": "https://shop.example/api/orders/{order_number}", "param_pattern": r"JG-\d{5}",
            "secret_env": "PARLEY_ACTION_SECRET_UNSET"}
    r = boss.post("/admin/llm/actions", body)
    assert r.status_code == 201
    assert r.get_json()["secret_set"] is False and "secret" not in str(r.get_json().get("secret_value"))
    assert boss.post("/admin/llm/actions", {**body, "url_template": "https://{order_number}.x/"}).status_code == 400
    listed = boss.get("/admin/llm/actions").get_json()["actions"]
    assert [a["name"] for a in listed] == ["order_lookup"]
    assert boss.client.delete(f"/api/v1/admin/llm/actions/{listed[0]['id']}",
                              headers={"X-CSRF-Token": boss.csrf}).status_code == 204
