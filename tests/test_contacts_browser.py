"""In a real browser: an agent blocks a customer from the conversation's menu, ends the conversation as
asked, and the customer's next webchat message starts nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio as sio

from models.db import Database
from tests.support.actors import PASSWORD
from tests.support.browser import (
    _wait,
    add_users,
    click,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    srv = live_server(tmp_path_factory.mktemp("contacts-browser"), "contacts-browser")
    add_users(srv, {"email": "ada@example.com", "name": "Ada"}, {"email": "bob@example.com", "name": "Bob"},
              {"email": "sam@example.com", "name": "Sam", "role": "supervisor"})
    yield srv, srv.db_url
    srv.stop()


def _say(customer: sio.Client, text: str) -> dict[str, Any]:
    acks: list[Any] = []
    customer.emit("message", {"text": text}, namespace="/webchat", callback=lambda a: acks.append(a))
    deadline = time.monotonic() + 10
    while not acks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert acks, "no acknowledgement"
    return dict(acks[0])


def _conversations(url: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from models.schema.conversations import Conversation

    db = Database(url)
    try:
        with db.session() as s:
            return [(c.public_id, c.status) for c in s.scalars(select(Conversation).order_by(Conversation.id))]
    finally:
        db.dispose()


def test_an_agent_blocks_a_customer_from_the_conversation_menu(server: tuple[LiveServer, str],
                                                               browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By

    srv, url = server
    ada = browsers()
    log_in(ada, srv.url, "ada@example.com", PASSWORD)

    customer = sio.Client()
    customer.connect(srv.url, namespaces=["/webchat"], transports=["websocket"])
    try:
        conv_id = _say(customer, "I want to talk to a person")["conversation_id"]
        ada.get(srv.url + "/#c/" + conv_id)
        _wait(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=conv-name]").text.strip()
              not in ("", "Loading…"))

        ada.find_element(By.CSS_SELECTOR, "[data-testid=conv-menu]").click()
        _wait(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=menu-block]").is_displayed())
        assert not ada.find_elements(By.CSS_SELECTOR, "[data-testid=menu-delete]")  # admins only
        ada.find_element(By.CSS_SELECTOR, "[data-testid=menu-block]").click()
        ada.find_element(By.CSS_SELECTOR, "[data-testid=block-reason]").send_keys("Abusive <b>language</b>")
        ada.find_element(By.CSS_SELECTOR, "[data-testid=menu-submit]").click()

        # asked to end the open conversation, she does
        _wait(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=block-end-prompt]").is_displayed())
        screenshot(ada, "contacts-block-prompt")
        # the header says so (pushed to every console showing it)
        _wait(ada, lambda: ada.find_elements(By.CSS_SELECTOR, "[data-testid=chip-blocked]"))
        ada.find_element(By.CSS_SELECTOR, "[data-testid=block-end]").click()
        _wait(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=chip-status]").text.lower() == "closed")
        assert _conversations(url) == [(conv_id, "closed")]

        # the customer's next message starts nothing
        ack = _say(customer, "hello? anybody?")
        assert ack["ok"] is False and ack["error"]["code"] == "blocked"
        time.sleep(0.5)
        assert _conversations(url) == [(conv_id, "closed")]
        assert not ada.find_elements(By.CSS_SELECTOR, f"[data-testid=conv-item]:not([data-id='{conv_id}'])")

        # the contacts page shows the block and its reason, escaped
        ada.get(srv.url + "/contacts")
        row = _wait(ada, lambda: ada.find_elements(By.CSS_SELECTOR, "[data-testid=contact-row]"))[0]
        assert "Blocked" in row.text
        click(ada, "[data-testid=contact-row]")
        box = _wait(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=contact-blocked]"))
        assert "Abusive <b>language</b>" in box.text and "by Ada" in box.text
        screenshot(ada, "contacts-page-blocked")
    finally:
        customer.disconnect()


def test_a_supervisor_restricts_from_the_menu_and_the_picker_offers_only_the_named(
        server: tuple[LiveServer, str], browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By

    srv, _url = server
    sam = browsers()
    log_in(sam, srv.url, "sam@example.com", PASSWORD)
    customer = sio.Client()
    customer.connect(srv.url, namespaces=["/webchat"], transports=["websocket"])
    try:
        conv_id = _say(customer, "I want to talk to a person")["conversation_id"]
        sam.get(srv.url + "/#c/" + conv_id)
        _wait(sam, lambda: sam.find_element(By.CSS_SELECTOR, "[data-testid=conv-name]").text.strip()
              not in ("", "Loading…"))

        def picker_names() -> list[str]:
            sam.find_element(By.CSS_SELECTOR, "[data-testid=assign-picker]").click()
            _wait(sam, lambda: sam.find_elements(By.CSS_SELECTOR, "[data-testid=assign-option]"))
            names = sorted(str(n).replace(" (you)", "") for n in sam.execute_script(
                "return [...document.querySelectorAll('[data-testid=assign-option]')]"
                ".map(o => o.closest('label').querySelector('.pk-text > span').firstChild.textContent)"))
            sam.find_element(By.ID, "picker-cancel").click()
            return names

        before = picker_names()
        assert {"Ada", "Bob", "Sam"} <= set(before) and len(before) > 3  # everybody, the demo admin too
        sam.find_element(By.CSS_SELECTOR, "[data-testid=conv-menu]").click()
        sam.find_element(By.CSS_SELECTOR, "[data-testid=menu-restrict]").click()
        boxes = _wait(sam, lambda: sam.find_elements(By.CSS_SELECTOR, "[data-testid=restrict-option]"))
        for box in boxes:
            label = box.find_element(By.XPATH, "./..").text
            if label.startswith(("Ada", "Sam")):
                box.click()
        sam.find_element(By.CSS_SELECTOR, "[data-testid=menu-submit]").click()
        _wait(sam, lambda: not sam.find_element(By.CSS_SELECTOR, "[data-testid=conv-menu-panel]").is_displayed())
        _wait(sam, lambda: sam.execute_script("return !!window.ParleyConsole.assignableIds"))
        assert picker_names() == ["Ada", "Sam"]
        _wait(sam, lambda: sam.find_elements(By.CSS_SELECTOR, "[data-testid=chip-restricted]"))
        screenshot(sam, "contacts-restricted")
    finally:
        customer.disconnect()


def test_an_admin_page_whose_session_ended_says_so_and_goes_to_the_sign_in_page(
        server: tuple[LiveServer, str], browsers: Callable[[], Any]) -> None:
    """The admin pages' shared API client (admin_common.js): a call answered 401 shows why, then signs in again."""
    from selenium.webdriver.common.by import By
    from sqlalchemy import select

    from models.accounts.sessions import do_revoke_sessions
    from models.schema.accounts import User

    srv, url = server
    bob = browsers()
    log_in(bob, srv.url, "bob@example.com", PASSWORD)
    bob.get(srv.url + "/contacts")
    _wait(bob, lambda: bob.find_elements(By.CSS_SELECTOR, "[data-testid=contact-list] li"))
    db = Database(url)
    try:
        with db.transaction() as s:
            user = s.scalar(select(User).where(User.email == "bob@example.com"))
            assert user is not None
            do_revoke_sessions(s, user)  # signed out everywhere (an admin's change, a password reset)
    finally:
        db.dispose()
    click(bob, "[data-testid=contacts-all]")  # the list reloads: its call is refused
    _wait(bob, lambda: any("Your session has ended" in t.text for t in bob.find_elements(By.CSS_SELECTOR, ".toast")))
    _wait(bob, lambda: bob.find_elements(By.CSS_SELECTOR, "[data-testid=login-email]"))
    assert "/login" in bob.current_url
