"""Supervisor views in a real browser: a supervisor assigns a waiting chat from the Queue view and the
agent finds it in My inbox; a tile opens its list; at 1280 x 800 the five tiles and the navigation are
whole on screen (their boxes measured, not only looked at)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio as sio

from tests.support.actors import PASSWORD
from tests.support.browser import (
    _wait,
    add_users,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("supervisor-browser")
    srv = live_server(tmp, "supervisor-browser")
    add_users(srv, {"email": "ada@example.com", "name": "Ada"},
              {"email": "sam@example.com", "name": "Sam", "role": "supervisor"},
              {"email": "root@example.com", "name": "Rosalind Administrator", "role": "admin"})
    yield srv
    srv.stop()


def _login(driver: Any, base: str, email: str) -> None:
    log_in(driver, base, email, PASSWORD, ready="[data-testid=availability]")


def _set_availability(driver: Any, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.CSS_SELECTOR, "[data-testid=availability]")).select_by_value(value)
    _wait(driver, lambda: driver.find_element(By.CSS_SELECTOR, "[data-testid=availability]")
          .get_attribute("data-value") == value)


def _hand_off(base: str, text: str) -> tuple[Any, str]:
    customer = sio.Client()
    customer.connect(base, namespaces=["/webchat"], transports=["websocket"])
    acks: list[Any] = []
    customer.emit("message", {"text": text}, namespace="/webchat", callback=lambda a: acks.append(a))
    deadline = time.monotonic() + 10
    while not acks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert acks and acks[0]["ok"], acks
    return customer, str(acks[0]["conversation_id"])


def _shot(driver: Any, name: str) -> None:
    screenshot(driver, f"{name}")


def test_a_supervisor_assigns_a_waiting_chat_from_the_queue_view(server: LiveServer,
                                                                  browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    ada, sam = browsers(), browsers()
    _login(ada, server.url, "ada@example.com")
    _login(sam, server.url, "sam@example.com")
    _set_availability(ada, "away")  # routing gives her nothing: the chat waits in the queue
    assert not ada.find_elements(By.CSS_SELECTOR, "[data-testid=view-queue]")  # agents have no Queue view
    sam.find_element(By.CSS_SELECTOR, "[data-testid=view-queue]").click()
    _wait(sam, lambda: sam.find_elements(By.CSS_SELECTOR, "[data-testid=queue-team]"))

    customer, conv_id = _hand_off(server.url, "I want to talk to a person")
    try:
        # the Queue view updates by itself: the chat appears, with its place and the team's agents
        in_queue = f"[data-testid=queue-item][data-id='{conv_id}']"
        item = _wait(sam, lambda: sam.find_elements(By.CSS_SELECTOR, in_queue))[0]
        assert item.text.startswith("#1")
        customer.emit("message", {"text": "<b>now</b> please"}, namespace="/webchat")
        item = _wait(sam, lambda: [i for i in sam.find_elements(By.CSS_SELECTOR, in_queue)
                                   if "<b>now</b>" in i.text])[0]
        assert not item.find_elements(By.TAG_NAME, "b")  # customer text shown as text, never as markup
        agents = {a.get_attribute("data-user-id"): a.text
                  for a in sam.find_elements(By.CSS_SELECTOR, "[data-testid=queue-agent]")}
        assert any("Ada" in t and "away" in t and "0 / 3" in t for t in agents.values()), agents
        for box in _rects(sam, f"{in_queue} *"):  # the whole card shows in the sidebar: nothing cut off
            assert not box["clipped"], box
        _shot(sam, "supervisor-queue-before-assign")

        ada_id = _wait(sam, lambda: sam.execute_script(
            "const o = [...document.querySelectorAll(`[data-testid=queue-item][data-id='${arguments[0]}'] "
            "[data-testid=queue-assign-to] option`)].find(o => o.textContent.startsWith('Ada')); return o && o.value;",
            conv_id))
        # the view refreshes live (realtime events): look the card's picker and button up afresh each try,
        # and wait until the choice holds before pressing Assign
        picker = f"{in_queue} [data-testid=queue-assign-to]"
        _wait(sam, lambda: Select(sam.find_element(By.CSS_SELECTOR, picker)).select_by_value(ada_id) or True)
        _wait(sam, lambda: Select(sam.find_element(By.CSS_SELECTOR, picker)).first_selected_option
              .get_attribute("value") == ada_id)
        _wait(sam, lambda: sam.find_element(By.CSS_SELECTOR, f"{in_queue} [data-testid=queue-assign]").click() or True)

        # it leaves the queue, Ada's load shows it, and Ada finds it in My inbox
        _wait(sam, lambda: not sam.find_elements(By.CSS_SELECTOR, in_queue))
        _wait(sam, lambda: "1 / 3" in sam.find_element(
            By.CSS_SELECTOR, f"[data-testid=queue-agent][data-user-id='{ada_id}']").text)
        _shot(sam, "supervisor-queue-after-assign")
        ada.find_element(By.CSS_SELECTOR, "[data-testid=view-mine]").click()
        row_css = f"[data-testid=conv-item][data-id='{conv_id}']"
        row = _wait(ada, lambda: ada.find_elements(By.CSS_SELECTOR, row_css))[0]
        assert row.find_element(By.CSS_SELECTOR, "[data-testid=unread-badge]").text == "2"  # its own unread count
        assert _wait(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=tile-assigned_to_me]").text == "1")

        # a tile opens its list: Assigned to me shows that one chat, live unread included
        ada.find_element(By.CSS_SELECTOR, "[data-testid=view-team]").click()
        ada.find_element(By.CSS_SELECTOR, "[data-tile=assigned_to_me]").click()
        _wait(ada, lambda: ada.find_element(By.CSS_SELECTOR, "[data-testid=tile-filter]").is_displayed())
        _wait(ada, lambda: [r.get_attribute("data-id")
                            for r in ada.find_elements(By.CSS_SELECTOR, "[data-testid=conv-item]")] == [conv_id])
        customer.emit("message", {"text": "hello again"}, namespace="/webchat")
        _wait(ada, lambda: ada.find_element(
            By.CSS_SELECTOR, f"[data-testid=conv-item][data-id='{conv_id}'] [data-testid=unread-badge]").text == "3")
        _shot(ada, "agent-assigned-to-me-tile")

        # Active: every open conversation, for the supervisor
        sam.find_element(By.CSS_SELECTOR, "[data-testid=view-active]").click()
        _wait(sam, lambda: sam.find_elements(By.CSS_SELECTOR, f"[data-testid=conv-item][data-id='{conv_id}']"))
    finally:
        customer.disconnect()


def _rects(driver: Any, selector: str) -> list[dict[str, Any]]:
    return list(driver.execute_script("""
        return [...document.querySelectorAll(arguments[0])].filter(e => e.offsetParent !== null).map(e => {
          const r = e.getBoundingClientRect();
          // the box must also be visible inside every scrolling or clipping ancestor
          let clipped = false;
          for (let p = e.parentElement; p; p = p.parentElement) {
            const s = getComputedStyle(p);
            if (s.overflowX !== 'visible' || s.overflowY !== 'visible') {
              const q = p.getBoundingClientRect();
              if (r.left < q.left - 0.5 || r.right > q.right + 0.5 || r.top < q.top - 0.5 || r.bottom > q.bottom + 0.5)
                clipped = true;
            }
          }
          const label = e.querySelector('.tile-label');
          return {text: e.innerText.trim(), left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                  width: r.width, clipped: clipped,
                  overflowing: e.scrollWidth > e.clientWidth + 1 ||
                               (label ? label.scrollWidth > label.clientWidth + 1 : false)};
        });""", selector))


def test_the_tiles_and_navigation_fit_at_1280(server: LiveServer, browsers: Callable[[], Any]) -> None:
    for email in ("root@example.com", "sam@example.com", "ada@example.com"):  # the admin has the most links
        driver = browsers()
        driver.set_window_rect(width=1280, height=800)
        _login(driver, server.url, email)
        _wait(driver, lambda d=driver: d.execute_script("return document.readyState") == "complete")
        time.sleep(0.5)  # the other scripts' buttons (Channels, Knowledge, Account, alerts) are in
        width = driver.execute_script("return document.documentElement.clientWidth")
        height = driver.execute_script("return document.documentElement.clientHeight")
        assert width >= 1260, width  # the window really is about 1280 wide
        tiles = _rects(driver, ".tiles .tile")
        nav = _rects(driver, ".me > *, .me .btn, .view-tabs .view-tab")
        assert len(tiles) == 5
        assert len(nav) >= 6
        for box in tiles + nav:
            assert box["left"] >= 0 and box["right"] <= width and box["top"] >= 0 and box["bottom"] <= height, box
            assert not box["clipped"] and not box["overflowing"] and box["width"] > 0, box
        labels = [t["text"] for t in tiles]
        for label in ("Assigned to me", "My unreplied", "Unassigned", "Unreplied", "Unread"):
            assert any(label in t for t in labels), labels
        # nothing overlaps: tiles end before the navigation starts
        me_left = driver.execute_script("return document.querySelector('.me').getBoundingClientRect().left")
        assert max(t["right"] for t in tiles) <= me_left, (tiles, me_left)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        _shot(driver, f"topbar-1280-{email.split('@')[0]}")
