"""The routing console in a real browser: availability toggle, a chat handed to the agent with a
notification, a transfer asked and accepted through the cards, and the contact's journey."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import socketio as sio

from models.db import Database
from tests.support.actors import PASSWORD
from tests.support.browser import (
    _wait,
    add_users,
    live_server,
    log_in,
    needs_browser,
)
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    tmp = tmp_path_factory.mktemp("routing-browser")
    srv = live_server(tmp, "routing-browser")
    add_users(srv, {"email": "ada@example.com", "name": "Ada"},
              {"email": "sam@example.com", "name": "Sam", "role": "supervisor"})
    yield srv, srv.db_url
    srv.stop()


def _login(driver: Any, base: str, email: str) -> None:
    log_in(driver, base, email, PASSWORD, ready="[data-testid=availability]")


def _set_availability(driver: Any, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.CSS_SELECTOR, "[data-testid=availability]")).select_by_value(value)
    _wait(driver, lambda: driver.find_element(By.CSS_SELECTOR, "[data-testid=availability]")
          .get_attribute("data-value") == value)


def _notice(driver: Any, kind: str) -> Any:
    from selenium.webdriver.common.by import By

    return _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, f"[data-testid=notice][data-kind={kind}]"))[0]


def test_the_widget_shows_the_place_in_the_queue(server: tuple[LiveServer, str],
                                                 browsers: Callable[[], Any]) -> None:
    from sqlalchemy import select

    from models.accounts.tokens import do_issue_token
    from models.schema.conversations import Conversation
    from tests.support.browser import WIDGET, _widget_say

    srv, url = server
    first, second = browsers(), browsers()
    for customer in (first, second):  # nobody is online yet: both wait
        customer.get(srv.url + "/widget/demo")
        _wait(customer, lambda c=customer: c.execute_script(WIDGET))
        customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
        _widget_say(customer, "I want to talk to a person")

    def banner(driver: Any) -> str:
        return str(driver.execute_script(
            "const q = window.ParleyWidget.root.querySelector('[data-testid=parley-queue]');"
            "return q && !q.hidden ? q.textContent : '';"))

    _wait(first, lambda: banner(first) == "You're next in line for a person.")
    _wait(second, lambda: banner(second) == "You're number 2 in line for a person.")
    db = Database(url)
    try:
        with db.transaction() as s:
            token = do_issue_token(s, "sam@example.com")
            open_ids = list(s.scalars(select(Conversation.public_id).where(Conversation.status == "open")))
    finally:
        db.dispose()
    for public_id in open_ids:  # out of the way of the next test; the customers are told
        r = requests.post(f"{srv.url}/api/v1/conversations/{public_id}/close",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200
    _wait(first, lambda: banner(first) == "")


def test_the_widget_says_when_a_closed_team_opens(server: tuple[LiveServer, str],
                                                  browsers: Callable[[], Any]) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from models.accounts.tokens import do_issue_token
    from models.schema.accounts import Team
    from models.schema.conversations import Conversation
    from tests.support.browser import WIDGET, _widget_say

    srv, url = server
    db = Database(url)
    try:
        with db.transaction() as s:
            token = do_issue_token(s, "sam@example.com")
            team = s.scalar(select(Team.id).where(Team.name == "Support"))
    finally:
        db.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(datetime.now(UTC).weekday() + 3) % 7]
    hours = {"timezone": "UTC", "intervals": [{"day": day, "start": "09:00", "end": "10:00"}]}
    r = requests.put(f"{srv.url}/api/v1/teams/{team}/hours", json=hours, headers=auth, timeout=10)
    assert r.status_code == 200, r.text
    opens = r.json()["next_opening_text"]
    try:
        customer = browsers()
        customer.get(srv.url + "/widget/demo")
        _wait(customer, lambda: customer.execute_script(WIDGET))
        customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
        _widget_say(customer, "I want to talk to a person")
        _wait(customer, lambda: customer.execute_script(
            "const q = window.ParleyWidget.root.querySelector('[data-testid=parley-queue]');"
            "return q && !q.hidden ? q.textContent : '';")
            == f"You're next in line for a person · we open again {opens}.")
    finally:
        r = requests.delete(f"{srv.url}/api/v1/teams/{team}/hours", headers=auth, timeout=10)
        assert r.status_code in (200, 204)
        db = Database(url)
        try:
            with db.session() as s:
                open_ids = list(s.scalars(select(Conversation.public_id).where(Conversation.status == "open")))
        finally:
            db.dispose()
        for public_id in open_ids:
            requests.post(f"{srv.url}/api/v1/conversations/{public_id}/close", headers=auth, timeout=10)


def test_routing_in_the_console(server: tuple[LiveServer, str], browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    srv, _url = server
    ada, sam = browsers(), browsers()
    _login(ada, srv.url, "ada@example.com")
    _login(sam, srv.url, "sam@example.com")
    assert ada.find_element(By.CSS_SELECTOR, "[data-testid=availability]").get_attribute("value") == "offline"
    _set_availability(ada, "online")
    _set_availability(sam, "away")  # can be asked to take a chat, gets none from the queue

    customer = sio.Client()
    customer.connect(srv.url, namespaces=["/webchat"], transports=["websocket"])
    try:
        acks: list[Any] = []
        customer.emit("message", {"text": "I want to talk to a person"}, namespace="/webchat",
                      callback=lambda a: acks.append(a))
        deadline = time.monotonic() + 10
        while not acks and time.monotonic() < deadline:
            time.sleep(0.05)
        conv_id = acks[0]["conversation_id"]

        # handed to ada (the only one online), with a notification card that opens it
        card = _notice(ada, "assigned")
        assert "New chat for you" in card.text
        card.find_element(By.CSS_SELECTOR, "[data-testid=notice-open]").click()
        _wait(ada, lambda: ada.find_elements(By.CSS_SELECTOR, "[data-testid=routing-panel]"))
        _wait(ada, lambda: ada.find_elements(By.CSS_SELECTOR, "[data-testid=journey-item][data-state=Assigned]"))

        # she asks Sam to take over; Sam accepts from his card; she is told
        sam_id = _wait(ada, lambda: ada.execute_script(
            "const o = [...document.querySelectorAll('[data-testid=transfer-user] option')]"
            ".find(o => o.textContent.startsWith('Sam')); return o && o.value;"))
        Select(ada.find_element(By.CSS_SELECTOR, "[data-testid=transfer-user]")).select_by_value(sam_id)
        ada.find_element(By.CSS_SELECTOR, "[data-testid=transfer-go]").click()
        request = _notice(sam, "transfer")
        assert "Ada asks you to take a chat" in request.text
        assert request.find_element(By.CSS_SELECTOR, "[data-testid=notice-timer]").text.endswith(" s")
        request.find_element(By.CSS_SELECTOR, "[data-testid=transfer-accept]").click()
        told = _notice(ada, "transfer-accepted")
        assert "Sam accepted" in told.text
        _wait(sam, lambda: sam.current_url.endswith("#c/" + conv_id))
        steps = _wait(sam, lambda: [s.text for s in sam.find_elements(By.CSS_SELECTOR, "[data-testid=journey-step]")
                                    if "Transfer accepted" in s.text])
        assert steps
    finally:
        customer.disconnect()
