"""Fuzzing the provider webhook parsers (Twilio form, WhatsApp Cloud JSON batches) with hypothesis:
the only exception they may raise is the documented `MalformedPayload`, and a signed request the
endpoint rejects stores nothing. Bounded and derandomized, so CI runs the same examples every time."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.base import InboundMessage, MalformedPayload
from connectors.twilio import parse_inbound, parse_status
from connectors.whatsapp_cloud import parse as parse_whatsapp
from models.db import Database
from models.schema.contacts import Contact
from models.schema.conversations import Conversation, Message
from tests.support.channels import ACCOUNT_SID, CUSTOMER, NUMBER, WA_PNID, twilio_post, wa_post

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None)
ENDPOINT = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

_TWILIO_KEYS = ["MessageSid", "SmsSid", "AccountSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                "MediaContentType0", "MediaUrl1", "ProfileName", "MessageStatus", "ErrorCode", "ErrorMessage"]
_texts = st.text(max_size=40)
_phoneish = st.one_of(st.just(CUSTOMER), st.just(f"whatsapp:{CUSTOMER}"), st.just(NUMBER), _texts,
                      st.from_regex(r"\+?[0-9 ()-]{0,20}", fullmatch=True))
_twilio_value = st.one_of(_texts, _phoneish, st.integers(-5, 20).map(str), st.just(""))
twilio_forms = st.dictionaries(st.one_of(st.sampled_from(_TWILIO_KEYS), _texts), _twilio_value, max_size=12)

_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _texts)
_json = st.recursive(_json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_texts, inner, max_size=4)), max_leaves=12)
_kinds = st.sampled_from(["text", "image", "document", "audio", "location", "interactive", "button",
                          "reaction", "sticker", "", "unknown"])


@st.composite
def wa_message(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(_kinds)
    msg: dict[str, Any] = {"from": draw(_phoneish.map(lambda p: p.lstrip("+"))), "id": draw(_texts),
                           "type": kind, "timestamp": draw(_texts)}
    msg[kind or "x"] = draw(st.one_of(_json, st.fixed_dictionaries(
        {}, optional={"body": _texts, "id": _texts, "caption": _texts, "latitude": _json_leaf,
                      "longitude": _json_leaf, "title": _texts, "text": _texts, "emoji": _texts,
                      "button_reply": _json})))
    return msg


@st.composite
def wa_batches(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly the Cloud API's shape, with any part of it replaced by anything."""
    value = {"messaging_product": "whatsapp",
             "metadata": draw(st.one_of(st.just({"phone_number_id": WA_PNID}), _json)),
             "contacts": draw(st.one_of(st.lists(st.fixed_dictionaries(
                 {"wa_id": _texts, "profile": st.one_of(st.fixed_dictionaries({"name": _texts}), _json)}),
                 max_size=2), _json)),
             "messages": draw(st.one_of(st.lists(wa_message(), max_size=3), _json)),
             "statuses": draw(st.one_of(st.lists(st.fixed_dictionaries(
                 {"id": _texts, "status": st.sampled_from(["sent", "delivered", "read", "failed", "x"])},
                 optional={"errors": _json, "biz_opaque_callback_data": _json_leaf}), max_size=2), _json))}
    change = {"field": draw(st.sampled_from(["messages", "other"])), "value": draw(st.one_of(st.just(value), _json))}
    entry = {"id": "WABA1", "changes": draw(st.one_of(st.just([change]), _json))}
    return {"object": draw(st.sampled_from(["whatsapp_business_account", "page"])),
            "entry": draw(st.one_of(st.just([entry]), _json))}


@FUZZ
@given(twilio_forms)
def test_twilio_parsers_raise_nothing_but_malformed_payload(form: dict[str, str]) -> None:
    for parse in (parse_inbound, parse_status):
        try:
            out = parse(form)
        except MalformedPayload:
            continue
        assert out is None or out.__class__.__name__ in ("InboundMessage", "StatusUpdate")


@FUZZ
@given(st.one_of(wa_batches().map(lambda b: json.dumps(b).encode()), st.binary(max_size=200),
                 _json.map(lambda j: json.dumps(j).encode())))
def test_whatsapp_parser_raises_nothing_but_malformed_payload(body: bytes) -> None:
    try:
        messages, _statuses = parse_whatsapp(body)
    except MalformedPayload:
        return
    assert all(isinstance(m, InboundMessage) for m in messages)
    assert all(m.sender.startswith("+") for m in messages)


def _stored(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count(Message.id))) or 0, s.scalar(select(func.count(Contact.id))) or 0,
                s.scalar(select(func.count(Conversation.id))) or 0)


@ENDPOINT
@given(form=twilio_forms)
def test_a_rejected_twilio_webhook_stores_nothing(capp: Flask, cdb: Database, form: dict[str, str]) -> None:
    form = {**form, "AccountSid": ACCOUNT_SID}
    before = _stored(cdb)
    r = twilio_post(capp.test_client(), form)
    assert r.status_code in (200, 400), r.data
    if r.status_code == 400:
        assert _stored(cdb) == before
        assert r.get_json()["error"]["code"]


@ENDPOINT
@given(body=st.one_of(wa_batches().map(lambda b: json.dumps(b).encode()), st.binary(max_size=100)))
def test_a_rejected_whatsapp_batch_stores_nothing(capp: Flask, cdb: Database, body: bytes) -> None:
    before = _stored(cdb)
    r = wa_post(capp.test_client(), body)
    assert r.status_code in (200, 400), r.data
    if r.status_code == 400:
        assert _stored(cdb) == before
