"""Requests the server makes on others' behalf (LLM HTTP actions, media downloads) go through one guarded
client: no loopback, private or link-local address unless PARLEY_OUTBOUND_ALLOW names it, no redirect
to one, bounded size; and an action's secret only ever comes from a PARLEY_ACTION_SECRET_* variable."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

from bot.llm.http_tools import ActionFailed, HttpAction
from connectors.http import MediaFetchError, MediaTooLarge, download
from connectors.outbound import OutboundGuard, OutboundRefused, OutboundTooLarge
from models.db import Database
from tests.support.actors import Agent, make_user


class _Site:
    """A local web server that records what reached it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        site = self
        self.hits: list[dict[str, str]] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                status, headers, body = site.routes.get(self.path, (200, {}, b'{"ok": true}'))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[_Site]:
    s = _Site()
    yield s
    s.close()


def _action(url: str, secret_env: str | None = None) -> HttpAction:
    return HttpAction(name="order_lookup", description="Order status", url_template=url + "/orders/{n}",
                      param_name="n", param_description="", param_pattern=r"\d+", secret_env=secret_env,
                      timeout_seconds=2.0)


REFUSED = ["http://127.0.0.1:9/x", "http://localhost:9/x", "http://2130706433/x", "http://10.1.2.3/x",
           "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/x", "http://[::ffff:127.0.0.1]/x",
           "http://192.168.0.1/", "http://0.0.0.0/", "http://100.64.0.1/", "ftp://example.com/x"]


@pytest.mark.parametrize("url", REFUSED)
def test_local_and_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused):
        OutboundGuard().get(url)


def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    guard = OutboundGuard(resolve=lambda *_a, **_k: [(2, 1, 6, "", ("10.0.0.7", 80))])
    with pytest.raises(OutboundRefused, match=r"10\.0\.0\.7"):
        guard.get("http://shop.internal.example/orders/1")


def test_the_request_goes_to_the_address_that_was_checked(site: _Site) -> None:
    """No second DNS lookup (DNS rebinding): the checked address is connected to, the name kept as Host."""
    port = site.url.rsplit(":", 1)[1]
    answers = iter([[(2, 1, 6, "", ("127.0.0.1", int(port)))]])
    guard = OutboundGuard(allow_nets=(ipaddress.ip_network("127.0.0.0/8"),),
                          resolve=lambda *_a, **_k: next(answers))  # a second lookup would fail
    assert guard.get(f"http://shop.test:{port}/orders/1").status_code == 200
    assert site.hits[-1]["host"] == f"shop.test:{port}"


def test_an_action_cannot_reach_loopback_unless_allowed(site: _Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_OUTBOUND_ALLOW", raising=False)
    with pytest.raises(ActionFailed, match="refused"):
        _action(site.url).call("1")
    assert site.hits == []  # nothing left the building
    monkeypatch.setenv("PARLEY_OUTBOUND_ALLOW", "shop.example, 127.0.0.0/8")
    assert _action(site.url).call("1") == (200, '{"ok": true}')
    assert [h["path"] for h in site.hits] == ["/orders/1"]


def test_no_redirect_to_a_refused_address(monkeypatch: pytest.MonkeyPatch) -> None:
    inner, outer = _Site("127.0.0.1"), _Site("127.0.0.2")
    try:
        outer.routes["/media/1"] = (302, {"Location": f"{inner.url}/secret"}, b"")
        guard = OutboundGuard.from_env({"PARLEY_OUTBOUND_ALLOW": "127.0.0.2"})
        with pytest.raises(OutboundRefused):
            guard.get(f"{outer.url}/media/1", headers={"Authorization": "Bearer provider-token"})
        assert inner.hits == []
        # a media download is refused the same way
        with pytest.raises(MediaFetchError):
            download(f"{outer.url}/media/1", max_bytes=1000, guard=guard)
        # allowed hops are followed, and credentials stay with the first origin
        both = OutboundGuard.from_env({"PARLEY_OUTBOUND_ALLOW": "127.0.0.1,127.0.0.2"})
        assert both.get(f"{outer.url}/media/1", headers={"Authorization": "Bearer t"}).status_code == 200
        assert inner.hits[-1]["path"] == "/secret" and "authorization" not in inner.hits[-1]
        # an action never follows a redirect at all
        monkeypatch.setenv("PARLEY_OUTBOUND_ALLOW", "127.0.0.1,127.0.0.2")
        outer.routes["/orders/1"] = (302, {"Location": f"{inner.url}/secret"}, b"")
        with pytest.raises(ActionFailed, match="HTTP 302"):
            _action(outer.url).call("1")
    finally:
        inner.close()
        outer.close()


def test_oversize_answers_are_cut_off(site: _Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.routes["/big"] = (200, {}, b"x" * 5000)
    guard = OutboundGuard.from_env({"PARLEY_OUTBOUND_ALLOW": "127.0.0.1"})
    with pytest.raises(OutboundTooLarge):
        guard.get(f"{site.url}/big", max_bytes=4096)
    with pytest.raises(MediaTooLarge):
        download(f"{site.url}/big", max_bytes=4096, guard=guard)
    assert guard.get(f"{site.url}/big", max_bytes=5000).content == b"x" * 5000


def test_provider_api_bases_are_allowed_by_default() -> None:
    guard = OutboundGuard.from_env({"PARLEY_TWILIO_API_BASE": "http://127.0.0.1:9999"})
    guard.check_url("http://127.0.0.1:9999/2010-04-01/Media/ME1")
    with pytest.raises(OutboundRefused):
        guard.check_url("http://10.0.0.1/")


def test_an_action_never_sends_the_apps_own_secrets(site: _Site, monkeypatch: pytest.MonkeyPatch,
                                                    app: Flask, db: Database) -> None:
    monkeypatch.setenv("PARLEY_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv("PARLEY_SECRET_KEY", "the-key-that-forges-logins")
    monkeypatch.setenv("PARLEY_ACTION_SECRET_SHOP", "Bearer shop-token")
    make_user(db, "boss@example.com", role="admin")
    boss = Agent(app, "boss@example.com")
    body = {"name": "order_lookup", "description": "Order status", "param_name": "n", "param_pattern": r"\d+",
            "url_template": site.url + "/orders/{n}", "secret_env": "PARLEY_SECRET_KEY"}
    r = boss.post("/admin/llm/actions", body)
    assert r.status_code == 400 and "PARLEY_ACTION_SECRET_" in r.get_json()["error"]["message"]
    # an action stored before the rule is refused when called: nothing is sent
    with pytest.raises(ActionFailed, match="PARLEY_ACTION_SECRET_"):
        _action(site.url, secret_env="PARLEY_SECRET_KEY").call("1")
    assert site.hits == []
    r = boss.post("/admin/llm/actions", {**body, "secret_env": "PARLEY_ACTION_SECRET_SHOP"})
    assert r.status_code == 201 and r.get_json()["secret_set"] is True
    assert _action(site.url, secret_env="PARLEY_ACTION_SECRET_SHOP").call("7")[0] == 200
    assert site.hits[-1]["authorization"] == "Bearer shop-token"
    assert all("the-key-that-forges-logins" not in str(h) for h in site.hits)
