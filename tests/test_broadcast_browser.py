"""Issue 14 in a real browser: an admin tags contacts on the contacts page, broadcasts to the tag from the
console's Broadcast dialog, and sees the summary: who got it, who was skipped for texting STOP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from twilio.request_validator import RequestValidator

from tests.support.browser import _wait, click, live_server, log_in, needs_browser, screenshot
from tests.support.channels import ACCOUNT_SID, AUTH_TOKEN, NUMBER
from tests.support.fakes import FakeTwilio
from tests.support.live import LiveServer

pytestmark = needs_browser
NUMBERS = ["+14155550101", "+14155550102", "+14155550103"]


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as f:
        yield f  # type: ignore[misc]


@pytest.fixture
def server(tmp_path: Any, fake: FakeTwilio) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, "broadcast-browser", {"PARLEY_PUBLIC_URL": "",
                                                      "PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                                                      "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                                                      "PARLEY_TWILIO_NUMBER": NUMBER,
                                                      "PARLEY_TWILIO_API_BASE": fake.url,
                                                      "PARLEY_OUTBOX_BACKOFF": "0"})
    yield srv
    srv.stop()


def _sms(server: LiveServer, sid: str, sender: str, body: str) -> None:
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": NUMBER, "Body": body,
              "NumMedia": "0"}
    sig = RequestValidator(AUTH_TOKEN).compute_signature(server.url + "/webhooks/twilio", params)
    r = requests.post(server.url + "/webhooks/twilio", data=params, headers={"X-Twilio-Signature": sig}, timeout=10)
    assert r.status_code == 200


def _tags(driver: Any) -> list[str]:
    """As stored (the chips are shown capitalised by CSS)."""
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid=contact-tag]')).map(e => e.textContent)"))


def test_tag_contacts_then_broadcast_to_the_tag(server: LiveServer, fake: FakeTwilio,
                                                browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for i, number in enumerate(NUMBERS):
        _sms(server, f"SM{i:032d}", number, "STOP" if i == 2 else "hello")
    assert server.admin is not None
    admin = browsers()
    log_in(admin, server.url, *server.admin)
    admin.get(server.url + "/contacts")
    rows = _wait(admin, lambda: len(admin.find_elements(By.CSS_SELECTOR, "[data-testid=contact-row]")) == 3
                 and admin.find_elements(By.CSS_SELECTOR, "[data-testid=contact-row]"))
    for n in range(3):
        admin.find_elements(By.CSS_SELECTOR, "[data-testid=contact-row]")[n].click()
        # this contact's (untagged) editor, not the one of the contact shown before
        box = _wait(admin, lambda: [e for e in admin.find_elements(
            By.CSS_SELECTOR, "[data-testid=contact-tags-form][data-loaded] [data-testid=contact-tags-input]")
            if e.get_attribute("value") == ""])[0]
        box.send_keys("VIP, Spring Sale" if n == 0 else "vip")
        admin.find_element(By.CSS_SELECTOR, "[data-testid=contact-tags-save]").click()
        want = ["spring sale", "vip"] if n == 0 else ["vip"]  # stored lower-case, sorted
        _wait(admin, lambda: _tags(admin) == want)  # noqa: B023
    assert len(rows) == 3

    admin.get(server.url + "/")
    click(admin, "[data-testid=broadcast-open]")
    dialog = _wait(admin, lambda: admin.find_element(By.CSS_SELECTOR, "[data-testid=broadcast-dialog]"))
    _wait(admin, lambda: len(dialog.find_elements(By.CSS_SELECTOR, "[data-testid=bc-tag] option")) == 3)
    Select(dialog.find_element(By.CSS_SELECTOR, "[data-testid=bc-tag]")).select_by_value("vip")
    dialog.find_element(By.CSS_SELECTOR, "[data-testid=bc-text]").send_keys("Our spring sale starts today")
    dialog.find_element(By.CSS_SELECTOR, "[data-testid=bc-send]").click()
    summary = _wait(admin, lambda: admin.find_element(By.CSS_SELECTOR, "[data-testid=bc-summary]"))
    _wait(admin, lambda: summary.find_elements(By.CSS_SELECTOR, "[data-testid=bc-count-skipped_opted_out]"))
    assert "1" in summary.find_element(By.CSS_SELECTOR, "[data-testid=bc-count-skipped_opted_out]").text
    assert "3" in summary.find_element(By.CSS_SELECTOR, "[data-testid=bc-count-recipients]").text
    text = "Our spring sale starts today"
    _wait(admin, lambda: sorted(r.first("To") or "" for r in fake.sends() if r.first("Body") == text) == NUMBERS[:2])
    _wait(admin, lambda: summary.find_elements(By.CSS_SELECTOR, "[data-testid=bc-count-sent]"), timeout=10)
    screenshot(admin, "broadcast-summary")
