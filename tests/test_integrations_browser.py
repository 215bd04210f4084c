"""Integrations in a real `parley run` and a real browser: its webhook worker delivers what happens to a
local receiver; an agent runs a conversation action from the details pane and sees the bound record as a
link, and a failing endpoint as a plain message; the admin page lists the delivery log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio as sio

from tests.support.actors import PASSWORD
from tests.support.browser import (
    _browser,
    _wait,
    add_users,
    bearer,
    click,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.fakes.hooks import FakeCrm, WebhookReceiver
from tests.support.live import LiveServer

pytestmark = needs_browser
MESSAGE = "[data-testid=action-message]"
DELIVERIES = "[data-testid=webhook-deliveries]"
ACTION = "[data-testid=conversation-action]"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = live_server(tmp_path_factory.mktemp("integrations-browser"), "integrations-browser",
                      {"PARLEY_OUTBOUND_ALLOW": "127.0.0.1", "PARLEY_WEBHOOK_POLL": "0.2",
                       "PARLEY_WEBHOOK_BACKOFF": "0.5"})
    add_users(srv, {"email": "root@example.com", "name": "Root", "role": "admin"})
    yield srv
    srv.stop()


def test_webhooks_and_actions_end_to_end(server: LiveServer) -> None:
    from selenium.webdriver.common.by import By

    srv = server
    auth = bearer(srv, "root@example.com")
    with WebhookReceiver() as receiver, FakeCrm() as crm:
        r = requests.post(f"{srv.url}/api/v1/webhook_subscriptions", headers=auth, timeout=10,
                          json={"url": receiver.url + "/in", "events": ["conversation.created",
                                                                        "conversation.handed_off"]})
        assert r.status_code == 201, r.text
        receiver.secret = r.json()["secret"]
        receiver.fail_next(502)  # the first attempt fails: the running worker retries it
        r = requests.post(f"{srv.url}/api/v1/conversation_actions", headers=auth, timeout=10,
                          json={"name": "create_ticket", "label": "Create ticket", "url": crm.url + "/t",
                                "contact_fields": ["name"], "timeout_seconds": 2})
        assert r.status_code == 201, r.text
        crm.secret = r.json()["secret"]
        customer = sio.Client()
        customer.connect(srv.url, namespaces=["/webchat"], transports=["websocket"])
        driver: Any = _browser()
        try:
            acks: list[Any] = []
            customer.emit("message", {"text": "I want to talk to a person"}, namespace="/webchat",
                          callback=lambda a: acks.append(a))
            deadline = time.monotonic() + 20
            while sorted(set(receiver.events())) != ["conversation.created", "conversation.handed_off"] \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sorted(set(receiver.events())) == ["conversation.created", "conversation.handed_off"]
            conv_id = acks[0]["conversation_id"]

            log_in(driver, srv.url, "root@example.com", PASSWORD, ready="[data-testid=admin-integrations-link]")
            driver.get(f"{srv.url}/#c/{conv_id}")
            # the button shows its label once the actions are loaded and it is visible (a hidden element's text is '')
            button = _wait(driver, lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, ACTION)
                                            if b.text == "Create ticket"])
            driver.execute_script("arguments[0].click()", button[0])
            link = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=conversation-records] a"))
            assert link[0].text == "Ticket #1" and link[0].get_attribute("href") == "https://crm.example.com/tickets/1"
            assert link[0].get_attribute("rel") == "noopener noreferrer"

            crm.fail_next(500)
            driver.execute_script("arguments[0].click()",
                                  driver.find_element(By.CSS_SELECTOR, ACTION))
            note = _wait(driver, lambda: [n for n in driver.find_elements(By.CSS_SELECTOR, MESSAGE)
                                          if "HTTP 500" in n.text])
            assert "Create ticket" in note[0].text
            screenshot(driver, "integrations-actions")

            driver.get(srv.url + "/admin/integrations")
            click(driver, DELIVERIES)
            rows = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=webhook-delivery]"))
            log = " ".join(r.text for r in rows)
            assert "HTTP 502" in log and "HTTP 200" in log and "delivered" in log
            assert receiver.secret not in driver.page_source
            screenshot(driver, "integrations-admin")
        finally:
            driver.quit()
            customer.disconnect()
