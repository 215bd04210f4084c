"""The pre-chat form and the end-of-chat rating in a real browser against a real `parley run`: the admin
turns both on for a widget on the Inboxes page, a visitor fills the form (a bad email is refused first),
chats, the agent closes the chat in the console, the visitor rates it 4 with a comment, and the console's
conversation view shows that rating. Screenshots of the form and the rating go to SHOTS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from models.accounts.tokens import do_issue_token
from models.db import Database
from models.schema.contacts import Contact
from models.schema.conversations import Conversation
from models.schema.feedback import ConversationRating
from tests.support.browser import (
    WIDGET,
    _admin_link,
    _wait,
    _widget_say,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.live import LiveServer

pytestmark = needs_browser

ROOT = "window.ParleyWidget.root"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("browser-prechat")
    srv = live_server(tmp, "browser", {"PARLEY_PUBLIC_URL": ""})
    yield srv
    srv.stop()


def _in_widget(driver: Any, js: str, *args: Any) -> Any:
    return driver.execute_script(f"const root = {ROOT}; " + js, *args)


def _fill(driver: Any, testid: str, value: str) -> None:
    _in_widget(driver, "const el = root.querySelector('[data-testid=' + arguments[0] + ']');"
               "el.focus(); el.value = arguments[1]; el.dispatchEvent(new Event('input', {bubbles: true}));",
               testid, value)


def _text(driver: Any, testid: str) -> str:
    return str(_in_widget(driver, "const el = root.querySelector('[data-testid=' + arguments[0] + ']');"
                                  "return el && !el.hidden ? el.textContent : '';", testid))


def _click(driver: Any, css: str) -> None:
    _in_widget(driver, "root.querySelector(arguments[0]).click();", css)


def test_the_visitor_fills_the_form_chats_and_rates_and_the_agent_sees_it(
        server: LiveServer, browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    assert server.admin is not None
    admin, visitor = browsers(), browsers()

    # the admin adds a widget and turns on the form (name required, email optional) and the rating
    log_in(admin, server.url, *server.admin)
    _admin_link(admin, "channels-link").click()
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "[data-testid=ibw-team] option"))
    admin.find_element(By.CSS_SELECTOR, "[data-testid=ibw-name]").send_keys("Shop")
    admin.find_element(By.CSS_SELECTOR, "[data-testid=ibw-submit]").click()
    card = _wait(admin, lambda: [c for c in admin.find_elements(By.CSS_SELECTOR, "[data-testid=inbox]")
                                 if c.find_element(By.CSS_SELECTOR, "[data-testid=inbox-name]").text == "Shop"])[0]
    key = card.find_element(By.CSS_SELECTOR, "[data-testid=inbox-key]").text
    card.find_element(By.XPATH, ".//button[text()='Edit']").click()
    Select(card.find_element(By.CSS_SELECTOR, "[data-testid=inbox-prechat_name]")).select_by_visible_text("Required")
    Select(card.find_element(By.CSS_SELECTOR, "[data-testid=inbox-prechat_email]")).select_by_visible_text("Optional")
    card.find_element(By.CSS_SELECTOR, "[data-testid=inbox-rating]").click()
    admin.execute_script("arguments[0].scrollIntoView({block: 'center'})",
                         card.find_element(By.CSS_SELECTOR, "[data-testid=inbox-rating]"))
    screenshot(admin, "prechat-inbox-options")
    card.find_element(By.XPATH, ".//button[text()='Save']").click()
    _wait(admin, lambda: [c for c in admin.find_elements(By.CSS_SELECTOR, "[data-testid=inbox-feedback]")
                          if c.text == "pre-chat form: name required, email optional · rating on"])

    # the visitor meets the form before the first message; a bad email is refused with a reason
    visitor.get(server.url + "/widget/demo?key=" + key)
    _wait(visitor, lambda: visitor.execute_script(WIDGET))
    _click(visitor, "[data-testid=parley-launcher]")
    _wait(visitor, lambda: _in_widget(visitor, "return !!root.querySelector('[data-testid=parley-prechat]')"))
    assert _in_widget(visitor, "return root.querySelector('[data-testid=parley-input]').closest('form').hidden")
    _fill(visitor, "parley-prechat-name", "Ann <b>Lee</b>")
    _fill(visitor, "parley-prechat-email", "ann@nowhere")
    _click(visitor, "[data-testid=parley-prechat-submit]")
    _wait(visitor, lambda: _text(visitor, "parley-prechat-error") == "That is not an email address.")
    screenshot(visitor, "prechat-form")
    _fill(visitor, "parley-prechat-email", "ann@example.com")
    _click(visitor, "[data-testid=parley-prechat-submit]")
    _wait(visitor, lambda: not _in_widget(visitor, "return !!root.querySelector('[data-testid=parley-prechat]')"))
    _widget_say(visitor, "I want to talk to a person")
    _wait(visitor, lambda: _in_widget(visitor, "return root.querySelectorAll('[data-sender=bot]').length"),
          timeout=20)

    db = Database(server.db_url)
    try:
        with db.session() as s:
            conv = s.scalar(select(Conversation).order_by(Conversation.id.desc()))
            assert conv is not None
            contact = s.get(Contact, conv.contact_id)
            assert contact is not None and (contact.name, contact.email) == ("Ann <b>Lee</b>", "ann@example.com")
            conv_id = conv.public_id
    finally:
        db.dispose()

    # the agent (the admin) takes the chat in the console, answers and closes it
    admin.get(server.url + "/#c/" + conv_id)
    _wait(admin, lambda: admin.find_element(By.CSS_SELECTOR, "[data-testid=assign-me]").is_displayed())
    admin.find_element(By.CSS_SELECTOR, "[data-testid=assign-me]").click()
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "[data-testid=assignees] li"))
    admin.find_element(By.ID, "reply-input").send_keys("All sorted, have a nice day!")
    admin.find_element(By.ID, "reply-input").submit()
    _wait(visitor, lambda: _in_widget(visitor, "return root.querySelectorAll('[data-sender=agent]').length"),
          timeout=15)
    _wait(admin, lambda: admin.find_element(By.CSS_SELECTOR, "[data-testid=close]").is_displayed())
    admin.find_element(By.CSS_SELECTOR, "[data-testid=close]").click()

    # the visitor is told the chat ended and rates it 4 with a comment
    _wait(visitor, lambda: _in_widget(visitor, "return !!root.querySelector('[data-testid=parley-rating]')"),
          timeout=15)
    assert _text(visitor, "parley-ended") == "This chat has ended. Write again any time."
    _click(visitor, "[data-testid=parley-rating-submit]")
    assert _text(visitor, "parley-rating-error") == "Pick from 1 to 5 stars."
    _click(visitor, "[data-testid=parley-star][data-score='4']")
    _fill(visitor, "parley-rating-comment", "Quick and <i>kind</i>")
    screenshot(visitor, "rating")
    _click(visitor, "[data-testid=parley-rating-submit]")
    _wait(visitor, lambda: _text(visitor, "parley-rating-thanks") == "Thank you for your feedback!")

    # the console's conversation view shows the rating (its comment as text)
    panel = _wait(admin, lambda: [p for p in admin.find_elements(By.CSS_SELECTOR, "[data-testid=rating-panel]")
                                  if p.is_displayed()], timeout=15)[0]
    assert panel.find_element(By.CSS_SELECTOR, "[data-testid=rating-score]").get_attribute("data-score") == "4"
    assert panel.find_element(By.CSS_SELECTOR, "[data-testid=rating-comment]").text == "Quick and <i>kind</i>"
    screenshot(admin, "rating-console")


def test_set_locale_de_shows_the_form_and_the_rating_in_german(server: LiveServer,
                                                               browsers: Callable[[], Any]) -> None:
    """Parley.setLocale("de") translates the pre-chat form and the rating too (the widget catalogues'
    strings, drawn by the shared renderer): those already shown and those shown later."""
    assert server.admin is not None
    db = Database(server.db_url)
    try:
        with db.transaction() as s:
            token = do_issue_token(s, server.admin[0], name="browser-i18n")
    finally:
        db.dispose()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, body: Any = None) -> Any:
        r = api.request(method, server.url + "/api/v1" + path, json=body, timeout=30)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json()

    team_id = call("GET", "/me")["teams"][0]["id"]
    inbox = call("POST", "/inboxes", {"kind": "webchat", "name": "Laden", "team_id": team_id, "rating": True,
                                      "prechat_form": {"name": "required", "email": "optional"}})
    visitor = browsers()
    visitor.get(server.url + "/widget/demo?key=" + inbox["widget_key"])
    _wait(visitor, lambda: visitor.execute_script("return window.Parley && window.Parley.ready"))
    _click(visitor, "[data-testid=parley-launcher]")
    _wait(visitor, lambda: _text(visitor, "parley-prechat-title") == "Before we start")  # the browser's English
    assert visitor.execute_script("return window.Parley.setLocale('de')") == "de"
    _wait(visitor, lambda: _text(visitor, "parley-prechat-title") == "Bevor wir beginnen")
    assert _text(visitor, "parley-prechat-submit") == "Chat beginnen"
    assert "Ihr Name" in _text(visitor, "parley-prechat") and "(freiwillig)" in _text(visitor, "parley-prechat")
    _click(visitor, "[data-testid=parley-prechat-submit]")  # the name is required: said in German
    _wait(visitor, lambda: _text(visitor, "parley-prechat-error") == "Bitte geben Sie Ihren Namen ein.")
    screenshot(visitor, "prechat-form-de")
    _fill(visitor, "parley-prechat-name", "Jonas")
    _click(visitor, "[data-testid=parley-prechat-submit]")
    _wait(visitor, lambda: not _in_widget(visitor, "return !!root.querySelector('[data-testid=parley-prechat]')"))
    _widget_say(visitor, "Hallo")
    conv_id = _wait(visitor, lambda: visitor.execute_script("return window.ParleyWidget.conversationId"), 20)

    # an agent takes the chat and closes it: the rating, in German
    me = call("GET", "/me")["id"]
    call("POST", f"/conversations/{conv_id}/assign", {"user_ids": [me]})
    call("POST", f"/conversations/{conv_id}/close")
    _wait(visitor, lambda: _in_widget(visitor, "return !!root.querySelector('[data-testid=parley-rating]')"),
          timeout=20)
    assert _text(visitor, "parley-ended") == "Dieser Chat ist beendet. Schreiben Sie uns jederzeit wieder."
    assert _in_widget(visitor, "return root.querySelector('[data-testid=parley-rating] .fb-title').textContent"
                      ) == "Wie war dieser Chat?"
    assert _text(visitor, "parley-rating-submit") == "Bewertung senden"
    assert _in_widget(visitor, "return root.querySelector('[data-testid=parley-star]').getAttribute('aria-label')"
                      ) == "1 von 5"
    _click(visitor, "[data-testid=parley-rating-submit]")
    assert _text(visitor, "parley-rating-error") == "Wählen Sie 1 bis 5 Sterne."
    _click(visitor, "[data-testid=parley-star][data-score='3']")
    screenshot(visitor, "rating-de")
    _click(visitor, "[data-testid=parley-rating-submit]")
    _wait(visitor, lambda: _text(visitor, "parley-rating-thanks") == "Vielen Dank für Ihre Rückmeldung!")
    db = Database(server.db_url)
    try:
        with db.session() as s:
            assert s.scalar(select(ConversationRating.score).join(Conversation).where(
                Conversation.public_id == conv_id)) == 3
    finally:
        db.dispose()
    # and back to English: the card already shown follows
    assert visitor.execute_script("return window.Parley.setLocale('en')") == "en"
    _wait(visitor, lambda: _text(visitor, "parley-rating-thanks") == "Thank you for your feedback!")
