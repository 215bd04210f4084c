"""Issue 14: contacts get tags (contact page and API): stored lower-case, listed with counts, a filter on
the contacts list; who may see a contact decides who sees and edits its tags. And SMS opt-out keywords."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from models.db import Database
from models.schema.broadcasts import OptOut
from models.schema.contacts import Contact
from tests.support.actors import Agent, make_user
from tests.support.channels import CUSTOMER, sms, twilio_post


def _put(agent: Agent, contact_id: int, tags: Any) -> Any:
    return agent.client.put(f"/api/v1/contacts/{contact_id}/tags", json={"tags": tags},
                            headers={"X-CSRF-Token": agent.csrf})


def _contacts(db: Database, *names: str) -> list[int]:
    with db.transaction() as s:
        made = [Contact(name=n) for n in names]
        s.add_all(made)
        s.flush()
        return [c.id for c in made]


def test_tags_are_set_listed_counted_and_filter_contacts(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "sue@example.com", role="supervisor")
    sue = Agent(capp, "sue@example.com")
    a, b, c = _contacts(cdb, "Ann", "Bob", "Cy")
    r = _put(sue, a, ["VIP", " spring   sale ", "vip"])
    assert r.status_code == 200 and r.get_json() == {"contact_id": a, "tags": ["spring sale", "vip"]}
    assert _put(sue, b, ["vip"]).status_code == 200
    assert sue.get(f"/contacts/{a}/tags").get_json()["tags"] == ["spring sale", "vip"]
    assert sue.get("/tags").get_json()["tags"] == [{"tag": "vip", "contacts": 2}, {"tag": "spring sale", "contacts": 1}]
    assert {x["id"] for x in sue.get("/contacts?tag=VIP").get_json()["contacts"]} == {a, b}
    assert sue.get("/contacts?tag=nothing").get_json()["contacts"] == []
    assert _put(sue, a, []).get_json()["tags"] == []  # replaced: all removed
    assert sue.get("/tags").get_json()["tags"] == [{"tag": "vip", "contacts": 1}]
    for bad in (["<script>"], [""], ["x" * 51], [3], "vip", [f"t{i}" for i in range(21)]):
        r = _put(sue, c, bad)
        assert r.status_code == 400, (bad, r.get_json())
    assert sue.get(f"/contacts/{c}/tags").get_json()["tags"] == []
    # an agent sees no contact they have no conversation with: not its tags either
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    assert ada.get(f"/contacts/{b}/tags").status_code == 404
    assert _put(ada, b, ["mine"]).status_code == 404
    assert ada.get("/contacts?tag=vip").get_json()["contacts"] == []


def test_sms_stop_and_start_are_recorded_on_the_number(capp: Flask, cdb: Database) -> None:
    client = capp.test_client()

    def stopped() -> bool:
        with cdb.session() as s:
            return s.scalar(select(OptOut).where(OptOut.channel == "sms", OptOut.external_id == CUSTOMER)) is not None

    twilio_post(client, sms("SM" + "1" * 32, "please don't stop"))
    assert not stopped()
    twilio_post(client, sms("SM" + "2" * 32, " Stop. "))
    assert stopped()
    twilio_post(client, sms("SM" + "2" * 32, "STOP"))  # a provider's retry: nothing new
    twilio_post(client, sms("SM" + "3" * 32, "start"))
    assert not stopped()
