"""Invoices in a real `parley run` and a real browser: an agent sends an invoice from the conversation's
details pane (the price typed as 12.50, sent as 1250), sees it unpaid, and sees it turn paid live when
Stripe's signed webhook arrives; an amount with too many decimals is refused in the form."""

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
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.fakes.stripe import FakeStripe, signed
from tests.support.live import LiveServer

pytestmark = needs_browser
KEY = "sk_test_browser"
WHSEC = "whsec_browser"
SEND = "[data-testid=invoice-send]"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, FakeStripe]]:
    tmp = tmp_path_factory.mktemp("invoices-browser")
    with FakeStripe(KEY) as fake:
        srv = live_server(tmp, "invoices-browser", {"PARLEY_STRIPE_API_BASE": fake.url,
                                                    "PARLEY_STRIPE_SECRET_KEY": KEY,
                                                    "PARLEY_STRIPE_WEBHOOK_SECRET": WHSEC})
        add_users(srv, {"email": "root@example.com", "name": "Root", "role": "admin"})
        yield srv, fake  # type: ignore[misc]
        srv.stop()


def test_an_agent_sends_an_invoice_and_sees_it_paid(server: tuple[LiveServer, FakeStripe]) -> None:
    from selenium.webdriver.common.by import By

    srv, fake = server
    customer = sio.Client()
    texts: list[str] = []
    customer.on("message", lambda m: texts.append(m.get("text", "")), namespace="/webchat")
    customer.connect(srv.url, namespaces=["/webchat"], transports=["websocket"])
    driver: Any = _browser()
    try:
        acks: list[Any] = []
        customer.emit("message", {"text": "I want to talk to a person"}, namespace="/webchat",
                      callback=lambda a: acks.append(a))
        deadline = time.monotonic() + 20
        while not acks and time.monotonic() < deadline:
            time.sleep(0.1)
        conv_id = acks[0]["conversation_id"]

        log_in(driver, srv.url, "root@example.com", PASSWORD, ready="[data-testid=admin-integrations-link]")
        driver.get(f"{srv.url}/#c/{conv_id}")
        new = _wait(driver, lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, "[data-testid=invoice-new]")
                                     if b.is_displayed()])  # once the conversation's details are shown
        driver.execute_script("arguments[0].click()", new[0])

        def field(name: str) -> Any:
            return driver.find_element(By.CSS_SELECTOR, f"[data-testid=invoice-form] [name={name}]")

        field("description").send_keys("Spare battery")
        field("quantity").clear()
        field("quantity").send_keys("2")
        field("unit_price").send_keys("12.555")
        driver.execute_script("arguments[0].click()", driver.find_element(By.CSS_SELECTOR, SEND))
        error = _wait(driver, lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid=invoice-error]")
                                       if e.text])
        assert "12.50" in error[0].text and fake.creates() == []
        field("unit_price").clear()
        field("unit_price").send_keys("12.50")
        driver.execute_script("arguments[0].click()", driver.find_element(By.CSS_SELECTOR, SEND))
        status = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=invoice-status]"))
        assert status[0].text == "unpaid"
        row = driver.find_element(By.CSS_SELECTOR, "[data-testid=invoice-list] li")
        assert "EUR 25.00" in row.text
        marked = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, ".conv-item[data-unpaid-invoice]"))
        assert marked[0].get_attribute("data-id") == conv_id  # the list says a payment is awaited
        create = fake.creates()[-1]
        assert create.first("line_items[0][price_data][unit_amount]") == "1250"
        assert create.first("line_items[0][quantity]") == "2"
        deadline = time.monotonic() + 10
        while not any("Pay here:" in t for t in texts) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("Total: EUR 25.00" in t for t in texts)  # the customer has the link in the chat

        session_id = next(iter(fake.sessions))
        raw, headers = signed(fake.pay(session_id), WHSEC)
        assert requests.post(f"{srv.url}/webhooks/stripe", data=raw, headers=headers, timeout=10).status_code == 200
        _wait(driver, lambda: [s for s in driver.find_elements(By.CSS_SELECTOR, "[data-testid=invoice-status]")
                               if s.text == "paid"])
        _wait(driver, lambda: not driver.find_elements(By.CSS_SELECTOR, ".conv-item[data-unpaid-invoice]"))
        screenshot(driver, "invoices-paid")
    finally:
        driver.quit()
        customer.disconnect()
