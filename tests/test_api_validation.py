"""Whatever a client sends, the answer is a 4xx with `{"error": {"code", "message"}}`, never a 500: the
cases a schemathesis run found (issue #12, item 8), checked one by one, and the shared body helper's
mapping of pydantic's errors to today's statuses and codes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from models.db import Database
from tests.support.actors import make_user

HUGE = 2**70


@pytest.fixture
def admin(app: Flask, db: Database) -> dict[str, str]:
    from models.accounts.users import do_issue_token

    make_user(db, "root@example.com", role="admin", team="Support")
    with db.transaction() as s:
        return {"Authorization": f"Bearer {do_issue_token(s, 'root@example.com')}"}


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/me/availability", {"status": {"a": 1}}, 400),
    ("POST", "/canned_replies", {"short_code": {"a": 1}, "body": "x"}, 400),
    ("POST", "/canned_replies", {"short_code": "hi", "body": "x", "team_id": HUGE}, 400),
    ("GET", "/canned_replies?team_id=" + str(HUGE), None, 400),
    ("GET", f"/bot/runs/{HUGE}", None, 404),
    ("POST", f"/messages/{HUGE}/retry", None, 404),
    ("PATCH", f"/teams/{HUGE}/routing", {"policy": "manual"}, 404),
    ("DELETE", f"/canned_replies/{HUGE}", None, 404),  # not 405: another method has a rule on this path
    ("PATCH", "/teams/1/routing", {"offer_timeout_seconds": HUGE}, 400),
    ("POST", "/conversations/c_x/assign", {"user_ids": [HUGE]}, 400),
    ("POST", "/conversations/c_x/assign", {"user_ids": "everyone"}, 400),
    ("PUT", "/contacts/1/presets", {"visible_user_ids": [{"id": 1}]}, 400),
    ("POST", "/bot/handoffs/dismiss", {"message_ids": [HUGE]}, 400),
    ("GET", "/bot/handoffs?days=" + str(HUGE), None, 400),
    ("POST", "/contacts/1/merge", {"contact_id": True}, 400),
    ("POST", "/admin/llm/actions", {"name": ["x"]}, 400),
])
def test_no_input_gets_a_500(app: Flask, admin: dict[str, str], method: str, path: str, body: Any,
                             status: int) -> None:
    r = app.test_client().open("/api/v1" + path, method=method, json=body, headers=admin)
    assert r.status_code == status, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["code"] in ("invalid", "not_found", "bad_json") and error["message"]


def test_validation_errors_keep_the_error_shape(app: Flask, admin: dict[str, str]) -> None:
    client = app.test_client()
    r = client.post("/api/v1/canned_replies", json={"short_code": "hi", "body": "x", "scope": "team"}, headers=admin)
    assert r.status_code == 400 and r.get_json() == {"error": {"code": "invalid",
                                                               "message": "Unknown field(s): scope."}}
    r = client.post("/api/v1/me/availability", data="[1]", content_type="application/json", headers=admin)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_json"
    r = client.post("/api/v1/me/availability", json={}, headers=admin)
    assert r.status_code == 400 and r.get_json()["error"]["message"] == "status: Field required."


def test_docs_page_is_served_locally(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "https://" not in html and "<script>" not in html  # no CDN, no inline script (CSP: script-src 'self')
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in ("vendor/swagger-ui/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui.css", "api_docs.js"):
        assert asset in html and client.get(f"/static/{asset}").status_code == 200
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0" and "NewCannedReply" in spec["components"]["schemas"]
