"""Mail through a real SMTP server (aiosmtpd): what a customer or a new user receives."""

from __future__ import annotations

import socket

import pytest

from connectors.mail import Mail, MailError, MailNotConfigured, send_mail
from connectors.mail import SmtpServer as ServerUrl
from models.settings import Settings
from tests.support.mail import SmtpServer, body_text


def test_a_mail_arrives_with_its_text_and_html_parts(settings: Settings, smtp_server: SmtpServer) -> None:
    configured = settings.with_(smtp_url=smtp_server.url, mail_from="Acme Support <support@acme.test>")
    send_mail(configured, Mail(to="ana@example.com", subject="You are invited", text="Open https://x/1",
                               html="<p>Open <a href='https://x/1'>the link</a></p>"))
    (msg,) = smtp_server.wait_for(1)
    assert msg["To"] == "ana@example.com" and msg["Subject"] == "You are invited"
    assert msg["From"] == "Acme Support <support@acme.test>"
    assert "https://x/1" in body_text(msg) and "the link" in body_text(msg, "html")
    assert smtp_server.envelopes == [("support@acme.test", ["ana@example.com"])]


def test_without_a_server_sending_says_what_to_set(settings: Settings) -> None:
    with pytest.raises(MailNotConfigured, match="PARLEY_SMTP_URL"):
        send_mail(settings.with_(smtp_url=None), Mail(to="a@example.com", subject="s", text="t"))


def test_a_server_that_is_down_is_a_clear_error(settings: Settings) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"smtp://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(MailError, match=r"a@example\.com"):
        send_mail(settings.with_(smtp_url=url), Mail(to="a@example.com", subject="s", text="t"))


def test_a_line_break_cannot_add_headers(settings: Settings, smtp_server: SmtpServer) -> None:
    with pytest.raises(MailError, match="line break"):
        send_mail(settings.with_(smtp_url=smtp_server.url),
                  Mail(to="a@example.com\r\nBcc: all@example.com", subject="s", text="t"))
    assert smtp_server.messages == []


def test_smtp_urls_are_read_with_their_defaults() -> None:
    assert ServerUrl.parse("smtps://u%40x:p%2Fw@mail.example.com") == ServerUrl(
        host="mail.example.com", port=465, tls=True, username="u@x", password="p/w")
    assert ServerUrl.parse("smtp://mail.example.com").port == 587
    with pytest.raises(MailError):
        ServerUrl.parse("http://mail.example.com")
