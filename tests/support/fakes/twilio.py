"""A fake of Twilio's Messages API (2010-04-01): create, list (for reconciliation), media."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from tests.support.fakes.server import FakeServer, Recorded, Reply


class FakeTwilio(FakeServer):
    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, Any]] = []  # what Twilio "has", newest last
        self.media: dict[str, tuple[bytes, str]] = {}

    def is_send(self, req: Recorded) -> bool:
        return req.method == "POST" and req.path.endswith("/Messages.json")

    def add_media(self, name: str, data: bytes, content_type: str) -> str:
        self.media[name] = (data, content_type)
        return f"{self.url}/2010-04-01/Accounts/{self.account_sid}/Messages/MM1/Media/{name}"

    def _authorized(self, req: Recorded) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return req.headers.get("Authorization") == expected

    def handle(self, req: Recorded) -> Reply:
        if not self._authorized(req):
            return Reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        base = f"/2010-04-01/Accounts/{self.account_sid}"
        if req.path == f"{base}/Messages.json" and req.method == "POST":
            to, sender = req.first("To"), req.first("From") or req.first("MessagingServiceSid")
            if not to or not (req.first("Body") or req.first("MediaUrl") or req.first("ContentSid")):
                return Reply(400, {"code": 21602, "message": "Message body is required.", "status": 400})
            if to.removeprefix("whatsapp:") == "+15005550001":  # Twilio's magic "invalid number"
                return Reply(400, {"code": 21211, "message": f"The 'To' number {to} is not valid.", "status": 400})
            msg = {"sid": "SM" + secrets.token_hex(16), "account_sid": self.account_sid, "to": to, "from": sender,
                   "body": req.first("Body") or "", "status": "queued",
                   "num_media": str(len(req.form.get("MediaUrl", []))),
                   "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
                   "date_sent": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
                   "uri": f"{base}/Messages/x.json"}
            self.messages.append(msg)
            return Reply(201, msg)
        if req.path == f"{base}/Messages.json" and req.method == "GET":
            to = req.query["To"][0] if req.query.get("To") else None
            sender = req.query["From"][0] if req.query.get("From") else None
            rows = [m for m in reversed(self.messages) if (to is None or m["to"] == to)
                    and (sender is None or m["from"] == sender)]
            return Reply(200, {"messages": rows, "next_page_uri": None, "page": 0, "page_size": 50,
                               "uri": f"{base}/Messages.json"})
        if "/Media/" in req.path and req.method == "GET":
            name = req.path.rsplit("/", 1)[1]
            if name not in self.media:
                return Reply(404, {"code": 20404, "message": "Not found", "status": 404})
            data, ctype = self.media[name]
            return Reply(200, data, content_type=ctype)
        return Reply(404, {"code": 20404, "message": "Not found", "status": 404})
