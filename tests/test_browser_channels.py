"""SMS in a real browser against a real `parley run`: the reply goes out through the outbox to a fake
Twilio, the console shows its ticks live, a refused message shows its error code and a Retry button."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from twilio.request_validator import RequestValidator

from tests.support.browser import (
    _admin_link,
    _wait,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.channels import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, NUMBER
from tests.support.fakes import FakeTwilio
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as f:
        yield f  # type: ignore[misc]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeTwilio) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("browser-sms")
    srv = live_server(tmp, "browser", {"PARLEY_PUBLIC_URL": "", "PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                                       "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PARLEY_TWILIO_NUMBER": NUMBER,
                                       "PARLEY_TWILIO_API_BASE": fake.url, "PARLEY_OUTBOX_BACKOFF": "0"})
    yield srv
    assert AUTH_TOKEN not in srv.log()  # secrets are never logged
    srv.stop()


def _signed_post(server: LiveServer, path: str, params: dict[str, str]) -> int:
    url = server.url + path
    sig = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": sig}, timeout=10).status_code


def _statuses(agent: Any) -> list[str]:
    """Read in one go in the page (messages are re-rendered as their status changes)."""
    return list(agent.execute_script(
        "return Array.from(document.querySelectorAll('[data-sender=agent] [data-testid=delivery-status]'))"
        ".map(e => e.innerText.trim())"))


def test_sms_reply_ticks_and_retry_in_the_console(server: LiveServer, fake: FakeTwilio,
                                                  browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By

    assert server.admin is not None
    agent = browsers()
    log_in(agent, server.url, *server.admin, ready="[data-testid=channels-link]")

    params = {"MessageSid": "SM" + "ab" * 16, "AccountSid": ACCOUNT_SID, "From": CUSTOMER, "To": NUMBER,
              "Body": "I want to talk to a person", "NumMedia": "0"}
    assert _signed_post(server, "/webhooks/twilio", params) == 200
    item = _wait(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=conv-item]"))[0]
    item.click()
    select = _wait(agent, lambda: [s for s in agent.find_elements(By.CSS_SELECTOR, "[data-testid=reply-channel]")
                                   if s.get_attribute("value") == "sms"])[0]
    assert select.get_attribute("value") == "sms"

    box = agent.find_element(By.CSS_SELECTOR, "[data-testid=reply-input]")
    box.send_keys("On its way 🚚")
    agent.find_element(By.CSS_SELECTOR, "[data-testid=reply-send]").click()
    _wait(agent, lambda: _statuses(agent) == ["✓ Sent"])
    assert any(r.first("Body") == "On its way 🚚" for r in fake.sends())

    # Twilio reports delivery: the tick follows live
    sid = fake.messages[-1]["sid"]
    assert _signed_post(server, "/webhooks/twilio/status", {"MessageSid": sid, "MessageStatus": "delivered",
                                                            "AccountSid": ACCOUNT_SID}) == 200
    _wait(agent, lambda: _statuses(agent) == ["✓✓ Delivered"])

    # Twilio refuses the next one (a 4xx: no retry): the agent sees the code, retries by hand
    fake.fail_next(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400})
    box.send_keys("Anything else?")
    agent.find_element(By.CSS_SELECTOR, "[data-testid=reply-send]").click()
    error = _wait(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=delivery-error]"))[0]
    assert "21610" in error.text and "unsubscribed" in error.text
    error.find_element(By.CSS_SELECTOR, "[data-testid=retry]").click()
    _wait(agent, lambda: _statuses(agent) == ["✓✓ Delivered", "✓ Sent"])
    assert not agent.find_elements(By.CSS_SELECTOR, "[data-testid=delivery-error]")

    screenshot(agent, "sms-conversation")

    # admins manage the channel on its page (the secret is not on it)
    _admin_link(agent, "channels-link").click()  # in the top bar's Admin menu
    card = _wait(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=channel]"))[0]
    assert NUMBER in card.text and "auth_token ✓" in card.text
    assert AUTH_TOKEN not in agent.page_source


def test_files_between_the_widget_and_the_console(server: LiveServer, browsers: Callable[[], Any],
                                                  tmp_path: Any) -> None:
    from selenium.webdriver.common.by import By

    from tests.support.browser import WIDGET, _widget_say

    assert server.admin is not None
    customer, agent = browsers(), browsers()
    customer.get(server.url + "/widget/demo")
    _wait(customer, lambda: customer.execute_script(WIDGET))
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(customer, "I want to talk to a person")
    _wait(customer, lambda: customer.execute_script(
        "return window.ParleyWidget.root.querySelectorAll('[data-sender=bot]').length"))

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    file_input = customer.execute_script("return window.ParleyWidget.root.querySelector('[data-testid=parley-file]')")
    file_input.send_keys(str(photo))
    _wait(customer, lambda: customer.execute_script(
        "return Array.from(window.ParleyWidget.root.querySelectorAll('[data-sender=contact] .bubble'))"
        ".some(e => e.textContent === '[file: photo.png]')"))

    log_in(agent, server.url, *server.admin, ready="[data-testid=conv-item]")
    agent.execute_script("document.querySelector('[data-testid=conv-item]').click()")
    _wait(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "img.cc-thumb"))  # the customer's image, inline

    doc = tmp_path / "label.pdf"
    doc.write_bytes(b"%PDF-1.7\n" + b"1 0 obj\n" * 10)
    agent.find_element(By.CSS_SELECTOR, "[data-testid=attach-input]").send_keys(str(doc))
    link = _wait(customer, lambda: customer.execute_script(
        "return window.ParleyWidget.root.querySelector('[data-testid=parley-files] a')"))
    assert link.text.endswith("label.pdf")
    href = link.get_attribute("href")
    assert href.startswith(server.url + "/webchat/files/")
    assert requests.get(href, timeout=10).content.startswith(b"%PDF")
