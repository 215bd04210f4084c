"""The invitation email: plain text and HTML, the customer's personal link, the team's name.

Everything that came from people (names, the welcome message) is escaped in the HTML part."""

from __future__ import annotations

from html import escape

from connectors.mail import Mail
from models.outreach.invite import MailToSend


def invitation_mail(m: MailToSend) -> Mail:
    subject = f"{m.team_name} invites you to chat"
    lines = [f"Hello {m.contact_name},", ""]
    if m.text:
        lines += [m.text, ""]
    lines += [f"{m.agent_name} from {m.team_name} invites you to a chat. Open your personal link to reply:", "",
              m.link, "", f"The link is yours alone; it works on any device until {m.expires_at}."]
    text = "\n".join(lines)
    welcome = (f'<p style="white-space:pre-wrap;border-left:3px solid #4f46e5;padding-left:12px">'
               f"{escape(m.text)}</p>") if m.text else ""
    html = (f"<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1f2937\">"
            f"<p>Hello {escape(m.contact_name)},</p>{welcome}"
            f"<p>{escape(m.agent_name)} from <strong>{escape(m.team_name)}</strong> invites you to a chat.</p>"
            f'<p><a href="{escape(m.link, quote=True)}" style="display:inline-block;background:#4f46e5;color:#fff;'
            f'padding:10px 18px;border-radius:6px;text-decoration:none">Open the chat</a></p>'
            f"<p style=\"color:#6b7280;font-size:13px\">Or paste this link into your browser: {escape(m.link)}<br>"
            f"It is yours alone and works on any device until {escape(m.expires_at)}.</p></body></html>")
    return Mail(to=m.to, subject=subject, text=text, html=html)
