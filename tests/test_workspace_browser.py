"""The team workspace in a real browser: a supervisor enters another team's conversation, sees whom he
works for, types `/` in the composer, picks that team's canned reply, sees it filled in, edits and sends it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio as sio

from models.accounts.users import do_create_user
from models.db import Database
from models.routing.canned import do_create_canned_reply
from tests.support.actors import PASSWORD
from tests.support.browser import (
    _browser,
    _wait,
    bearer,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.live import LiveServer

pytestmark = needs_browser
REFUND = "Hi {{contact.name}}, your refund <b>is</b> on its way. — {{agent.name}}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("workspace-browser")
    srv = live_server(tmp, "workspace-browser")
    url = srv.db_url
    db = Database(url)
    with db.transaction() as s:
        sam = do_create_user(s, email="sam@example.com", password=PASSWORD, name="Sam", role="supervisor")
        bob = do_create_user(s, email="bob@example.com", password=PASSWORD, name="Bob", team_name="Billing")
        billing = next(m.team_id for m in bob.memberships)
        do_create_canned_reply(s, sam, short_code="refund", body=REFUND, team_id=billing)
        do_create_canned_reply(s, sam, short_code="reset", body="Support's own: reset your password.",
                                  team_id=next(m.team_id for m in sam.memberships))
    db.dispose()
    yield srv
    srv.stop()


def test_canned_reply_of_the_conversations_team(server: LiveServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    srv = server
    auth = bearer(srv, "sam@example.com")
    customer = sio.Client()
    received: list[dict[str, Any]] = []
    customer.on("message", lambda m: received.append(m), namespace="/webchat")
    customer.connect(srv.url, namespaces=["/webchat"], transports=["websocket"])
    driver = _browser()
    try:
        acks: list[Any] = []
        customer.emit("message", {"text": "I want to talk to a person"}, namespace="/webchat",
                      callback=lambda a: acks.append(a))
        deadline = time.monotonic() + 10
        while not acks and time.monotonic() < deadline:
            time.sleep(0.05)
        conv_id = acks[0]["conversation_id"]
        _wait(driver, lambda: requests.get(f"{srv.url}/api/v1/conversations/{conv_id}", headers=auth,
                                           timeout=10).json()["owner"] == "human")  # the bot handed it off
        teams = requests.get(f"{srv.url}/api/v1/teams", headers=auth, timeout=10).json()["teams"]
        billing = next(t["id"] for t in teams if t["name"] == "Billing")
        r = requests.post(f"{srv.url}/api/v1/conversations/{conv_id}/transfer", json={"to_team_id": billing},
                          headers=auth, timeout=10)
        assert r.status_code == 200, r.text
        contact = requests.get(f"{srv.url}/api/v1/conversations/{conv_id}", headers=auth, timeout=10).json()["contact"]

        log_in(driver, srv.url, "sam@example.com", PASSWORD, ready="[data-testid=canned-open]")
        driver.get(f"{srv.url}/#c/{conv_id}")
        chip = _wait(driver, lambda: [c for c in driver.find_elements(By.CSS_SELECTOR, "[data-testid=chip-team]")
                                      if c.text == "Working for Billing"])
        assert chip

        box = driver.find_element(By.CSS_SELECTOR, "[data-testid=reply-input]")
        box.send_keys("/")
        items = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=canned-item]"))
        assert [i.get_attribute("data-code") for i in items] == ["refund"]  # Billing's, not Support's
        box.send_keys("ref")
        _wait(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=canned-item]")) == 1)
        screenshot(driver, "workspace-picker")
        box.send_keys(Keys.ENTER)  # picks; does not send
        filled = f"Hi {contact['name']}, your refund <b>is</b> on its way. — Sam"
        _wait(driver, lambda: box.get_attribute("value") == filled)
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=canned-picker]")
        box.send_keys(" Thanks!")
        box.send_keys(Keys.ENTER)
        sent = filled + " Thanks!"
        _wait(driver, lambda: any(m.get("text") == sent for m in received))
        _wait(driver, lambda: box.get_attribute("value") == "")
        # the customer text went in as text: the markup is shown, not rendered
        assert driver.execute_script("return document.querySelectorAll('#messages b').length") == 0
        assert any(sent in m.text for m in driver.find_elements(By.CSS_SELECTOR, "#messages .msg"))

        # the supervisor manages Billing's replies and hours from the top bar
        def listed() -> list[str]:
            return list(driver.execute_script(
                "return [...document.querySelectorAll('[data-testid=ts-reply]')].map(r => r.dataset.code)"))

        driver.find_element(By.CSS_SELECTOR, "[data-testid=team-settings-open]").click()
        option = f"[data-testid=ts-scope] option[value='{billing}']"
        scope = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, option))
        scope[0].click()
        _wait(driver, lambda: "refund" in listed())
        dialog = driver.find_element(By.CSS_SELECTOR, "[data-testid=team-settings]")
        dialog.find_element(By.CSS_SELECTOR, "[data-testid=ts-code]").send_keys("thanks")
        dialog.find_element(By.CSS_SELECTOR, "[data-testid=ts-text]").send_keys("Thanks, {{contact.name}}!")
        dialog.find_element(By.CSS_SELECTOR, "[data-testid=ts-save]").click()
        _wait(driver, lambda: "thanks" in listed())
        tz = _wait(driver, lambda: dialog.find_elements(By.CSS_SELECTOR, "[data-testid=ts-tz]"))[0]
        tz.clear()
        tz.send_keys("Europe/Paris")
        dialog.find_element(By.CSS_SELECTOR, "[data-testid=ts-hours-save]").click()
        _wait(driver, lambda: "Always open" not in dialog.find_element(
            By.CSS_SELECTOR, "[data-testid=ts-hours-status]").text)
        screenshot(driver, "workspace-settings")
        hours = requests.get(f"{srv.url}/api/v1/teams/{billing}/hours", headers=auth, timeout=10).json()
        assert hours["timezone"] == "Europe/Paris"
        assert [i["day"] for i in hours["intervals"]] == ["mon", "tue", "wed", "thu", "fri"]
        codes = [r["short_code"] for r in requests.get(f"{srv.url}/api/v1/canned_replies?team_id={billing}",
                                                       headers=auth, timeout=10).json()["canned_replies"]]
        assert codes == ["refund", "thanks"]
    finally:
        screenshot(driver, "workspace")
        driver.quit()
        customer.disconnect()
