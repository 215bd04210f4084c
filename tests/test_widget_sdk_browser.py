"""The widget SDK in real browsers against a real `parley run`: a site signs its user in with
`Parley.setUser` on one browser and chats; on a second browser (its own profile, so its own visitor) a
wrong hash is refused and shows nothing, the right one resumes the conversation with its history;
`setLocale("de")` turns the widget German; `reset()` on logout starts an anonymous visitor; the agent
sees the page the chat started on and the site's attributes, as text, in the About panel."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from models.db import Database
from models.inboxes.manage import do_create_inbox
from models.schema.accounts import Team
from tests.support.browser import (
    WIDGET,
    _wait,
    _widget_say,
    click,
    live_server,
    log_in,
    needs_browser,
)
from tests.support.live import LiveServer

pytestmark = needs_browser

ORDER = "Where is my order 1234?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("browser-widget-sdk")
    srv = live_server(tmp, "browser", {"PARLEY_PUBLIC_URL": ""})
    yield srv
    srv.stop()


def _widget(server: LiveServer) -> tuple[str, str]:
    """A webchat inbox made as the admin's Inboxes page makes it: its widget key and identity secret."""
    db = Database(server.db_url)
    try:
        with db.transaction() as s:
            team_id = s.scalar(select(Team.id).order_by(Team.id).limit(1))
            inbox = do_create_inbox(s, None, {"kind": "webchat", "name": "Shop", "team_id": team_id}, ("*",))
            assert inbox.widget_key and inbox.secret
            return inbox.widget_key, inbox.secret
    finally:
        db.dispose()


def _open_page(driver: Any, server: LiveServer, key: str) -> None:
    driver.get(server.url + "/widget/demo?key=" + key)
    _wait(driver, lambda: driver.execute_script(WIDGET))
    _wait(driver, lambda: driver.execute_script("return !!(window.Parley && window.Parley.ready)"))


def _call(driver: Any, js: str, *args: Any) -> Any:
    """Run one SDK call; its Promise settles as "ok" or the refusal's code."""
    driver.set_script_timeout(25)
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"Promise.resolve().then(() => {js}).then(() => done('ok'), e => done(e && e.code || String(e)));", *args)


def _widget_messages(driver: Any, sender: str) -> list[str]:
    """The bubbles' text (without the time under each) of one sender."""
    return list(driver.execute_script(
        "return Array.from(window.ParleyWidget.root.querySelectorAll("
        "'[data-testid=parley-message][data-sender=' + arguments[0] + '] .bubble')).map(e => e.textContent)",
        sender))


