"""A fake of Meta's Graph API for WhatsApp Cloud: send messages, look up and download media."""

from __future__ import annotations

import secrets
from typing import Any

from tests.support.fakes.server import FakeServer, Recorded, Reply


class FakeGraph(FakeServer):
    def __init__(self, token: str, phone_number_id: str, version: str = "v21.0") -> None:
        super().__init__()
        self.token = token
        self.phone_number_id = phone_number_id
        self.version = version
        self.sent: list[dict[str, Any]] = []
        self.media: dict[str, tuple[bytes, str]] = {}

    def is_send(self, req: Recorded) -> bool:
        return req.method == "POST" and req.path.endswith("/messages")

    def add_media(self, media_id: str, data: bytes, content_type: str) -> str:
        self.media[media_id] = (data, content_type)
        return media_id

    def _err(self, status: int, code: int, message: str) -> Reply:
        return Reply(status, {"error": {"message": message, "type": "OAuthException", "code": code,
                                        "fbtrace_id": "A" + secrets.token_hex(4)}})

    def handle(self, req: Recorded) -> Reply:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return self._err(401, 190, "Invalid OAuth access token.")
        prefix = f"/{self.version}"
        if req.method == "POST" and req.path == f"{prefix}/{self.phone_number_id}/messages":
            body = req.json()
            if body.get("messaging_product") != "whatsapp" or not body.get("to"):
                return self._err(400, 100, "Invalid parameter")
            wamid = "wamid." + secrets.token_hex(12)
            self.sent.append({**body, "id": wamid})
            return Reply(200, {"messaging_product": "whatsapp",
                               "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                               "messages": [{"id": wamid}]})
        if req.method == "GET" and req.path.startswith(f"{prefix}/"):
            media_id = req.path[len(prefix) + 1:]
            if media_id in self.media:
                data, ctype = self.media[media_id]
                return Reply(200, {"url": f"{self.url}/download/{media_id}", "mime_type": ctype,
                                   "file_size": len(data), "id": media_id, "messaging_product": "whatsapp"})
        if req.method == "GET" and req.path.startswith("/download/"):
            media_id = req.path[len("/download/"):]
            if media_id in self.media:
                data, ctype = self.media[media_id]
                return Reply(200, data, content_type=ctype)
        return self._err(404, 100, "Unsupported get request.")
