"""Reports and exports: a scripted week of conversations (explicit timestamps) and the exact numbers each
report must give; every definition checked, who sees what, and the CSV/JSONL forms."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from console.api import exports as exports_api
from models.db import Database
from models.reports.definitions import DEFINITIONS
from tests.support.actors import Agent, Customer, make_user
from tests.support.reports import PERIOD, History, at, availability, set_timezone, team_id

DOCS = Path(__file__).resolve().parent.parent / "docs" / "reports.md"
SECRET = "secret text XYZ"


@pytest.fixture
def week(app: Flask, db: Database) -> dict[str, Any]:
    """Team Support (agents ada and bob, supervisor sam), team Sales (agent cid), an admin; eight
    Support conversations and one in Sales over the week of Monday 5 January 2026."""
    ids = {
        "ada": make_user(db, "ada@example.com", team="Support"),
        "bob": make_user(db, "bob@example.com", team="Support"),
        "sam": make_user(db, "sam@example.com", role="supervisor", team="Support"),
        "cid": make_user(db, "cid@example.com", team="Sales"),
        "root": make_user(db, "root@example.com", role="admin", team="HQ"),
    }
    support, sales = team_id(db, "Support"), team_id(db, "Sales")
    ada, bob = ids["ada"], ids["bob"]
    a = (History(db, support, at(9)).customer(at(9)).bot(at(9, 0, 5), "billing").handoff(at(9, 1), intent="billing")
         .assign(at(9, 3), ada).note(at(9, 4), ada).reply(at(9, 6), ada).customer(at(9, 7)).reply(at(9, 8), ada)
         .draft(at(9, 5), ada, "billing", "sent_unchanged").draft(at(9, 7), ada, "billing", "edited")
         .close(at(10, 1)))
    b = (History(db, support, at(24 + 10), channel="sms").customer(at(34)).bot(at(34, 0, 10), "refund")
         .handoff(at(34, 1), "low_confidence", "refund").assign(at(34, 2), bob).reply(at(34, 12), bob)
         .draft(at(34, 11), bob, "refund", "discarded")
         .transfer(at(34, 20), bob, ada).reply(at(34, 25), ada).close(at(35, 1), auto=True))
    c = (History(db, support, at(48 + 12)).customer(at(60)).bot(at(60, 0, 5), "billing").handoff(at(60, 1))
         .offer_expired(at(60, 2), bob).close(at(60, 30)))
    d = History(db, support, at(72 + 8)).customer(at(80)).bot(at(80, 0, 5), "hours").close(at(80, 5))
    e = (History(db, support, at(72 + 9)).customer(at(81)).bot(at(81, 0, 5), "hours").close(at(81, 5))
         .reopen(at(82)).close(at(82, 30)))
    f = History(db, support, at(96 + 9)).customer(at(105)).bot(at(105, 0, 5), "hours").close(at(105, 5))
    g = (History(db, support, at(96 + 20), contact_id=f.contact_id).customer(at(116))
         .bot(at(116, 0, 30), "nlu_fallback").handoff(at(116, 1), "repeated_fallback", "nlu_fallback"))
    h = (History(db, support, at(120 + 10)).customer(at(130), SECRET).bot(at(130, 0, 5), "billing")
         .handoff(at(130, 1)).assign(at(130, 2), ada).reply(at(130, 5), ada, "confidential answer")
         .close(at(130, 10)).restrict(ada))
    s = (History(db, sales, at(9)).customer(at(9)).bot(at(9, 0, 5), "billing").handoff(at(9, 1))
         .assign(at(9, 2), ids["cid"]).reply(at(9, 4), ids["cid"]).close(at(9, 30)))
    availability(db, ada, (at(8), "online"), (at(12), "away"), (at(13), "online"), (at(17), "offline"))
    return {**ids, "support": support, "sales": sales,
            "convs": {k: v for k, v in zip("abcdefghs", (a, b, c, d, e, f, g, h, s), strict=True)}}


def _get(agent: Agent, path: str, **params: Any) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return agent.client.get(f"/api/v1{path}?{query}")


def _report(agent: Agent, name: str, **params: Any) -> dict[str, Any]:
    r = _get(agent, f"/reports/{name}", **{**PERIOD, **params})
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _rows(report: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {row["label"]: row for row in report["rows"]}


def test_agents_report_gives_the_scripted_numbers(app: Flask, week: dict[str, Any]) -> None:
    rows = _rows(_report(Agent(app, "root@example.com"), "agents", team_id=week["support"]))
    ada, bob = rows["Ada"], rows["Bob"]
    assert (ada["replies_sent"], ada["conversations_handled"]) == (4, 3)  # the private note is no reply
    # A: handoff 9:01, assigned 9:03, note 9:04 (not a response), reply 9:06 -> 180 s; H: 10:02 -> 10:05.
    assert (ada["first_response_median"], ada["first_response_p90"]) == (180, 180)
    assert (bob["first_response_median"], bob["first_response_p90"]) == (600, 600)  # B: assigned 10:02, reply 10:12
    assert ada["resolution_median"] == 3600  # A 3600, B 3600 (ada assigned at the close), H 540
    assert (ada["transfers_in"], ada["transfers_out"], bob["transfers_in"], bob["transfers_out"]) == (1, 0, 0, 1)
    assert (bob["offers_expired"], ada["offers_expired"]) == (1, 0)
    assert (ada["online_seconds"], ada["away_seconds"]) == (8 * 3600, 3600)
    assert ada["concurrent_peak"] == 1
    assert ada["concurrent_average"] == pytest.approx((58 + 41 + 8) * 60 / (6 * 86400 + 86400), abs=1e-3)
    assert "Cid" not in rows  # another team's agent


def test_live_report_gives_the_scripted_numbers(app: Flask, week: dict[str, Any]) -> None:
    report = _report(Agent(app, "sam@example.com"), "live", team_id=week["support"])
    t = report["totals"]
    assert (t["started"], t["handed_off"], t["abandoned"], t["auto_completed"], t["reopened"]) == (8, 5, 1, 1, 1)
    assert t["handed_off_by_reason"] == {"customer_asked": 3, "low_confidence": 1, "repeated_fallback": 1}
    row = report["rows"][0]
    assert row["label"] == "Support"
    assert (row["waiting_median"], row["waiting_p90"]) == (60, 108)  # waits of 120 (A), 60 (B) and 60 s (H)
    heat = report["busiest_hours"]["counts"]
    assert heat[0][9] == 1 and heat[3][8] == 1 and heat[4][20] == 1 and sum(map(sum, heat)) == 8


def test_days_follow_the_teams_time_zone(app: Flask, db: Database, week: dict[str, Any]) -> None:
    set_timezone(db, week["support"], "America/New_York")  # UTC-5: Monday 9:00 UTC is Monday 4:00 there
    report = _report(Agent(app, "root@example.com"), "live", team_id=week["support"], group_by="day")
    assert report["timezone"] == "America/New_York"
    assert report["from"] == "2026-01-05T05:00:00+00:00"
    by_day = {r["key"]: r["started"] for r in report["rows"]}
    assert by_day["2026-01-05"] == 1 and by_day["2026-01-09"] == 2  # F at 4:00 and G at 15:00 local, Friday
    assert report["busiest_hours"]["counts"][0][4] == 1


def test_bot_report_containment_handoffs_fallbacks_and_drafts(app: Flask, week: dict[str, Any]) -> None:
    report = _report(Agent(app, "root@example.com"), "bot", team_id=week["support"])
    t = report["totals"]
    # D is the only resolution: E was reopened, F's customer was handed off (G) within 24 hours.
    assert (t["conversations"], t["resolved"], t["handed_off"]) == (8, 1, 5)
    assert (t["containment_rate"], t["handoff_rate"], t["fallback_rate"]) == (0.125, 0.625, 0.125)
    assert t["handed_off_by_reason"] == {"customer_asked": 3, "low_confidence": 1, "repeated_fallback": 1}
    assert report["followed_by_handoff"][0] == {"intent": "billing", "handoffs": 3}
    rows = _rows(report)
    assert (rows["hours"]["conversations"], rows["hours"]["resolved"]) == (3, 1)
    assert (rows["billing"]["drafts"], rows["billing"]["draft_acceptance"]) == (2, 1.0)
    assert (rows["refund"]["drafts"], rows["refund"]["draft_acceptance"]) == (1, 0.0)
    assert t["draft_acceptance"] == pytest.approx(0.6667)


def test_a_reopening_within_24_hours_removes_a_bot_resolution(app: Flask, db: Database, week: dict[str, Any]) -> None:
    admin = Agent(app, "root@example.com")
    assert _report(admin, "bot", team_id=week["support"])["totals"]["resolved"] == 1
    week["convs"]["d"].reopen(at(80, 30)).close(at(80, 40))
    assert _report(admin, "bot", team_id=week["support"])["totals"]["resolved"] == 0


def test_who_sees_which_rows(app: Flask, week: dict[str, Any]) -> None:
    ada = Agent(app, "ada@example.com")
    rows = _report(ada, "agents")["rows"]
    assert [r["label"] for r in rows] == ["Ada"]  # an agent sees their own row only
    assert _get(ada, "/reports/live", **PERIOD).status_code == 403
    sam = Agent(app, "sam@example.com")
    assert set(_rows(_report(sam, "agents"))) == {"Ada", "Bob", "Sam"}
    assert _get(sam, "/reports/live", **PERIOD, team_id=week["sales"]).status_code == 403
    assert {r["label"] for r in _report(sam, "live")["rows"]} == {"Support"}
    admin_teams = {r["label"] for r in _report(Agent(app, "root@example.com"), "live")["rows"]}
    assert admin_teams == {"Support", "Sales"}


def test_bad_input_is_a_4xx(app: Flask, week: dict[str, Any]) -> None:
    admin = Agent(app, "root@example.com")
    for params in ({"from": "yesterday"}, {"to": "2026-13-01"}, {"from": "2026-02-01", "to": "2026-01-01"},
                   {"group_by": "agent"}, {"from": "2020-01-01", "to": "2026-01-01"}, {"team_id": 999},
                   {"to": "9999-12-31"}, {"from": "0001-01-01"}, {"from": "2026-01-01T00:00:00+25:00"}):
        r = _get(admin, "/reports/live", **params)
        assert r.status_code == 400, (params, r.get_json())
    assert _get(admin, "/exports/conversations", **{"from": "2026-99-01"}).status_code == 400


def test_csv_reports_parse(app: Flask, week: dict[str, Any]) -> None:
    r = _get(Agent(app, "root@example.com"), "/reports/live", **PERIOD, team_id=week["support"], format="csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [x["label"] for x in lines] == ["Support", "total"]
    assert lines[0]["started"] == "8" and lines[0]["handed_off_by_reason.customer_asked"] == "3"


def test_reports_agree_with_the_live_counters(app: Flask, db: Database) -> None:
    """Through the real actions: a private note leaves the customer unreplied and is no first response; a
    reply clears unreplied and is one. The availability change is recorded for the report."""
    make_user(db, "ada@example.com", team="Support")
    ada = Agent(app, "ada@example.com")
    assert ada.post("/me/availability", {"status": "online"}).status_code == 200
    conv_id = Customer(app).say("a person please")["conversation_id"]
    ada.post(f"/conversations/{conv_id}/messages", {"text": "checking", "private": True})
    assert ada.counters()["unreplied"] == 1
    row = ada.get("/reports/agents").get_json()["rows"][0]
    assert (row["replies_sent"], row["first_response_median"]) == (0, None)
    ada.post(f"/conversations/{conv_id}/messages", {"text": "here I am"})
    assert ada.counters()["unreplied"] == 0
    row = ada.get("/reports/agents").get_json()["rows"][0]
    assert row["replies_sent"] == 1 and row["first_response_median"] is not None
    assert row["online_seconds"] > 0


def _export(agent: Agent, **params: Any) -> Any:
    return _get(agent, "/exports/conversations", **params)


def test_exports_stream_jsonl_and_csv_without_restricted_text(app: Flask, week: dict[str, Any]) -> None:
    sam = Agent(app, "sam@example.com")
    r = _export(sam, status="closed", format="jsonl", **PERIOD)
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    body = r.get_data(as_text=True)
    items = [json.loads(line) for line in body.splitlines()]
    ids = {i["public_id"] for i in items}
    convs = week["convs"]
    assert convs["a"].public_id in ids and convs["h"].public_id not in ids
    assert SECRET not in body and "confidential answer" not in body
    a = next(i for i in items if i["public_id"] == convs["a"].public_id)
    assert [m["note"] for m in a["messages"]].count(True) == 1  # staff exports carry notes
    assert a["handoff_packets"][0]["reason"] == "customer_asked" and a["assignments"][0]["user_id"] == week["ada"]
    assert [j["kind"] for j in a["journey"]] == ["conversation.handoff", "conversation.closed"]
    r = _export(sam, status="closed", format="csv", **PERIOD)
    lines = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {x["record"] for x in lines} >= {"conversation", "message", "note", "handoff_packet", "assignment"}
    assert SECRET not in r.get_data(as_text=True)
    assert _export(Agent(app, "ada@example.com")).status_code == 403  # exports are for staff


def test_a_large_export_is_written_in_the_background(app: Flask, week: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports_api, "INLINE_MAX", 2)
    admin = Agent(app, "root@example.com")
    r = _export(admin, format="jsonl")
    assert r.status_code == 202
    job = r.get_json()
    status = admin.client.get(job["url"]).get_json()  # the test app runs jobs inline: done already
    assert (status["status"], status["done"], status["total"]) == ("done", 8, 8)  # H is not the admin's to see
    f = admin.client.get(status["download_url"])
    lines = [json.loads(x) for x in f.get_data(as_text=True).splitlines()]
    assert len(lines) == 8 and SECRET not in f.get_data(as_text=True)
    assert Agent(app, "sam@example.com").client.get(job["url"]).status_code == 404  # someone else's export


def test_transcript_as_text_only_for_who_may_see(app: Flask, week: dict[str, Any]) -> None:
    h, a = week["convs"]["h"], week["convs"]["a"]
    r = Agent(app, "ada@example.com").client.get(f"/api/v1/conversations/{h.public_id}/transcript?format=txt")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert SECRET in r.get_data(as_text=True) and "Ada: confidential answer" in r.get_data(as_text=True)
    sam = Agent(app, "sam@example.com")
    assert sam.client.get(f"/api/v1/conversations/{h.public_id}/transcript").status_code == 404
    text = sam.client.get(f"/api/v1/conversations/{a.public_id}/transcript").get_data(as_text=True)
    assert "private note" not in text and "agent reply" in text
    with_notes = sam.client.get(f"/api/v1/conversations/{a.public_id}/transcript?notes=true").get_data(as_text=True)
    assert "(private note)" in with_notes


def test_every_definition_is_written_once_in_the_docs() -> None:
    docs = re.sub(r"\s+", " ", DOCS.read_text())
    for report, metrics in DEFINITIONS.items():
        for metric, sentence in metrics.items():
            assert f"`{metric}`: {sentence}" in docs, (report, metric)


def test_the_reports_page_and_its_charting_library(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    page = ada.client.get("/reports").get_data(as_text=True)
    assert "reports.js" in page and "vendor/uPlot.iife.min.js" in page
    assert ada.client.get("/static/vendor/uPlot.iife.min.js").status_code == 200
    assert 'href="/reports"' in ada.client.get("/").get_data(as_text=True)
