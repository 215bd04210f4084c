"""An internal discussion in a real browser against a real `parley run`: the admin opens a handed-off chat,
starts its discussion with Bob and @mentions him; Bob gets a card and a Mentions badge, opens the
discussion and reads the entry as text; once the admin closes the conversation the discussion is view-only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from models.db import Database
from tests.support.actors import PASSWORD, make_user
from tests.support.browser import (
    WIDGET,
    _wait,
    _widget_say,
    click,
    found,
    live_server,
    log_in,
    needs_browser,
)
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = live_server(tmp_path_factory.mktemp("browser-discussions"), "browser-discussions", {"PARLEY_PUBLIC_URL": ""})
    yield srv
    srv.stop()


def _text(driver: Any, css: str) -> str:
    """The text of the first element matching `css` ("" while there is none: the panel re-renders)."""
    there = found(driver, css)
    return str(there[0].text) if there else ""


def test_a_discussion_with_a_mention_turns_view_only_at_close(server: LiveServer,
                                                             browsers: Callable[[], Any]) -> None:
    assert server.admin is not None
    db = Database(server.db_url)
    try:
        make_user(db, "bob@example.com")
    finally:
        db.dispose()
    admin, bob, customer = browsers(), browsers(), browsers()
    log_in(admin, server.url, *server.admin)
    log_in(bob, server.url, "bob@example.com", PASSWORD)
    assert found(bob, "[data-testid=mentions-badge]")[0].is_displayed() is False  # nobody mentioned him yet

    customer.get(server.url + "/widget/demo")
    _wait(customer, lambda: customer.execute_script(WIDGET))
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(customer, "I want to talk to a person")

    click(admin, "[data-testid=conv-item]")
    click(admin, "[data-testid=discussion-toggle]")
    boxes = _wait(admin, lambda: found(admin, "[data-testid=discussion-candidate]"))
    labels = [b.find_element("xpath", "..").text for b in boxes]
    bob_box = boxes[next(i for i, t in enumerate(labels) if "@bob" in t)]
    bob_box.click()
    click(admin, "[data-testid=discussion-invite]")
    _wait(admin, lambda: "Bob" in _text(admin, "[data-testid=discussion-members]"))
    box = _wait(admin, lambda: found(admin, "[data-testid=discussion-input]"))[0]
    box.send_keys("@bob can you check <b>this</b> order?")
    click(admin, "[data-testid=discussion-send]")
    _wait(admin, lambda: any("<b>this</b>" in e.text for e in found(admin, "[data-testid=discussion-entry]")))

    # Bob: a card, and the Mentions badge; the list opens the conversation's discussion
    card = _wait(bob, lambda: [n for n in found(bob, "[data-testid=notice]")
                               if n.get_attribute("data-kind") == "mention"])[0]
    assert "mentioned you in a discussion" in card.text and "<b>this</b>" in card.text
    _wait(bob, lambda: _text(bob, "[data-testid=mentions-badge]") == "1")
    click(bob, "[data-testid=mentions-toggle]")
    click(bob, "[data-testid=mention-item]")  # found afresh: the list may redraw meanwhile
    entries = _wait(bob, lambda: [e for e in found(bob, "[data-testid=discussion-entry]") if "<b>this</b>" in e.text])
    assert not entries[0].find_elements("css selector", "b.discussion-text b")  # shown as text, never as markup
    _wait(bob, lambda: not found(bob, "[data-testid=mentions-badge]")[0].is_displayed())  # read
    assert found(bob, "[data-testid=discussion-input]")

    # the admin closes the conversation: the discussion becomes view-only for both
    click(admin, "[data-testid=close]")
    _wait(admin, lambda: found(admin, "[data-testid=discussion-view-only]"))
    assert not found(admin, "[data-testid=discussion-input]")
    _wait(bob, lambda: found(bob, "[data-testid=discussion-view-only]"))
    assert not found(bob, "[data-testid=discussion-input]")
    assert any("view-only" in e.text for e in found(bob, "[data-testid=discussion-entry]"))


def test_a_supervisor_reading_a_discussion_sees_new_entries_live(server: LiveServer,
                                                                  browsers: Callable[[], Any]) -> None:
    """Sue supervises: no member, she reads the discussion, and what a member writes appears while she has it open."""
    import time

    import requests
    import socketio as sio

    from models.accounts.tokens import do_issue_token

    assert server.admin is not None
    db = Database(server.db_url)
    try:
        make_user(db, "sue@example.com", role="supervisor")
        with db.transaction() as s:
            token = do_issue_token(s, server.admin[0])
    finally:
        db.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    customer = sio.Client()
    customer.connect(server.url, namespaces=["/webchat"], transports=["websocket"])
    try:
        acks: list[Any] = []
        customer.emit("message", {"text": "I want to talk to a person"}, namespace="/webchat",
                      callback=lambda a: acks.append(a))
        deadline = time.monotonic() + 20
        while not acks and time.monotonic() < deadline:
            time.sleep(0.05)
        conv_id = acks[0]["conversation_id"]
        base = f"{server.url}/api/v1/conversations/{conv_id}/discussion"
        assert requests.post(base, json={"user_ids": []}, headers=auth, timeout=10).status_code == 200
        assert requests.post(base + "/entries", json={"text": "first, before Sue looks"}, headers=auth,
                             timeout=10).status_code == 201

        sue = browsers()
        log_in(sue, server.url, "sue@example.com", PASSWORD, socket=True)
        sue.get(f"{server.url}/#c/{conv_id}")
        click(sue, "[data-testid=discussion-toggle]")
        _wait(sue, lambda: "first, before Sue looks" in _text(sue, "[data-testid=discussion-entries]"))
        assert not found(sue, "[data-testid=discussion-input]")  # she reads; she writes only once invited

        assert requests.post(base + "/entries", json={"text": "a refund was <b>promised</b>"}, headers=auth,
                             timeout=10).status_code == 201
        _wait(sue, lambda: "a refund was <b>promised</b>" in _text(sue, "[data-testid=discussion-entries]"))
        assert not found(sue, "[data-testid=discussion-entries] .discussion-text b")  # as text
    finally:
        customer.disconnect()
