"""Behind nginx: the client's scheme and address from X-Forwarded-* (only when PARLEY_TRUSTED_PROXIES
says how many proxies set them), and session cookies sent over TLS only when the public URL is https."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, request

from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.settings import Settings
from tests.support.engines import RuleEngine


def _app(settings: Settings) -> Flask:
    app = create_app(settings, engines=[RuleEngine()], jobs=InlineJobs(), testing=True)

    @app.get("/_seen")
    def seen() -> object:  # what the app believes about the client
        return jsonify({"scheme": request.scheme, "addr": request.remote_addr, "host": request.host})

    return app


@pytest.fixture
def proxied(settings: Settings) -> Iterator[Flask]:
    app = _app(settings.with_(trusted_proxies=1, public_url="https://chat.example.com"))
    yield app
    app.extensions["parley"].db.dispose()


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"}


def test_behind_a_trusted_proxy_the_client_is_who_the_proxy_says(proxied: Flask) -> None:
    seen = proxied.test_client().get("/_seen", headers=FORWARDED).json
    assert seen == {"scheme": "https", "addr": "203.0.113.7", "host": "chat.example.com"}


def test_without_trusted_proxies_forwarded_headers_are_ignored(app: Flask) -> None:
    @app.get("/_seen2")
    def seen2() -> object:
        return jsonify({"scheme": request.scheme, "addr": request.remote_addr})

    assert app.test_client().get("/_seen2", headers=FORWARDED).json == {"scheme": "http", "addr": "127.0.0.1"}


def test_session_cookies_are_secure_when_the_public_url_is_https(proxied: Flask, app: Flask) -> None:
    secure = proxied.test_client().get("/login", headers=FORWARDED).headers.get("Set-Cookie", "")
    plain = app.test_client().get("/login").headers.get("Set-Cookie", "")
    assert "session=" in secure and "Secure" in secure
    assert "session=" in plain and "Secure" not in plain
