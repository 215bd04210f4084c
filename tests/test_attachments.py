"""Files: sniffed type allow-list, size limit, served only to who may see them, never inline when risky;
on the instance folder and on S3-compatible storage alike (every test runs on both)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select

from models.db import Database
from models.schema.channels import Attachment
from models.schema.conversations import Message
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.channels import make_channel_app, sms, twilio_post, wa_payload, wa_post, wa_text
from tests.support.fakes import FakeGraph, FakeTwilio
from tests.support.storage import BACKENDS, S3Bucket, storage_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
PDF = b"%PDF-1.7\n" + b"1 0 obj\n" * 20
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
EXE = b"MZ\x90\x00\x03" + b"\x00" * 200


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    return storage_settings(request, settings)


def _upload(agent: Agent, conv_id: str, data: bytes, name: str, **form: str) -> Any:
    return agent.client.post(f"/api/v1/conversations/{conv_id}/attachments", headers={"X-CSRF-Token": agent.csrf},
                             data={"file": (io.BytesIO(data), name), **form}, content_type="multipart/form-data")


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_an_agent_sends_a_file_on_sms_the_provider_fetches_it_by_a_signed_link(
        capp: Flask, cdb: Database, fake_twilio: FakeTwilio) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    twilio_post(capp.test_client(), sms("SM" + "a2" * 16, "a person please"))
    conv_id = ada.get("/conversations?view=team").get_json()["conversations"][0]["id"]
    r = _upload(ada, conv_id, PDF, "invoice.pdf", text="Your invoice 🧾")
    assert r.status_code == 201, r.get_json()
    msg = r.get_json()
    assert msg["text"] == "Your invoice 🧾" and msg["attachments"][0]["content_type"] == "application/pdf"
    sent = fake_twilio.sends()[-1]
    assert sent.first("Body") == "Your invoice 🧾"
    media_url = sent.first("MediaUrl")
    assert media_url is not None and media_url.startswith("https://parley.example.com/media/")
    # what Twilio would do: fetch the link (no login); a tampered link is refused
    link = urlsplit(media_url).path
    got = capp.test_client().get(link)
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert capp.test_client().get(link[:-3] + "xyz").status_code == 404

    # a file without text sends only the file
    _upload(ada, conv_id, PNG, "photo.png")
    assert fake_twilio.sends()[-1].first("Body") is None and fake_twilio.sends()[-1].first("MediaUrl")


def test_files_on_whatsapp_go_as_media_messages(capp: Flask, cdb: Database, fake_graph: FakeGraph) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    wa_post(capp.test_client(), wa_payload(wa_text("wamid.F1", "I want a person")))
    conv_id = ada.get("/conversations?view=team").get_json()["conversations"][0]["id"]
    assert _upload(ada, conv_id, PNG, "shot.png", text="here").status_code == 201
    sent = fake_graph.sent[-1]
    assert sent["type"] == "image" and sent["image"]["caption"] == "here"
    assert sent["image"]["link"].startswith("https://parley.example.com/media/")
    assert _upload(ada, conv_id, PDF, "terms.pdf").status_code == 201
    assert fake_graph.sent[-1]["type"] == "document" and fake_graph.sent[-1]["document"]["filename"] == "terms.pdf"


def test_types_are_sniffed_and_refused_files_leave_nothing(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    conv_id = Customer(capp).say("a person please")["conversation_id"]
    n = _count(cdb, Message)
    for data, name in ((HTML, "page.html"), (HTML, "innocent.png"), (EXE, "setup.pdf"), (b"", "empty.txt")):
        r = _upload(ada, conv_id, data, name)
        assert r.status_code == 400, (name, r.get_json())
    assert _count(cdb, Message) == n and _count(cdb, Attachment) == 0
    assert ada.client.post(f"/api/v1/conversations/{conv_id}/attachments", headers={"X-CSRF-Token": ada.csrf},
                           data={"text": "no file"}).status_code == 400
    # a PNG named .pdf is stored as what it is
    r = _upload(ada, conv_id, PNG, "report.pdf")
    assert r.status_code == 201
    att = r.get_json()["attachments"][0]
    assert (att["filename"], att["content_type"], att["inline"]) == ("report.pdf.png", "image/png", True)


def test_the_size_limit(settings: Settings, engines: list[Any], channel_env: dict[str, str]) -> None:
    app = make_channel_app(settings, engines, {**channel_env, "PARLEY_MAX_ATTACHMENT_BYTES": "1000"})
    db: Database = app.extensions["parley"].db
    make_user(db, "ada@example.com")
    ada = Agent(app, "ada@example.com")
    conv_id = Customer(app).say("a person please")["conversation_id"]
    assert _upload(ada, conv_id, PNG, "small.png").status_code == 201
    big = _upload(ada, conv_id, PNG + b"\x00" * 1000, "big.png")
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "file_too_large"
    huge = _upload(ada, conv_id, PNG + b"\x00" * 200_000, "huge.png")
    assert huge.status_code == 413
    assert _count(db, Attachment) == 1
    db.dispose()


def test_svg_is_never_inline_and_files_are_only_for_those_who_may_see_them(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "ada@example.com")
    make_user(cdb, "bob@example.com", team="Elsewhere")
    ada, bob = Agent(capp, "ada@example.com"), Agent(capp, "bob@example.com")
    conv_id = Customer(capp).say("a person please")["conversation_id"]
    r = _upload(ada, conv_id, SVG, "logo.svg", private="true")
    assert r.status_code == 201 and r.get_json()["private"] is True
    att = r.get_json()["attachments"][0]
    assert att["content_type"] == "image/svg+xml" and att["inline"] is False
    got = ada.client.get(att["url"])
    assert got.status_code == 200 and got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in got.headers["Content-Security-Policy"]
    png = _upload(ada, conv_id, PNG, "p.png").get_json()["attachments"][0]
    assert ada.client.get(png["url"]).headers["Content-Disposition"].startswith("inline")
    assert bob.client.get(att["url"]).status_code == 404
    assert capp.test_client().get(att["url"]).status_code == 401
    assert ada.client.get("/api/v1/attachments/a_guess").status_code == 404


def test_webchat_customers_upload_files_and_see_agent_files_by_name(capp: Flask, cdb: Database) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    customer = Customer(capp)
    conv_id = customer.say("a person please")["conversation_id"]
    client = capp.test_client()
    r = client.post("/webchat/upload", data={"token": customer.token, "file": (io.BytesIO(PNG), "broken.png")},
                    content_type="multipart/form-data", headers={"Origin": "https://shop.example"})
    assert r.status_code == 200 and r.get_json()["conversation_id"] == conv_id
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    msgs = ada.get(f"/conversations/{conv_id}/messages").get_json()["messages"]
    upload = [m for m in msgs if m["attachments"]][-1]
    assert upload["sender_type"] == "contact" and upload["text"] == "[file: broken.png]"
    assert ada.client.get(upload["attachments"][0]["url"]).data == PNG
    bad = client.post("/webchat/upload", data={"token": "forged", "file": (io.BytesIO(PNG), "x.png")},
                      content_type="multipart/form-data")
    assert bad.status_code == 403
    assert client.post("/webchat/upload", data={"token": customer.token, "file": (io.BytesIO(HTML), "x.html")},
                       content_type="multipart/form-data").status_code == 400
    refused = client.post("/webchat/upload", data={"token": customer.token, "file": (io.BytesIO(HTML), "x.html")},
                          content_type="multipart/form-data", headers={"Origin": "https://shop.example"})
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # the widget can show why
    assert refused.get_json()["error"]["code"] == "file_type"
    # an agent's file reaches the widget as a message naming it, then its download link
    msg_id = _upload(ada, conv_id, PDF, "label.pdf").get_json()["id"]
    assert customer.replies("agent")[-1] == "label.pdf"
    (files,) = customer.events("files")
    assert files["id"] == msg_id and files["files"][0]["filename"] == "label.pdf"
    got = client.get(files["files"][0]["url"])
    assert got.status_code == 200 and got.data == PDF and got.headers["Content-Disposition"].startswith("attachment")
    assert client.get(files["files"][0]["url"][:-4] + "abcd").status_code == 404
    # private notes' files never reach the customer
    _upload(ada, conv_id, PDF, "internal.pdf", private="true")
    assert len(customer.events("files")) == 1


def test_two_hosts_sharing_a_bucket_serve_each_others_files(
        settings: Settings, engines: list[Any], channel_env: dict[str, str], tmp_path: Path) -> None:
    """Two apps with instance folders of their own share the database and one S3 bucket: a file uploaded
    through one is downloaded through the other, and nothing is written to either instance folder."""
    if settings.storage_url is None:
        pytest.skip("sharing between hosts needs shared storage (the s3 run)")
    one = make_channel_app(settings, engines, channel_env)
    two = make_channel_app(settings.with_(instance_dir=tmp_path / "host-two"), engines, channel_env,
                           with_channels=False)
    db: Database = one.extensions["parley"].db
    make_user(db, "ada@example.com")
    conv_id = Customer(one).say("a person please")["conversation_id"]
    on_one, on_two = Agent(one, "ada@example.com"), Agent(two, "ada@example.com")
    url = _upload(on_one, conv_id, PDF, "one.pdf").get_json()["attachments"][0]["url"]
    got = on_two.client.get(url)
    assert got.status_code == 200 and got.data == PDF and got.headers["Content-Type"] == "application/pdf"
    back = _upload(on_two, conv_id, PNG, "two.png").get_json()["attachments"][0]["url"]
    assert on_one.client.get(back).data == PNG
    # a conditional request with the file's ETag is answered "not modified"; a range, in part
    etag = on_one.client.get(back).headers["ETag"]
    assert on_two.client.get(back, headers={"If-None-Match": etag}).status_code == 304
    part = on_two.client.get(url, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.data == PDF[:4]
    for app in (one, two):
        instance = app.extensions["parley"].settings.instance_dir
        assert not (instance / "attachments").exists()
    two.extensions["parley"].db.dispose()
    one.extensions["parley"].db.dispose()


def test_where_the_bytes_live_and_a_lost_file_is_a_404(capp: Flask, cdb: Database, settings: Settings,
                                                       request: pytest.FixtureRequest) -> None:
    make_user(cdb, "ada@example.com")
    ada = Agent(capp, "ada@example.com")
    conv_id = Customer(capp).say("a person please")["conversation_id"]
    att = _upload(ada, conv_id, PDF, "x.pdf").get_json()["attachments"][0]
    with cdb.session() as s:
        key = s.scalar(select(Attachment.storage_key))
    if settings.storage_url is None:  # `parley run`: the instance folder, as always
        path = settings.instance_dir / "attachments" / key
        assert path.read_bytes() == PDF
        path.unlink()
    else:
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        assert bucket.object_keys() == [f"parley/attachments/{key}"]
        bucket.client().delete_object(Bucket=bucket.bucket, Key=f"parley/attachments/{key}")
    gone = ada.client.get(att["url"])
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "not_found"
