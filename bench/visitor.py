"""One simulated webchat visitor: a real Socket.IO client speaking the `/webchat` contract.

A bot reply is matched to the message that caused it by the ids the server hands out: the
acknowledgement carries the stored customer message's id, and a reply to it is stored after it, so
its id is larger. That keeps a late reply, or a second reply to the previous message, from being
timed as the answer to the current one. When the server sends no integer ids, the first bot message
received after the send counts.

python-socketio's client runs each incoming event's handler in a thread of its own, so an
acknowledgement and a reply may be seen in either order; both go through one inbox and the wait
below accepts them in any order.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import socketio

WEBCHAT = "/webchat"


class VisitorError(Exception):
    """The visitor could not get a webchat session."""


@dataclass(frozen=True)
class Outcome:
    """How one message went: a latency in seconds, or the reason it failed."""

    latency_s: float | None
    error: str | None = None


@dataclass(frozen=True)
class _Ack:
    seq: int
    payload: Any


@dataclass(frozen=True)
class _Reply:
    at: float
    message_id: Any


@dataclass(frozen=True)
class _Failure:
    at: float
    reason: str


_InboxItem = _Ack | _Reply | _Failure


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _answers(reply_id: Any, ack_id: Any) -> bool:
    if _is_int(reply_id) and _is_int(ack_id):
        return bool(reply_id > ack_id)
    return True


def _ack_error(payload: Any) -> str | None:
    """The failure an acknowledgement reports, or None when the server took the message."""
    if isinstance(payload, dict) and payload.get("ok") is False:
        error = payload.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        return f"rejected:{code or 'unknown'}"
    return None


class Visitor:
    """A browser widget stand-in: connects, keeps its session, sends and times messages."""

    def __init__(self, url: str, reply_timeout_s: float) -> None:
        self.url = url
        self.reply_timeout_s = reply_timeout_s
        self._seq = 0
        self._inbox: queue.Queue[_InboxItem] = queue.Queue()
        self._session = threading.Event()
        self._client = socketio.Client(reconnection=False, handle_sigint=False)
        self._client.on("session", self._on_session, namespace=WEBCHAT)
        self._client.on("message", self._on_message, namespace=WEBCHAT)
        self._client.on("error", self._on_error, namespace=WEBCHAT)
        self._client.on("disconnect", self._on_disconnect, namespace=WEBCHAT)

    def _on_session(self, data: Any) -> None:
        self._session.set()

    def _on_message(self, data: Any) -> None:
        at = time.perf_counter()
        if isinstance(data, dict) and data.get("sender_type") == "bot":
            self._inbox.put(_Reply(at, data.get("id")))

    def _on_error(self, data: Any) -> None:
        code = data.get("code") if isinstance(data, dict) else None
        self._inbox.put(_Failure(time.perf_counter(), f"error:{code or 'unknown'}"))

    def _on_disconnect(self, *args: Any) -> None:
        self._inbox.put(_Failure(time.perf_counter(), "disconnected"))

    def connect(self, timeout_s: float) -> float:
        """Open the websocket and wait for `session`; returns how long that took."""
        started = time.perf_counter()
        try:
            self._client.connect(self.url, transports=["websocket"], namespaces=[WEBCHAT],
                                 wait_timeout=timeout_s)
        except socketio.exceptions.ConnectionError as exc:
            raise VisitorError(f"connect failed: {exc}") from exc
        if not self._session.wait(timeout_s):
            raise VisitorError("no session event")
        return time.perf_counter() - started

    def send(self, text: str) -> Outcome:
        """Send one message and wait for the bot's reply to it."""
        self._seq += 1
        seq = self._seq
        started = time.perf_counter()
        try:
            self._client.emit("message", {"text": text}, namespace=WEBCHAT,
                              callback=lambda *args: self._inbox.put(_Ack(seq, args[0] if args else None)))
        except socketio.exceptions.SocketIOError:
            return Outcome(None, "disconnected")
        return self._await_reply(seq, started, started + self.reply_timeout_s)

    def _await_reply(self, seq: int, started: float, deadline: float) -> Outcome:
        acked, ack_id = False, None
        pending: list[_Reply] = []
        while (left := deadline - time.perf_counter()) > 0:
            try:
                item = self._inbox.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(item, _Ack):
                if item.seq != seq:
                    continue
                if error := _ack_error(item.payload):
                    return Outcome(None, error)
                acked = True
                ack_id = item.payload.get("id") if isinstance(item.payload, dict) else None
            elif item.at < started:
                continue  # left over from an earlier message
            elif isinstance(item, _Failure):
                return Outcome(None, item.reason)
            else:
                pending.append(item)
            if acked:
                match = next((reply for reply in pending if _answers(reply.message_id, ack_id)), None)
                if match is not None:
                    return Outcome(match.at - started, None)
                pending.clear()
        return Outcome(None, "timeout" if acked else "no_ack")

    @property
    def connected(self) -> bool:
        """Still connected to `/webchat` (the server has not dropped the socket)."""
        return bool(self._client.connected) and WEBCHAT in self._client.namespaces

    def close(self) -> None:
        with contextlib.suppress(socketio.exceptions.SocketIOError):
            self._client.disconnect()
