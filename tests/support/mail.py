"""A real SMTP server for the tests: aiosmtpd on a loopback port, keeping every message it accepts.

`smtp_server.url` goes into PARLEY_SMTP_URL; `smtp_server.messages` holds what arrived (parsed), and
`smtp_server.wait_for(n)` waits until n messages have (mail may be sent by a background job).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.cond:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.cond.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, controller: Controller, keep: _Keep) -> None:
        self.controller = controller
        self._keep = keep

    @property
    def url(self) -> str:
        return f"smtp://{self.controller.hostname}:{self.controller.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._keep.cond:
            return list(self._keep.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self._keep.cond:
            return list(self._keep.envelopes)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._keep.cond:
            while len(self._keep.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} mail(s), got {len(self._keep.messages)}")
                self._keep.cond.wait(left)
            return list(self._keep.messages)

    def clear(self) -> None:
        with self._keep.cond:
            self._keep.messages.clear()
            self._keep.envelopes.clear()


def body_text(msg: EmailMessage, subtype: str = "plain") -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"the mail has no text/{subtype} part"
    return str(part.get_content())  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    keep = _Keep()
    controller = Controller(keep, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield SmtpServer(controller, keep)
    finally:
        controller.stop()
