"""What customers are told while they wait: their place and an estimated wait on webchat, live;
a configurable notice on SMS/WhatsApp; and the journey of a contact that agents see."""

from __future__ import annotations

from flask import Flask

from models.db import Database
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import sms, twilio_post
from tests.support.fakes import FakeTwilio
from tests.support.routing import agent, handoff, me, set_routing, team_id


def _last_queue(customer: Customer) -> dict[str, object]:
    events = customer.events("queue")
    assert events, [n for n, _ in customer.received]
    return dict(events[-1])


def test_webchat_customers_see_their_place_and_wait_live(app: Flask, db: Database) -> None:
    make_user(db, "admin@example.com", role="admin")
    admin = Agent(app, "admin@example.com")
    ada = agent(app, db, "ada@example.com", online=False)
    admin.client.patch(f"/api/v1/users/{me(ada)}/routing", json={"capacity": 1}, headers={"X-CSRF-Token": admin.csrf})
    first, first_id = handoff(app)
    second, second_id = handoff(app)
    third, _ = handoff(app)
    q = _last_queue(first)
    assert q == {"conversation_id": first_id, "status": "waiting", "position": 1,
                 "estimated_wait_seconds": None, "agent": None}  # nobody served yet: no basis for a figure
    assert _last_queue(second)["position"] == 2 and _last_queue(third)["position"] == 3
    # an agent comes online: the first is served, everybody moves up, and now there is a basis
    ada.post("/me/availability", {"status": "online"})
    assert _last_queue(first) == {"conversation_id": first_id, "status": "assigned", "position": None,
                                  "estimated_wait_seconds": None, "agent": {"name": "Ada"}}
    q2 = _last_queue(second)
    assert q2["conversation_id"] == second_id and q2["position"] == 1
    assert isinstance(q2["estimated_wait_seconds"], int) and q2["estimated_wait_seconds"] >= 1
    assert _last_queue(third)["position"] == 2
    # a reconnecting widget is told at once
    again = Customer(app, token=second.token)
    assert _last_queue(again)["position"] == 1
    # the agents' view of the same queue
    queue = ada.get(f"/queue?team_id={team_id(db, 'Support')}").get_json()["queues"][0]
    assert [c["position"] for c in queue["conversations"]] == [1, 2]
    assert queue["policy"] == "least_loaded"


def test_sms_customers_get_the_teams_queue_notice(capp: Flask, cdb: Database,
                                                  fake_twilio: FakeTwilio) -> None:
    make_user(cdb, "admin@example.com", role="admin")
    admin = Agent(capp, "admin@example.com")
    set_routing(admin, team_id(cdb, "Support"), queue_message="You're in line; a person will text you back.")
    r = twilio_post(capp.test_client(), sms("SM" + "c" * 32, "I want a person"))
    assert r.status_code == 200
    bodies = [s.first("Body") for s in fake_twilio.sends()]
    assert bodies == ["Connecting you with a person.", "You're in line; a person will text you back."]


def test_the_journey_shows_every_conversation_and_step(app: Flask, db: Database) -> None:
    ada = agent(app, db, "ada@example.com")
    bob = agent(app, db, "bob@example.com", online=False)
    bob.post("/me/availability", {"status": "away"})
    customer, first = handoff(app)
    contact_id = ada.get(f"/conversations/{first}").get_json()["contact"]["id"]
    t = ada.post(f"/conversations/{first}/transfer", {"to_user_id": me(bob)}).get_json()["transfer"]
    bob.post(f"/transfers/{t['id']}/accept")
    bob.post(f"/conversations/{first}/close")
    second = customer.say("hello again")["conversation_id"]  # the bot has this one
    journey = ada.get(f"/contacts/{contact_id}/journey").get_json()
    assert journey["contact"]["id"] == contact_id
    convs = journey["conversations"]
    assert [(c["id"], c["state"], c["channel"]) for c in convs] == [(first, "Ended", "webchat"),
                                                                     (second, "Bot", "webchat")]
    assert [a["name"] for a in convs[0]["agents"]] == ["Bob"] and convs[0]["team"]["name"] == "Support"
    kinds = [s["kind"] for s in convs[0]["steps"]]
    for kind in ("conversation.handoff", "routing.assigned", "routing.transfer_requested",
                 "routing.transfer_accepted", "conversation.closed"):
        assert kind in kinds, kinds
    step = next(s for s in convs[0]["steps"] if s["kind"] == "routing.transfer_accepted")
    assert step["actor"]["name"] == "Bob" and step["data"]["from_user"] == "Ada"
    assert isinstance(step["message_id"], int)  # where "open at that point" scrolls to
    assert convs[0]["closed_at"] and convs[0]["handed_off_at"]
