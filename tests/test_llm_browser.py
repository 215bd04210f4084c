"""Agent assist and the knowledge-base page in a real browser, against a real `parley run` with no model
configured (retrieval-only drafts, the LLM stage off and saying so)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.browser import (
    WIDGET,
    _wait,
    _widget_messages,
    _widget_say,
    click,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = live_server(tmp_path_factory.mktemp("assist-browser"), "assist-browser",
                      {"PARLEY_BOT_ENGINES": "embedded,llm", "PARLEY_LLM_MODEL": ""})
    yield srv
    srv.stop()


def test_agent_drafts_edits_and_sends_and_the_admin_page_counts_it(server: LiveServer,
                                                                   browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By

    assert server.admin is not None
    assert "the LLM stage is off" in server.log()  # embedded,llm without a model: dropped with a warning
    customer, agent = browsers(), browsers()
    log_in(agent, server.url, *server.admin, ready="[data-testid=tile-unreplied]")

    customer.get(server.url + "/widget/demo")
    _wait(customer, lambda: customer.execute_script(WIDGET))
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(customer, "I want to talk to a person")
    _wait(customer, lambda: _widget_messages(customer, "bot"))
    _widget_say(customer, "how much is the delivery fee?")
    click(agent, "[data-testid=conv-item]", timeout=5)

    _wait(agent, lambda: "how much is the delivery fee?" in agent.find_element(By.ID, "messages").text)
    # the panel shows for a handed-over conversation (it re-renders as the header updates: click it fresh)
    _wait(agent, lambda: agent.execute_script(
        "const b = document.querySelector('#assist-panel:not([hidden]) [data-testid=assist-draft]');"
        "if (b) b.click(); return !!b;"))
    text = _wait(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=assist-text]"))[0]
    label = agent.find_element(By.CSS_SELECTOR, "[data-testid=assist-label]").text
    assert "no AI model is configured" in label
    assert "$4.95" in text.get_attribute("value")
    assert agent.find_elements(By.CSS_SELECTOR, "[data-testid=assist-sources] li")
    screenshot(agent, "assist-draft")
    text.send_keys(" Anything else I can do?")
    agent.find_element(By.CSS_SELECTOR, "[data-testid=assist-send]").click()
    _wait(customer, lambda: _widget_messages(customer, "agent"))
    assert "Anything else I can do?" in _widget_messages(customer, "agent")[0]

    agent.get(server.url + "/admin/knowledge")
    status = agent.find_element(By.CSS_SELECTOR, "[data-testid=llm-status]")
    assert status.get_attribute("data-llm-on") == "false" and "The LLM stage is off" in status.text
    drafts = agent.find_element(By.CSS_SELECTOR, "[data-testid=kb-drafts]").text
    assert "shipping_costs" in drafts
    assert "Juniper Goods FAQ" in agent.find_element(By.CSS_SELECTOR, "[data-testid=kb-documents]").text
