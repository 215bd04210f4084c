"""A fake of Stripe's Checkout Sessions API (create, expire) and of Stripe paying: `pay`, `expire`, `refund`
change a session the way Stripe would and return the webhook event it would send, which `signed` turns
into the exact body and `Stripe-Signature` header Stripe posts."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from typing import Any

from tests.support.fakes.server import FakeServer, Recorded, Reply

_LINE = re.compile(r"^line_items\[(\d+)\]\[(.+)\]$")


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    return Reply(status, {"error": {"type": kind, "message": message}})


class FakeStripe(FakeServer):
    def __init__(self, secret_key: str) -> None:
        super().__init__()
        self.secret_key = secret_key
        self.sessions: dict[str, dict[str, Any]] = {}
        self._by_key: dict[str, str] = {}
        self._ids = threading.Lock()
        self._n = 0

    def is_send(self, req: Recorded) -> bool:
        return req.method == "POST" and req.path.startswith("/v1/checkout/sessions")

    def creates(self) -> list[Recorded]:
        return [r for r in self.sends() if r.path == "/v1/checkout/sessions"]

    def handle(self, req: Recorded) -> Reply:
        if req.headers.get("Authorization") != f"Bearer {self.secret_key}":
            return _error(401, "Invalid API Key provided.", "authentication_error")
        if req.method == "POST" and req.path == "/v1/checkout/sessions":
            return self._create(req)
        m = re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", req.path)
        if m and req.method == "POST":
            session = self.sessions.get(m.group(1))
            if session is None:
                return _error(404, f"No such checkout.session: '{m.group(1)}'")
            if session["status"] != "open":
                return _error(400, f"Only Checkout Sessions with a status of 'open' can be expired; this one "
                                   f"is '{session['status']}'.")
            session.update(status="expired")
            return Reply(200, session)
        return _error(404, f"Unrecognized request URL ({req.method}: {req.path}).")

    def _create(self, req: Recorded) -> Reply:
        key = req.headers.get("Idempotency-Key")
        if key and key in self._by_key:
            return Reply(200, self.sessions[self._by_key[key]])
        lines: dict[int, dict[str, str]] = {}
        for name, values in req.form.items():
            m = _LINE.match(name)
            if m:
                lines.setdefault(int(m.group(1)), {})[m.group(2)] = values[0]
        if req.first("mode") != "payment" or not lines:
            return _error(400, "mode=payment and line_items are required.")
        total, currencies = 0, set()
        for line in lines.values():
            # keys as the pattern leaves them: "line_items[0][price_data][unit_amount]" → "price_data][unit_amount"
            amount, quantity = line.get("price_data][unit_amount"), line.get("quantity")
            if not (amount or "").isdigit() or not (quantity or "").isdigit():
                return _error(400, "Invalid integer: unit_amount and quantity are whole numbers.")
            total += int(amount or 0) * int(quantity or 0)
            currencies.add(line.get("price_data][currency", ""))
        if len(currencies) != 1:
            return _error(400, "All line items must share one currency.")
        with self._ids:
            self._n += 1
            sid = f"cs_test_{self._n:04d}{secrets.token_hex(8)}"
        metadata = {k[len("metadata["):-1]: v[0] for k, v in req.form.items() if k.startswith("metadata[")}
        session = {"id": sid, "object": "checkout.session", "mode": "payment", "status": "open",
                   "payment_status": "unpaid", "amount_total": total, "currency": currencies.pop(),
                   "client_reference_id": req.first("client_reference_id"), "metadata": metadata,
                   "expires_at": int(req.first("expires_at") or 0), "payment_intent": None,
                   "success_url": req.first("success_url"), "url": f"https://checkout.stripe.test/c/pay/{sid}"}
        self.sessions[sid] = session
        if key:
            self._by_key[key] = sid
        return Reply(200, session)

    # --- what Stripe does on its side, and the event it then sends ------------------------------

    def _event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {"id": "evt_" + secrets.token_hex(12), "object": "event", "type": kind, "created": int(time.time()),
                "livemode": False, "data": {"object": dict(obj)}}

    def pay(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        session.update(status="complete", payment_status="paid", payment_intent="pi_" + secrets.token_hex(12))
        return self._event("checkout.session.completed", session)

    def expire(self, session_id: str) -> dict[str, Any]:
        self.sessions[session_id].update(status="expired")
        return self._event("checkout.session.expired", self.sessions[session_id])

    def refund(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        charge = {"id": "ch_" + secrets.token_hex(12), "object": "charge", "amount": session["amount_total"],
                  "amount_refunded": session["amount_total"], "refunded": True,
                  "payment_intent": session["payment_intent"], "currency": session["currency"]}
        return self._event("charge.refunded", charge)


def signed(event: dict[str, Any], secret: str, *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Stripe's webhook POST carrying `event`."""
    raw = json.dumps(event).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    return raw, {"Stripe-Signature": f"t={ts},v1={sig}", "Content-Type": "application/json"}
