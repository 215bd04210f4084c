"""Issue 14 in real browsers: a customer comes back on the widget and sees their own earlier messages,
read-only and collapsed above; the agent sees "Earlier conversations (1)" above the new conversation and
expands it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import _wait, _widget_say, live_server, log_in, needs_browser, screenshot
from tests.support.live import LiveServer

pytestmark = needs_browser
FIRST = "my order <b>7</b> is late"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, "history-browser")
    yield srv
    srv.stop()


def _api(driver: Any, method: str, path: str) -> Any:
    """A console API call from the logged-in page (setup the test needs, not the feature under test)."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        fetch('/api/v1' + arguments[1], {method: arguments[0], credentials: 'same-origin',
              headers: {'X-CSRF-Token': csrf, 'Content-Type': 'application/json'},
              body: arguments[0] === 'GET' ? undefined : '{}'}).then(r => r.json()).then(done);""", method, path)


def _earlier(driver: Any) -> list[str]:
    return list(driver.execute_script(
        "return window.ParleyWidget && window.ParleyWidget.root ? Array.from(window.ParleyWidget.root"
        ".querySelectorAll('[data-testid=parley-earlier-message] .bubble')).map(e => e.textContent) : []"))


def test_a_returning_customer_and_their_agent_see_the_earlier_conversation(server: LiveServer,
                                                                          browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By

    assert server.admin is not None
    customer, admin = browsers(), browsers()
    customer.get(server.url + "/widget/demo")
    _wait(customer, lambda: customer.execute_script("return !!(window.ParleyWidget && window.ParleyWidget.root)"))
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(customer, FIRST)
    _wait(customer, lambda: customer.execute_script(
        "return window.ParleyWidget.root.querySelectorAll('[data-sender=bot]').length"), 20)

    log_in(admin, server.url, *server.admin)
    contact = _api(admin, "GET", "/contacts")["contacts"][0]
    first = _api(admin, "GET", f"/contacts/{contact['id']}")["conversations"][0]["id"]
    assert _api(admin, "POST", f"/conversations/{first}/close")["status"] == "closed"

    # the customer comes back: their earlier messages show above, collapsed, as they wrote them
    customer.get(server.url + "/widget/demo")
    _wait(customer, lambda: FIRST in _earlier(customer), 20)
    assert customer.execute_script(
        "return window.ParleyWidget.root.querySelector('[data-testid=parley-earlier] b')") is None  # not HTML
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(customer, "hello again")
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-earlier] summary').click()")
    screenshot(customer, "widget-earlier")

    second = _wait(admin, lambda: [c["id"] for c in _api(admin, "GET", f"/contacts/{contact['id']}")["conversations"]
                                   if c["id"] != first], 20)[0]
    admin.get(server.url + "/#c/" + second)
    toggle = _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "[data-testid=conv-history-toggle]"), 20)[0]
    assert toggle.text == "Earlier conversations (1)"
    toggle.click()
    admin.find_element(By.CSS_SELECTOR, "[data-testid=conv-history-item] button").click()
    _wait(admin, lambda: FIRST in [e.find_element(By.CSS_SELECTOR, ".ch-text").text for e in
                                   admin.find_elements(By.CSS_SELECTOR, "[data-testid=conv-history-message]")])
    screenshot(admin, "console-earlier")
