"""An internal discussion in a real browser against a real `parley run`: the admin opens a handed-off chat,
starts its discussion with Bob and @mentions him; Bob gets a card and a Mentions badge, opens the
discussion and reads the entry as text; once the admin closes the conversation the discussion is view-only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException

from models.db import Database
from tests.support.actors import PASSWORD, make_user
from tests.support.browser import CHROMEDRIVER, CHROMIUM, WIDGET, _wait, _widget_say
from tests.support.live import LiveServer, start_server

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (make browser)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("browser-discussions")
    env = {"PARLEY_INSTANCE": str(tmp / "instance"), "DATABASE_URL": f"sqlite:///{tmp / 'instance' / 'parley.db'}",
           "REDIS_URL": "", "PARLEY_SECRET_KEY": "browser-test", "PARLEY_PUBLIC_URL": ""}
    srv = start_server(env, tmp / "server.log")
    srv.db_url = env["DATABASE_URL"]  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def _login(driver: Any, url: str, email: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=login-email]").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=login-password]").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=login-submit]").click()
    _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=conv-list]"))


def _css(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def _text(driver: Any, css: str) -> str:
    """The text of the first element matching `css` ("" while there is none: the panel re-renders)."""
    found = _css(driver, css)
    return str(found[0].text) if found else ""


def test_a_discussion_with_a_mention_turns_view_only_at_close(server: LiveServer,
                                                             browsers: Callable[[], Any]) -> None:
    assert server.admin is not None
    db = Database(server.db_url)  # type: ignore[attr-defined]
    try:
        make_user(db, "bob@example.com")
    finally:
        db.dispose()
    admin, bob, customer = browsers(), browsers(), browsers()
    _login(admin, server.url, *server.admin)
    _login(bob, server.url, "bob@example.com", PASSWORD)
    assert _css(bob, "[data-testid=mentions-badge]")[0].is_displayed() is False  # nobody mentioned him yet

    customer.get(server.url + "/widget/demo")
    _wait(customer, lambda: customer.execute_script(WIDGET))
    customer.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(customer, "I want to talk to a person")

    _wait(admin, lambda: _css(admin, "[data-testid=conv-item]"))[0].click()
    _wait(admin, lambda: _css(admin, "[data-testid=discussion-toggle]"))[0].click()
    boxes = _wait(admin, lambda: _css(admin, "[data-testid=discussion-candidate]"))
    labels = [b.find_element("xpath", "..").text for b in boxes]
    bob_box = boxes[next(i for i, t in enumerate(labels) if "@bob" in t)]
    bob_box.click()
    _css(admin, "[data-testid=discussion-invite]")[0].click()
    _wait(admin, lambda: "Bob" in _text(admin, "[data-testid=discussion-members]"))
    box = _wait(admin, lambda: _css(admin, "[data-testid=discussion-input]"))[0]
    box.send_keys("@bob can you check <b>this</b> order?")
    _css(admin, "[data-testid=discussion-send]")[0].click()
    _wait(admin, lambda: any("<b>this</b>" in e.text for e in _css(admin, "[data-testid=discussion-entry]")))

    # Bob: a card, and the Mentions badge; the list opens the conversation's discussion
    card = _wait(bob, lambda: [n for n in _css(bob, "[data-testid=notice]")
                               if n.get_attribute("data-kind") == "mention"])[0]
    assert "mentioned you in a discussion" in card.text and "<b>this</b>" in card.text
    _wait(bob, lambda: _text(bob, "[data-testid=mentions-badge]") == "1")
    _css(bob, "[data-testid=mentions-toggle]")[0].click()
    _wait(bob, lambda: _click_first(bob, "[data-testid=mention-item]"))  # the list may redraw meanwhile
    entries = _wait(bob, lambda: [e for e in _css(bob, "[data-testid=discussion-entry]") if "<b>this</b>" in e.text])
    assert not entries[0].find_elements("css selector", "b.discussion-text b")  # shown as text, never as markup
    _wait(bob, lambda: not _css(bob, "[data-testid=mentions-badge]")[0].is_displayed())  # read
    assert _css(bob, "[data-testid=discussion-input]")

    # the admin closes the conversation: the discussion becomes view-only for both
    _css(admin, "[data-testid=close]")[0].click()
    _wait(admin, lambda: _css(admin, "[data-testid=discussion-view-only]"))
    assert not _css(admin, "[data-testid=discussion-input]")
    _wait(bob, lambda: _css(bob, "[data-testid=discussion-view-only]"))
    assert not _css(bob, "[data-testid=discussion-input]")
    assert any("view-only" in e.text for e in _css(bob, "[data-testid=discussion-entry]"))

def _click_first(driver: Any, selector: str) -> bool:
    try:
        found = _css(driver, selector)
        if not found:
            return False
        found[0].click()
        return True
    except StaleElementReferenceException:  # redrawn between finding and clicking: look again
        return False
