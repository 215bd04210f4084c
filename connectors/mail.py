"""Email out through SMTP: invitations, password resets, customer invites.

`PARLEY_SMTP_URL` names the server: `smtp://user:pass@host:587` speaks plain SMTP and upgrades with
STARTTLS whenever the server offers it; `smtps://user:pass@host:465` is TLS from the first byte.
User and password are URL-encoded in the URL (`%40` for `@`). The sender is `PARLEY_MAIL_FROM`.
Nothing here queues or retries: a caller that must not lose a mail stores what it needs first and
sends after its transaction commits, and shows the failure (`MailError`) to the person who asked.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from models.settings import Settings

TIMEOUT_SECONDS = 15.0


class MailError(Exception):
    """The mail was not accepted by the SMTP server (or no server is configured); the text says why."""


class MailNotConfigured(MailError):
    """`PARLEY_SMTP_URL` is unset: Parley cannot send email."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # smtps: TLS from the first byte
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailError("PARLEY_SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
        tls = parts.scheme == "smtps"
        return cls(host=parts.hostname, port=parts.port or (465 if tls else 587), tls=tls,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_url)


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    if "\n" in mail.to or "\r" in mail.to or "\n" in mail.subject or "\r" in mail.subject:
        raise MailError("an address or subject may not contain a line break")
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2].strip("> ") or "parley")
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg


def send_mail(settings: Settings, mail: Mail) -> str:
    """Hand `mail` to the SMTP server; returns its Message-ID. Raises `MailError` when it was not accepted."""
    if not settings.smtp_url:
        raise MailNotConfigured("email is not configured: set PARLEY_SMTP_URL (and PARLEY_MAIL_FROM)")
    server = SmtpServer.parse(settings.smtp_url)
    msg = build_message(settings, mail)
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if server.tls:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
        with smtp:
            smtp.ehlo()
            if not server.tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"the mail to {mail.to} was not sent: {exc}") from exc
    return str(msg["Message-ID"])
