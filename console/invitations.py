"""The mail with a one-time password link: an invitation (72 h) or a password reset (2 h).

The link is built on `PARLEY_PUBLIC_URL` when it is set, else on the URL the admin's request came in
on (the CLI has no request: it needs PARLEY_PUBLIC_URL). The mail goes out after the link's transaction
committed; whether it was accepted is reported to the admin who asked (`MailOutcome`), never hidden.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime

from connectors.mail import Mail, MailError, mail_configured, send_mail
from models.accounts.passwords import IssuedLink, Purpose
from models.errors import Conflict
from models.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailOutcome:
    sent: bool
    error: str | None = None

    def json(self) -> dict[str, object]:
        return {"sent": self.sent, "error": self.error}


def require_mail(settings: Settings) -> None:
    """Before anything is written: an invitation or reset that cannot be mailed is refused up front."""
    if not mail_configured(settings):
        raise Conflict("Email is not configured (set PARLEY_SMTP_URL): the link cannot be sent. Create the user "
                       "with a password instead.", code="mail_not_configured")


def base_url(settings: Settings, request_url: str | None) -> str:
    url = settings.public_url or request_url
    if not url:
        raise Conflict("Set PARLEY_PUBLIC_URL: the link in the mail needs this site's address.",
                       code="public_url_missing")
    return url.rstrip("/")


def link_url(base: str, link: IssuedLink) -> str:
    return f"{base}/password/{link.secret}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def compose(settings: Settings, *, to: str, name: str, url: str, link: IssuedLink,
            inviter: str | None = None) -> Mail:
    if link.purpose is Purpose.INVITE:
        subject = "You are invited to Parley"
        lead = f"{inviter or 'An admin'} invited you to the Parley console. Choose your password here:"
    else:
        subject = "Reset your Parley password"
        lead = "Someone (an admin, or you) asked to reset your Parley password. Choose a new one here:"
    tail = (f"The link works once, until {_when(link.expires_at)}. If you did not expect this mail, ignore it: "
            "nothing changes until the link is used.")
    text = f"Hello {name},\n\n{lead}\n\n{url}\n\n{tail}\n"
    body = (f"<p>Hello {html.escape(name)},</p><p>{html.escape(lead)}</p>"
            f"<p><a href=\"{html.escape(url)}\">{html.escape(url)}</a></p><p>{html.escape(tail)}</p>")
    return Mail(to=to, subject=subject, text=text, html=body)


def deliver(settings: Settings, mail: Mail) -> MailOutcome:
    try:
        send_mail(settings, mail)
    except MailError as exc:
        log.warning("password link mail to %s failed: %s", mail.to, exc)
        return MailOutcome(False, str(exc))
    return MailOutcome(True)
