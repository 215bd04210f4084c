"""The acceptance story in a real browser: a customer on the demo shop's widget, an agent in the console,
both against a real `parley run` on a fresh instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.browser import (
    WIDGET,
    _wait,
    _widget_messages,
    _widget_say,
    live_server,
    log_in,
    needs_browser,
)
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("browser")
    srv = live_server(tmp, "browser")
    yield srv
    srv.stop()


def _tile(driver: Any, name: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, f"[data-testid=tile-{name}]").text.strip())


def test_customer_bot_handoff_agent_reply(server: LiveServer, browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By

    assert server.admin is not None, "the first start prints the demo admin's credentials"
    customer, agent = browsers(), browsers()

    # the agent logs in
    log_in(agent, server.url, *server.admin, ready="[data-testid=tile-unreplied]")
    _wait(agent, lambda: _tile(agent, "unreplied") == "0")  # a placeholder until the counters load

    # the customer says hi on the demo shop and the bot greets them
    customer.get(server.url + "/widget/demo")
    _wait(customer, lambda: customer.execute_script(WIDGET))
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(customer, "hi")
    _wait(customer, lambda: _widget_messages(customer, "bot"))
    assert any(w in _widget_messages(customer, "bot")[0].lower() for w in ("hi", "hello", "hey", "welcome"))

    # asking for a person puts it in the Team inbox, live, unreplied, with the handoff packet
    _widget_say(customer, "I want to talk to a person")
    item = _wait(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=conv-item]"), timeout=3)[0]
    _wait(agent, lambda: _tile(agent, "unreplied") == "2")
    item.click()
    packet = _wait(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=handoff-packet]"))[0]
    assert "human_handoff" in packet.text and "asked for a person" in packet.text.lower()

    # the agent takes it and answers; the customer sees it live; the counters drop to 0
    agent.find_element(By.CSS_SELECTOR, "[data-testid=assign-me]").click()
    _wait(agent, lambda: _tile(agent, "assigned_to_me") == "1")
    box = agent.find_element(By.CSS_SELECTOR, "[data-testid=reply-input]")
    box.send_keys("Hi, I'm the admin. <b>How</b> can I help?")
    agent.find_element(By.CSS_SELECTOR, "[data-testid=reply-send]").click()
    _wait(customer, lambda: _widget_messages(customer, "agent"))
    [shown] = _widget_messages(customer, "agent")
    assert "Hi, I'm the admin. <b>How</b> can I help?" in shown  # escaped: the tags show as text
    _wait(agent, lambda: _tile(agent, "unreplied") == "0" and _tile(agent, "my_unreplied") == "0")
    assert agent.title in ("Parley", "(0) Parley")

    # a reload of the shop page resumes the conversation with its history
    customer.refresh()
    _wait(customer, lambda: len(_widget_messages(customer, "agent")) == 1 and _widget_messages(customer, "contact"))
    assert any("I want to talk to a person" in m for m in _widget_messages(customer, "contact"))
