"""A local fake OpenAI-compatible server (chat completions with tool calls, embeddings), and a fake shop
API for the agent's HTTP actions. Loopback only; every request is recorded.

The chat endpoint plays a careful agent over the wire, exactly as a real server would be driven by
langchain-openai: first a `search_knowledge_base` tool call built from the customer's message, then,
once the tool result is in the conversation, a `FinalAnswer` tool call citing the first passage (or a
`handoff_to_human` call when nothing was found). Tests can make the next requests fail or hang.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any


class JsonServer:
    """A threaded JSON HTTP server on 127.0.0.1 with recorded requests and injectable failures."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._failures: deque[tuple[int | None, float]] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with fake._lock:
                    fake.requests.append(req)
                    failure = fake._failures.popleft() if fake._failures else None
                if failure is not None:
                    status, delay = failure
                    time.sleep(delay)
                    if status is None:
                        self.close_connection = True
                        return
                    status_body: tuple[int, Any] = (status, {"error": {"message": "injected failure",
                                                                       "type": "server_error", "code": status}})
                else:
                    status_body = fake.handle(req)
                status, payload = status_body
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that timed out and left

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, req: Request) -> tuple[int, Any]:
        raise NotImplementedError

    def fail_next(self, status: int, *, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([(status, 0.0)] * times)

    def hang_next(self, seconds: float) -> None:
        with self._lock:
            self._failures.append((None, seconds))

    def start(self) -> JsonServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> JsonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _customer_message(messages: list[dict[str, Any]]) -> str:
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            match = re.search(r"<customer_message>\n(.*)\n</customer_message>", content, re.S)
            if match:
                return match.group(1)
    return ""


Brain = Callable[[dict[str, Any]], dict[str, Any]]


def careful_agent(body: dict[str, Any]) -> dict[str, Any]:
    """The assistant message for one chat completion request (OpenAI wire format)."""
    messages: list[dict[str, Any]] = body.get("messages", [])
    if messages and messages[0].get("role") == "system" and "handoff notes" in str(messages[0].get("content")):
        return {"role": "assistant", "content": "Customer asked something the bot could not answer.\n"
                                                "Bot searched the knowledge base.\nPlease answer them."}
    tool_results = [m for m in messages if m.get("role") == "tool"]
    if not tool_results:
        return _call("search_knowledge_base", {"query": _customer_message(messages)[:200]})
    match = re.search(r'<passage id="(P\d+)"[^>]*>\n(.*?)\n</passage>', str(tool_results[-1].get("content")), re.S)
    if match is None:
        return _call("handoff_to_human", {"reason": "no_grounded_answer", "summary": "Nothing found."})
    sentence = re.split(r"(?<=[.!?])\s", match.group(2), maxsplit=1)[0].replace("&amp;", "&")
    return _call("FinalAnswer", {"answer": sentence, "sources": [match.group(1)], "confidence": 0.85})


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{name}_{time.monotonic_ns()}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(args)}}]}


class FakeOpenAI(JsonServer):
    """`/v1/chat/completions` and `/v1/embeddings`, as an OpenAI-compatible server answers them."""

    def __init__(self, brain: Brain = careful_agent) -> None:
        super().__init__()
        self.brain = brain
        self.base_url = f"{self.url}/v1"

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def handle(self, req: Request) -> tuple[int, Any]:
        if req.method == "POST" and req.path.endswith("/chat/completions"):
            message = self.brain(req.body)
            prompt = len(json.dumps(req.body.get("messages", []))) // 4
            return 200, {"id": f"chatcmpl-{time.monotonic_ns()}", "object": "chat.completion",
                         "created": int(time.time()), "model": req.body.get("model", "fake"),
                         "choices": [{"index": 0, "message": message,
                                      "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                         "usage": {"prompt_tokens": prompt, "completion_tokens": 25, "total_tokens": prompt + 25}}
        if req.method == "POST" and req.path.endswith("/embeddings"):
            inputs = req.body.get("input", [])
            inputs = [inputs] if isinstance(inputs, str) else inputs
            return 200, {"object": "list", "model": req.body.get("model", "fake-embed"),
                         "data": [{"object": "embedding", "index": i, "embedding": embed(str(t))}
                                  for i, t in enumerate(inputs)],
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        return 404, {"error": {"message": f"no route {req.path}"}}


def embed(text: str, dims: int = 64) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words are close."""
    vec = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vec[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dims] += 1.0
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


class FakeShopApi(JsonServer):
    """`GET /api/orders/<number>`: a known order, 404 for others; checks the bearer token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.orders = {"JG-10042": {"number": "JG-10042", "status": "shipped", "carrier": "UPS",
                                    "shipped_on": "2026-11-20", "expected_delivery": "2026-11-24"}}

    def handle(self, req: Request) -> tuple[int, Any]:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        match = re.fullmatch(r"/api/orders/([^/?#]+)", req.path)
        if match and match.group(1) in self.orders:
            return 200, self.orders[match.group(1)]
        return 404, {"error": "not found"}
