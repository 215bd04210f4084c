"""Team opening hours: when a team is open and when it next opens (in its timezone, across DST and the
week's end), who sets them, and what a customer queued out of hours is told on each channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from models.db import Database
from models.errors import InvalidInput
from models.routing.hours import ALWAYS_OPEN, DAYS, HoursState, check_hours, hours_state
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import sms, twilio_post
from tests.support.fakes import FakeTwilio
from tests.support.routing import agent, handoff, set_routing, team_id

PARIS = "Europe/Paris"
OFFICE = {"timezone": PARIS, "intervals": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                            "start": "09:00", "end": "17:00"}]}


def _state(body: dict[str, Any], now: datetime) -> HoursState:
    return hours_state(check_hours(body), now)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the computation ------------------------------------------------------------------------------------


def test_open_and_closed_at_the_edges_of_an_interval() -> None:
    # Tuesday 10 November 2026, Paris is UTC+1
    assert _state(OFFICE, _utc(2026, 11, 10, 8, 0)).open_now  # 09:00 local: opens
    assert _state(OFFICE, _utc(2026, 11, 10, 15, 59)).open_now
    closed = _state(OFFICE, _utc(2026, 11, 10, 16, 0))  # 17:00 local: closed
    assert not closed.open_now and not closed.always_open
    assert closed.next_opening == _utc(2026, 11, 11, 8, 0)
    assert closed.next_opening_text == "Wednesday 11 November at 09:00 (Europe/Paris)"
    early = _state(OFFICE, _utc(2026, 11, 10, 7, 59))  # 08:59 local: opens within the minute, same day
    assert early.next_opening == _utc(2026, 11, 10, 8, 0)
    assert hours_state(None, _utc(2026, 11, 10, 3, 0)) == ALWAYS_OPEN


def test_the_next_opening_wraps_around_the_week() -> None:
    friday_night = _utc(2026, 11, 13, 20, 0)
    assert _state(OFFICE, friday_night).next_opening == _utc(2026, 11, 16, 8, 0)  # Monday 09:00 Paris
    # a team open on Sundays only, asked on Sunday after closing: next Sunday, 7 days on
    sundays = {"timezone": "UTC", "intervals": [{"day": "sun", "start": "10:00", "end": "12:00"}]}
    assert _state(sundays, _utc(2026, 11, 15, 12, 0)).next_opening == _utc(2026, 11, 22, 10, 0)
    # an interval to midnight ("24:00"), and the next day from 00:00
    late = {"timezone": "UTC", "intervals": [{"day": "sat", "start": "20:00", "end": "24:00"},
                                             {"day": "sun", "start": "00:00", "end": "02:00"}]}
    assert _state(late, _utc(2026, 11, 14, 23, 59)).open_now
    assert _state(late, _utc(2026, 11, 15, 1, 0)).open_now
    assert _state(late, _utc(2026, 11, 15, 2, 0)).next_opening == _utc(2026, 11, 21, 20, 0)


def test_the_next_opening_is_in_the_teams_wall_clock_time_across_dst() -> None:
    # Autumn: Paris leaves summer time on Sunday 25 October 2026 (UTC+2 -> UTC+1).
    # Friday 23 October 18:00 local (16:00 UTC) -> Monday 26 October 09:00 local = 08:00 UTC, not 07:00.
    s = _state(OFFICE, _utc(2026, 10, 23, 16, 0))
    assert s.next_opening == _utc(2026, 10, 26, 8, 0)
    assert s.next_opening_local is not None and s.next_opening_local.utcoffset() == timedelta(hours=1)
    assert s.next_opening_text == "Monday 26 October at 09:00 (Europe/Paris)"
    # Spring: summer time starts on Sunday 29 March 2026 (UTC+1 -> UTC+2).
    # Saturday 28 March noon -> Monday 30 March 09:00 local = 07:00 UTC.
    assert _state(OFFICE, _utc(2026, 3, 28, 12, 0)).next_opening == _utc(2026, 3, 30, 7, 0)
    # The open interval on the change day itself follows the wall clock: Sunday 09:00-17:00 local is
    # 07:00-15:00 UTC on the spring day (and 08:00-16:00 UTC on the autumn day).
    sundays = {"timezone": PARIS, "intervals": [{"day": "sun", "start": "09:00", "end": "17:00"}]}
    assert _state(sundays, _utc(2026, 3, 29, 7, 0)).open_now
    assert not _state(sundays, _utc(2026, 3, 29, 15, 0)).open_now
    assert not _state(sundays, _utc(2026, 10, 25, 7, 59)).open_now
    assert _state(sundays, _utc(2026, 10, 25, 15, 59)).open_now
    # A wall time that does not exist (02:30 on the spring night) is read with the old offset: 03:30 local.
    gap = {"timezone": PARIS, "intervals": [{"day": "sun", "start": "02:30", "end": "05:00"}]}
    assert _state(gap, _utc(2026, 3, 28, 12, 0)).next_opening == _utc(2026, 3, 29, 1, 30)


def test_hours_are_checked() -> None:
    bad: list[dict[str, Any]] = [
        {"timezone": "Mars/Olympus", "intervals": OFFICE["intervals"]},
        {"timezone": "../etc/passwd", "intervals": OFFICE["intervals"]},
        {"timezone": PARIS, "intervals": []},
        {"timezone": PARIS, "intervals": [{"day": "monday", "start": "09:00", "end": "17:00"}]},
        {"timezone": PARIS, "intervals": [{"day": "mon", "start": "17:00", "end": "09:00"}]},
        {"timezone": PARIS, "intervals": [{"day": "mon", "start": "9", "end": "17:00"}]},
        {"timezone": PARIS, "intervals": [{"day": "mon", "start": "09:00", "end": "25:00"}]},
        {**OFFICE, "out_of_hours_message": ""},
        {**OFFICE, "colour": "red"},
    ]
    for body in bad:
        with pytest.raises(InvalidInput):
            check_hours(body)


# --- the API --------------------------------------------------------------------------------------------


def _put(a: Agent, team: int, body: Any) -> Any:
    return a.client.put(f"/api/v1/teams/{team}/hours", json=body, headers={"X-CSRF-Token": a.csrf})


def test_supervisors_set_hours_agents_read_their_teams(app: Flask, db: Database) -> None:
    make_user(db, "ada@example.com", team="Support")
    make_user(db, "bob@example.com", team="Billing")
    make_user(db, "sue@example.com", role="supervisor")
    ada, bob, sue = (Agent(app, f"{n}@example.com") for n in ("ada", "bob", "sue"))
    support = team_id(db, "Support")
    assert ada.get(f"/teams/{support}/hours").get_json()["always_open"] is True
    assert _put(ada, support, OFFICE).status_code == 403
    assert _put(bob, support, OFFICE).status_code == 404  # not his team
    assert bob.get(f"/teams/{support}/hours").status_code == 404
    r = _put(sue, support, {**OFFICE, "out_of_hours_message": "Closed. Back {{next_opening}}."})
    assert r.status_code == 200, r.get_json()
    h = ada.get(f"/teams/{support}/hours").get_json()
    assert h["always_open"] is False and h["timezone"] == PARIS
    assert [i["day"] for i in h["intervals"]] == ["mon", "tue", "wed", "thu", "fri"]
    assert h["open_now"] == (h["next_opening"] is None)
    r = _put(sue, support, {"timezone": "Nowhere/Land", "intervals": OFFICE["intervals"]})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "unknown_timezone"
    r = sue.client.delete(f"/api/v1/teams/{support}/hours", headers={"X-CSRF-Token": sue.csrf})
    assert r.status_code == 200 and r.get_json()["always_open"] is True


# --- what customers are told ----------------------------------------------------------------------------


def _closed_now(tz: str = "UTC") -> dict[str, Any]:
    """Hours that exclude today whatever the time: open only three days from now (local date)."""
    day = DAYS[(datetime.now(ZoneInfo(tz)).weekday() + 3) % 7]
    return {"timezone": tz, "intervals": [{"day": day, "start": "09:00", "end": "10:00"}],
            "out_of_hours_message": "We're closed; we open again {{next_opening}}."}


def _always(tz: str = "UTC") -> dict[str, Any]:
    return {"timezone": tz, "intervals": [{"days": list(DAYS), "start": "00:00", "end": "24:00"}]}


def test_webchat_customer_out_of_hours_is_told_when_the_team_opens(app: Flask, db: Database) -> None:
    make_user(db, "sue@example.com", role="supervisor")
    sue = Agent(app, "sue@example.com")
    support = team_id(db, "Support")
    assert _put(sue, support, _closed_now("Asia/Tokyo")).status_code == 200
    expected = sue.get(f"/teams/{support}/hours").get_json()["next_opening_text"]
    assert expected.endswith("at 09:00 (Asia/Tokyo)")
    customer, cid = handoff(app)
    # still queued for the team ...
    queue = sue.get(f"/queue?team_id={support}").get_json()["queues"][0]
    assert [c["id"] for c in queue["conversations"]] == [cid]
    # ... but told when the team opens, in a message and in the widget's queue status (no estimate)
    assert customer.replies("system") == [f"We're closed; we open again {expected}."]
    q = customer.events("queue")[-1]
    assert q["status"] == "waiting" and q["position"] == 1 and q["estimated_wait_seconds"] is None
    assert q["team_open"] is False and q["opens_at_text"] == expected and q["opens_at"]
    # a reconnecting widget is told the same
    again = Customer(app, token=customer.token)
    assert again.events("queue")[-1]["opens_at_text"] == expected


def test_webchat_customer_within_hours_gets_the_usual_queue_status(app: Flask, db: Database) -> None:
    make_user(db, "sue@example.com", role="supervisor")
    sue = Agent(app, "sue@example.com")
    assert _put(sue, team_id(db, "Support"), _always()).status_code == 200
    customer, _ = handoff(app)
    assert customer.replies("system") == []
    q = customer.events("queue")[-1]
    assert q["status"] == "waiting" and q["team_open"] is True and q["opens_at"] is None


def test_sms_customer_out_of_hours_gets_the_out_of_hours_message(capp: Flask, cdb: Database,
                                                                 fake_twilio: FakeTwilio) -> None:
    make_user(cdb, "admin@example.com", role="admin")
    admin = Agent(capp, "admin@example.com")
    support = team_id(cdb, "Support")
    set_routing(admin, support, queue_message="You're in line.")
    assert _put(admin, support, _closed_now()).status_code == 200
    expected = admin.get(f"/teams/{support}/hours").get_json()["next_opening_text"]
    r = twilio_post(capp.test_client(), sms("SM" + "d" * 32, "I want a person"))
    assert r.status_code == 200
    bodies = [s.first("Body") for s in fake_twilio.sends()]
    assert bodies == ["Connecting you with a person.", f"We're closed; we open again {expected}."]


def test_out_of_hours_chats_still_go_to_an_online_agent(app: Flask, db: Database) -> None:
    make_user(db, "sue@example.com", role="supervisor")
    sue = Agent(app, "sue@example.com")
    assert _put(sue, team_id(db, "Support"), _closed_now()).status_code == 200
    ada = agent(app, db, "ada@example.com", team="Support")
    customer, cid = handoff(app)
    assert customer.events("queue")[-1]["status"] == "assigned"
    assert customer.replies("system") == []  # answered now: no "we're closed"
    assert ada.get(f"/conversations/{cid}").get_json()["assignees"][0]["name"] == "Ada"
