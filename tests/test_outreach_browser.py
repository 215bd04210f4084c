"""Issue 14 in real browsers: an agent starts an email invite from the console's New chat dialog, the
customer opens the emailed link in a second browser and chats, the agent sees the reply and the
customer's status move from never joined to online."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import _wait, live_server, log_in, needs_browser, screenshot
from tests.support.live import LiveServer
from tests.support.mail import SmtpServer, body_text
from tests.support.outreach import link_path

pytestmark = needs_browser


@pytest.fixture
def server(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, "outreach-browser", {"PARLEY_SMTP_URL": smtp_server.url})
    yield srv
    srv.stop()


SLOW = 20  # seconds: two browsers and a server share a busy machine


def _w(driver: Any, pred: Callable[[], Any], timeout: float = SLOW) -> Any:
    return _wait(driver, pred, timeout)


def _status(agent: Any) -> Any:
    """The customer-status chip, found afresh (the header is re-rendered on every change)."""
    from selenium.webdriver.common.by import By

    return agent.find_element(By.CSS_SELECTOR, "[data-testid=customer-status]")


def _texts(driver: Any, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, css)]


def test_email_invite_from_the_console_to_a_chat(server: LiveServer, smtp_server: SmtpServer,
                                                 browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    assert server.admin is not None
    agent, customer = browsers(), browsers()
    log_in(agent, server.url, *server.admin, ready="[data-testid=new-chat]", timeout=SLOW)

    # New chat: a new contact, an email invite, a first message
    agent.find_element(By.CSS_SELECTOR, "[data-testid=new-chat]").click()
    dialog = _w(agent, lambda: agent.find_element(By.CSS_SELECTOR, "[data-testid=new-chat-dialog]"))
    dialog.find_element(By.CSS_SELECTOR, "[data-testid=nc-name]").send_keys("Kim <b>Lee</b>")
    dialog.find_element(By.CSS_SELECTOR, "[data-testid=nc-email]").send_keys("kim@example.com")
    Select(dialog.find_element(By.CSS_SELECTOR, "[data-testid=nc-channel]")).select_by_value("email")
    dialog.find_element(By.CSS_SELECTOR, "[data-testid=nc-text]").send_keys("Hi Kim, your quote is ready.")
    screenshot(agent, "outreach-new-chat-dialog")
    dialog.find_element(By.CSS_SELECTOR, "[data-testid=nc-send]").click()

    # the conversation opens, assigned to the agent, the customer has never joined
    _w(agent, lambda: _status(agent).get_attribute("data-state") == "never_joined")
    assert "Never joined" in _status(agent).text
    _w(agent, lambda: "Kim <b>Lee</b>" in agent.find_element(By.ID, "conv-name").text)  # escaped
    assert _w(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=never-joined]"))

    # the email arrives; the customer opens the link in another browser and sees the first message
    mail = smtp_server.wait_for(1, timeout=30)[-1]
    assert "Kim <b>Lee</b>" in body_text(mail) and "Support" in body_text(mail)
    customer.get(server.url + link_path(body_text(mail)))
    _w(customer, lambda: "Hi Kim, your quote is ready." in _texts(customer, "[data-testid=hosted-message]"))
    _w(agent, lambda: _status(agent).get_attribute("data-state") == "online")

    # the customer writes; the agent sees it live and answers; the customer sees the answer live
    box = customer.find_element(By.CSS_SELECTOR, "[data-testid=hosted-input]")
    box.send_keys("Thanks! Can we talk <i>today</i>?")
    customer.find_element(By.CSS_SELECTOR, "[data-testid=hosted-send]").click()
    _w(agent, lambda: any("Can we talk <i>today</i>?" in t
                             for t in _texts(agent, "[data-testid=message][data-sender=contact]")))
    reply = agent.find_element(By.CSS_SELECTOR, "[data-testid=reply-input]")
    reply.send_keys("Sure, I'm here now.")
    agent.find_element(By.CSS_SELECTOR, "[data-testid=reply-send]").click()
    _w(customer, lambda: "Sure, I'm here now." in _texts(customer,
                                                            "[data-testid=hosted-message][data-sender=agent]"))

    # the customer leaves: offline, "left … ago"
    customer.get("about:blank")
    _w(agent, lambda: _status(agent).get_attribute("data-state") == "offline", timeout=45)
    assert "left" in agent.find_element(By.CSS_SELECTOR, "[data-testid=customer-status]").text
    customer.back()  # and comes back: the same conversation, online again
    _w(customer, lambda: "Sure, I'm here now." in _texts(customer, "[data-testid=hosted-message]"))
    _w(agent, lambda: _status(agent).get_attribute("data-state") == "online")
