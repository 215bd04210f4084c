"""Helpers for the outreach tests: the personal link in an invitation, an app wired to the fake providers
and a real SMTP server."""

from __future__ import annotations

import re
from email.message import EmailMessage

from tests.support.mail import body_text

LINK = re.compile(r"https?://[^\s\"<>]+/c/([A-Za-z0-9_.\-]+)")


def link_path(text: str) -> str:
    """`/c/<token>` of the (last) personal link in `text`."""
    found = LINK.findall(text)
    assert found, f"no chat link in {text!r}"
    return f"/c/{found[-1]}"


def mail_link(msg: EmailMessage) -> str:
    plain, html = body_text(msg, "plain"), body_text(msg, "html")
    assert link_path(plain) == link_path(html)
    return link_path(plain)