def _sign(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def _shadow_text(driver: Any, testid: str, attr: str | None = None) -> str:
    js = f"const e = window.ParleyWidget.root.querySelector('[data-testid={testid}]'); return e ? "
    js += f"e.getAttribute('{attr}')" if attr else "e.textContent"
    return str(driver.execute_script(js + " : null"))


def test_set_user_wrong_hash_refused_right_hash_resumes_on_a_second_browser(
        server: LiveServer, browsers: Callable[[], Any]) -> None:
    key, secret = _widget(server)
    first, second = browsers(), browsers()

    # Browser one: the site signs Ada in, tells her plan, and she asks about her order.
    _open_page(first, server, key)
    assert _call(first, "window.Parley.setUser(arguments[0], {name: 'Ada Lovelace'}, arguments[1])",
                 "user-42", _sign(secret, "user-42")) == "ok"
    assert _call(first, "window.Parley.setAttributes({plan: '<b>pro</b>', seats: 3})") == "ok"
    first.execute_script("window.__events = []; ['parley:message', 'parley:handoff'].forEach(n => "
                         "window.addEventListener(n, e => window.__events.push([n, e.detail])));")
    first.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(first, ORDER)
    _wait(first, lambda: _widget_messages(first, "bot"), timeout=20)
    events = first.execute_script("return window.__events")
    assert any(n == "parley:message" and d["sender_type"] == "bot" for n, d in events)
    _widget_say(first, "I want to talk to a person")
    handoff = _wait(first, lambda: [d for n, d in first.execute_script("return window.__events")
                                    if n == "parley:handoff"], timeout=20)
    assert handoff[0]["status"] in ("waiting", "assigned") and handoff[0]["conversation_id"]

    # Browser two: the wrong hash claims nothing and shows nothing of Ada's.
    _open_page(second, server, key)
    assert _call(second, "window.Parley.setUser(arguments[0], {}, arguments[1])",
                 "user-42", _sign(secret, "user-43")) == "identity_unverified"
    assert _call(second, "window.Parley.setUser('user-42')") == "identity_unverified"
    second.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    assert ORDER not in _widget_messages(second, "contact")

    # The right hash: Ada's conversation and its history are here.
    assert _call(second, "window.Parley.setUser(arguments[0], {}, arguments[1])",
                 "user-42", _sign(secret, "user-42")) == "ok"
    _wait(second, lambda: ORDER in _widget_messages(second, "contact"))
    assert _widget_messages(second, "bot")

    # setLocale("de"): the widget's own strings turn German (the catalogue served with the widget).
    assert _call(second, "window.Parley.setLocale('de')") == "ok"
    assert _shadow_text(second, "parley-input", "placeholder") == "Nachricht eingeben…"
    assert _shadow_text(second, "parley-send", "aria-label") == "Senden"
    assert _shadow_text(second, "parley-greeting").startswith("Hallo!")
    assert _shadow_text(second, "parley-title") == "Schreiben Sie uns"
    assert "Online" in _shadow_text(second, "parley-status") or "Verbinde" in _shadow_text(second, "parley-status")
    assert _call(second, "window.Parley.setLocale('xx')") == "unknown_locale"
    assert second.execute_script("return window.Parley.locale") == "de"

    # reset() on logout: this browser forgets Ada; after a reload it is an anonymous visitor again.
    token = "return localStorage.getItem('parley_visitor_token')"
    ada_token = second.execute_script(token)
    assert _call(second, "window.Parley.reset()") == "ok"
    assert not _widget_messages(second, "contact")
    _wait(second, lambda: second.execute_script(token) not in (None, ada_token))  # the open panel: a new visitor
    _open_page(second, server, key)
    second.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _wait(second, lambda: second.execute_script("return window.ParleyWidget.root.querySelector('.pw')"
                                                ".getAttribute('data-connection')") == "online")
    assert ORDER not in _widget_messages(second, "contact")


def test_the_agent_sees_the_page_and_attributes_in_the_about_panel(
        server: LiveServer, browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By

    key, secret = _widget(server)
    visitor, admin = browsers(), browsers()
    _open_page(visitor, server, key)
    assert _call(visitor, "window.Parley.setAttributes({plan: '<img src=x onerror=alert(1)>'})") == "ok"
    visitor.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(visitor, "Hello from the pricing page")
    _wait(visitor, lambda: _widget_messages(visitor, "bot"), timeout=20)

    assert server.admin is not None
    log_in(admin, server.url, *server.admin)
    click(admin, "[data-testid=view-bot]")  # bot-owned
    def open_visitors_chat() -> bool:  # (Ada's is named after her); the list may re-render meanwhile
        items = [i for i in admin.find_elements(By.CSS_SELECTOR, "[data-testid=conv-item]") if "Visitor" in i.text]
        if items:
            items[0].click()
        return bool(items)

    _wait(admin, open_visitors_chat, timeout=20)
    about = _wait(admin, lambda: [p for p in admin.find_elements(By.CSS_SELECTOR, "[data-testid=about-panel]")
                                  if p.is_displayed()], timeout=15)[0]
    page = _wait(admin, lambda: about.find_elements(By.CSS_SELECTOR, "[data-testid=about-page]"))[0]
    assert "/widget/demo?key=" + key in page.text
    attr = about.find_element(By.CSS_SELECTOR, "[data-testid=about-attr]")
    assert attr.text == "<img src=x onerror=alert(1)>"  # shown as text, never as markup
    assert not about.find_elements(By.CSS_SELECTOR, "img")

    # The admin's Inboxes page shows the widget's identity secret on request, and makes a new one.
    admin.get(server.url + "/inboxes")
    card = _wait(admin, lambda: [c for c in admin.find_elements(By.CSS_SELECTOR, "[data-testid=inbox]")
                                 if key in c.text], timeout=15)[0]
    identity = card.find_element(By.CSS_SELECTOR, "[data-testid=inbox-identity]")
    identity.find_element(By.CSS_SELECTOR, "summary").click()
    identity.find_element(By.CSS_SELECTOR, "[data-testid=inbox-identity-show]").click()
    shown = card.find_element(By.CSS_SELECTOR, "[data-testid=inbox-identity-secret]")
    _wait(admin, lambda: shown.get_attribute("value") == secret)
    assert secret not in admin.find_element(By.CSS_SELECTOR, "[data-testid=inbox-snippet]").get_attribute("value")
