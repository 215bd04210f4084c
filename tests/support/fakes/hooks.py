"""Local receivers of what Parley sends out: a webhook receiver that checks signatures and stores each
delivery once (by `X-Parley-Delivery`), a CRM that conversation actions call, and an operator's own bot for
the `http` engine. Signatures are recomputed here from the raw bytes, independently of the sender's code."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from tests.support.fakes.server import FakeServer, Recorded, Reply

TOLERANCE_S = 300


def header(req: Recorded, name: str) -> str | None:
    for key, value in req.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def signature_ok(req: Recorded, secret: str | None) -> bool:
    """What a receiver does: HMAC-SHA256 over "<timestamp>.<raw body>", a fresh timestamp, constant-time compare."""
    if not secret:
        return False
    ts, sig = header(req, "X-Parley-Timestamp"), header(req, "X-Parley-Signature")
    if not ts or not sig or not ts.isdigit() or abs(time.time() - int(ts)) > TOLERANCE_S:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig)


class WebhookReceiver(FakeServer):
    """Stores each delivery once, by its delivery id; a bad signature gets 401 and is not stored."""

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.stored: dict[str, Any] = {}
        self.refused = 0

    def handle(self, req: Recorded) -> Reply:
        if not signature_ok(req, self.secret):
            self.refused += 1
            return Reply(401, {"error": "bad signature"})
        delivery = header(req, "X-Parley-Delivery") or ""
        self.stored.setdefault(delivery, json.loads(req.body))
        return Reply(200, {"received": delivery})

    def events(self) -> list[str]:
        return [body["event"] for body in self.stored.values()]


class FakeCrm(FakeServer):
    """Creates a ticket for each signed request; `answer` overrides what it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.secret: str | None = None
        self.answer: Any = None
        self.tickets = 0

    def handle(self, req: Recorded) -> Reply:
        if not signature_ok(req, self.secret):
            return Reply(401, {"error": "bad signature"})
        if self.answer is not None:
            return Reply(200, self.answer)
        self.tickets += 1
        return Reply(201, {"id": f"T-{self.tickets}", "title": f"Ticket #{self.tickets}",
                           "url": f"https://crm.example.com/tickets/{self.tickets}"})


class FakeBot(FakeServer):
    """An operator's bot: answers by the customer's words ('person': hand off; 'slow': too slow; 'junk': not JSON)."""

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret

    def handle(self, req: Recorded) -> Reply:
        if self.secret is not None and not signature_ok(req, self.secret):
            return Reply(401, {"error": "bad signature"})
        text = str(req.json()["message"]["text"]).lower()
        if "person" in text:
            return Reply(200, {"replies": ["Let me get a colleague."],
                               "handoff": {"reason": "customer_asked", "summary": "Wants a person."}})
        if "refund" in text:
            return Reply(200, {"replies": [], "handoff": {"reason": "refund_policy", "summary": "Refunds are manual."}})
        if "menu" in text:  # a reply with buttons and an image beside a plain one
            return Reply(200, {"replies": [{"text": "What would you like?", "image": "https://cdn.example.com/m.png",
                                            "buttons": [{"title": "Track order", "payload": "/track"},
                                                        {"title": "Talk to a person"}]}, "Or just type."]})
        if "sneaky" in text:
            return Reply(200, {"replies": [{"text": "Look", "image": "javascript:alert(1)"}]})
        if "slow" in text:
            time.sleep(5.0)  # well past the tests' 2.5 s timeout, which leaves room on a loaded machine
        if "junk" in text:
            return Reply(200, b"<html>oops</html>", content_type="text/html")
        if "shape" in text:
            return Reply(200, {"replies": "not a list"})
        if "broken" in text:
            return Reply(500, {"error": "boom"})
        return Reply(200, {"replies": [f"You said: {req.json()['message']['text']}"], "handoff": None})
