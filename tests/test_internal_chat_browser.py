"""Internal chat (issue 14) in real browsers: agent A writes to agent B from the Chats tab; B, on the
team inbox, gets a notification card and an unread badge live, opens the chat, reads the message (escaped)
and the badge clears; A sees B's answer live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.actors import PASSWORD
from tests.support.browser import (
    _wait,
    add_users,
    click,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.live import LiveServer

pytestmark = needs_browser
SLOW = 20  # seconds: two browsers and a server share a busy machine
HOSTILE = "Lunch at <b>noon</b>? <img src=x onerror=alert(1)>"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(tmp_path, "internal-chat-browser")
    add_users(srv, {"email": "ada@example.com", "name": "Ada Agent"}, {"email": "bob@example.com", "name": "Bob Agent"})
    yield srv
    srv.stop()


def _w(driver: Any, pred: Callable[[], Any], timeout: float = SLOW) -> Any:
    return _wait(driver, pred, timeout)


def _login(driver: Any, base: str, email: str) -> None:
    log_in(driver, base, email, PASSWORD, ready="[data-testid=view-chats]", socket=True, timeout=SLOW)


def _texts(driver: Any, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, css)]


def test_agent_a_writes_to_agent_b_who_sees_it_live_with_an_unread_badge(server: LiveServer, tmp_path: Path,
                                                                         browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    ada, bob = browsers(), browsers()
    _login(ada, server.url, "ada@example.com")
    _login(bob, server.url, "bob@example.com")
    badge = bob.find_element(By.CSS_SELECTOR, "[data-testid=chats-unread]")
    assert not badge.is_displayed()

    # Ada opens Chats, picks Bob, writes
    ada.find_element(By.CSS_SELECTOR, "[data-testid=view-chats]").click()
    people = _w(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=ichat-people]"))
    _w(ada, lambda: "Bob Agent" in people.text)
    Select(people).select_by_visible_text("Bob Agent")
    ada.find_element(By.CSS_SELECTOR, "[data-testid=ichat-start]").click()
    _w(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=ichat-title]").text == "Bob Agent")
    box = _w(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=ichat-input]"))
    box.send_keys(HOSTILE)
    ada.find_element(By.CSS_SELECTOR, "[data-testid=ichat-send]").click()
    _w(ada, lambda: HOSTILE in _texts(ada, "[data-testid=ichat-msg] .ichat-text"))

    # Bob, on his inbox, gets a card and the badge live, without reloading
    _w(bob, lambda: bob.find_element(By.CSS_SELECTOR, "[data-testid=chats-unread]").text == "1")
    card = _w(bob, lambda: bob.find_elements(By.CSS_SELECTOR, "[data-testid=notice][data-kind=internal]"))[0]
    assert "Ada Agent wrote to you" in card.text and "Lunch at <b>noon</b>?" in card.text
    screenshot(bob, "internal-chat-badge-and-card")

    bob.find_element(By.CSS_SELECTOR, "[data-testid=view-chats]").click()
    _w(bob, lambda: _texts(bob, "[data-testid=ichat-item] [data-testid=ichat-item-unread]") == ["1"])
    assert "Ada Agent" in _texts(bob, "[data-testid=ichat-item]")[0]

    click(bob, "[data-testid=ichat-item]", SLOW)  # the list is drawn again as figures arrive: found afresh
    _w(bob, lambda: HOSTILE in _texts(bob, "[data-testid=ichat-msg] .ichat-text"))  # escaped: shown as text
    assert not bob.find_elements(By.CSS_SELECTOR, "[data-testid=ichat-messages] b, [data-testid=ichat-messages] img")
    _w(bob, lambda: not bob.find_element(By.CSS_SELECTOR, "[data-testid=chats-unread]").is_displayed())
    screenshot(bob, "internal-chat-thread")

    # Bob answers; Ada, in the thread, sees it live, and it is not unread for her
    bob.find_element(By.CSS_SELECTOR, "[data-testid=ichat-input]").send_keys("Sure, see you there")
    bob.find_element(By.CSS_SELECTOR, "[data-testid=ichat-send]").click()
    _w(ada, lambda: "Sure, see you there" in _texts(ada, "[data-testid=ichat-msg] .ichat-text"))
    _w(ada, lambda: not ada.find_element(By.CSS_SELECTOR, "[data-testid=chats-unread]").is_displayed())

    # Ada sends a file with the composer's Attach; Bob gets it live as a download link
    plan = tmp_path / "floor plan.png"
    plan.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    ada.find_element(By.CSS_SELECTOR, "[data-testid=ichat-file]").send_keys(str(plan))
    ada.find_element(By.CSS_SELECTOR, "[data-testid=ichat-send]").click()
    link = _w(bob, lambda: bob.find_elements(By.CSS_SELECTOR, "[data-testid=ichat-file-link]"))[0]
    assert "floor plan.png" in link.text and "/api/v1/internal_files/f_" in (link.get_attribute("href") or "")
