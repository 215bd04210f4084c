"""Issue 14 in real browsers: an agent starts an email invite from the console's New chat dialog, the
customer opens the emailed link in a second browser and chats, the agent sees the reply and the
customer's status move from never joined to online. And the hosted page shows what the widget shows,
through the widget's renderer: a bot's buttons (a click answers) and image, and the end-of-chat rating."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from models.accounts.tokens import do_issue_token
from models.conversations.messages import do_send_bot_reply
from models.db import Database
from models.schema.conversations import Conversation, Message
from models.schema.feedback import ConversationRating
from tests.support.browser import _browser, _wait, live_server, log_in, needs_browser, screenshot
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
    # state and words read from one lookup, inside the wait: the header may be redrawn between two reads
    _w(agent, lambda: (lambda chip: chip.get_attribute("data-state") == "never_joined"
                       and "Never joined" in chip.text)(_status(agent)))
    _w(agent, lambda: "Kim <b>Lee</b>" in agent.find_element(By.ID, "conv-name").text)  # escaped
    assert _w(agent, lambda: agent.find_elements(By.CSS_SELECTOR, "[data-testid=never-joined]"))

    # the email arrives; the customer opens the link in another browser and sees the first message
    mail = smtp_server.wait_for(1, timeout=30)[-1]
    assert "Kim <b>Lee</b>" in body_text(mail) and "Support" in body_text(mail)
    customer.get(server.url + link_path(body_text(mail)))
    _w(customer, lambda: "Hi Kim, your quote is ready." in _texts(customer, "[data-testid=parley-message] .bubble"))
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
                                                            "[data-testid=parley-message][data-sender=agent] .bubble"))

    # the customer leaves: offline, "left … ago"
    customer.get("about:blank")
    _w(agent, lambda: (lambda chip: chip.get_attribute("data-state") == "offline" and "left" in chip.text)(
        _status(agent)), timeout=45)
    customer.back()  # and comes back: the same conversation, online again
    _w(customer, lambda: "Sure, I'm here now." in _texts(customer, "[data-testid=parley-message] .bubble"))
    _w(agent, lambda: _status(agent).get_attribute("data-state") == "online")


MENU = {"buttons": [{"title": "Track my order", "payload": "/order_status"},
                    {"title": "Talk to a person", "payload": "/human_handoff"}],
        "image": "https://shop.example.com/parcel.png"}


def test_the_hosted_page_shows_bot_buttons_and_takes_the_rating(server: LiveServer, smtp_server: SmtpServer,
                                                                 browsers: Callable[[], Any], tmp_path: Path) -> None:
    """Through the API: a widget inbox that asks for ratings, an email invite from it. A bot message with
    buttons and an image is in the chat when the customer opens the link: the chips show, a click sends
    the title as the customer's message and the chips go. The customer sends a file. The agent ends the
    chat: the page says so and shows the stars; the customer rates 5 with a comment, and it is stored."""
    from selenium.webdriver.common.by import By

    assert server.admin is not None
    db = Database(server.db_url)
    try:
        with db.transaction() as s:
            token = do_issue_token(s, server.admin[0], name="browser-test")
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"

        def call(method: str, path: str, body: Any = None) -> Any:
            r = api.request(method, server.url + "/api/v1" + path, json=body, timeout=30)
            assert r.status_code < 300, (path, r.status_code, r.text)
            return r.json()

        team_id = call("GET", "/me")["teams"][0]["id"]
        inbox = call("POST", "/inboxes", {"kind": "webchat", "name": "Shop", "team_id": team_id, "rating": True})
        conv = call("POST", "/conversations", {"contact": {"name": "Kim", "email": "kim@example.com"},
                                               "channel": "email", "inbox_id": inbox["id"],
                                               "text": "Hi Kim, pick what you need."})
        with db.transaction() as s:  # the bot's turn, as an engine with buttons answers (docs/rasa.md)
            row = s.scalars(select(Conversation).where(Conversation.public_id == conv["id"])).one()
            do_send_bot_reply(s, row, "What can I do for you?", intent="menu", confidence=0.9, decision="answer",
                              reason=None, rich=MENU)
        path = link_path(body_text(smtp_server.wait_for(1, timeout=30)[-1]))

        customer = browsers()
        customer.get(server.url + path)
        chips = "[data-testid=parley-message][data-sender=bot] [data-testid=parley-quick-reply]"
        _w(customer, lambda: _texts(customer, chips) == ["Track my order", "Talk to a person"])
        image = customer.find_element(By.CSS_SELECTOR, "[data-testid=parley-image]")
        assert image.get_attribute("src") == MENU["image"]
        screenshot(customer, "hosted-chips")
        customer.find_elements(By.CSS_SELECTOR, chips)[0].click()
        _w(customer, lambda: [e.get_attribute("data-status") for e in customer.find_elements(
            By.CSS_SELECTOR, "[data-testid=parley-message][data-sender=contact]")] == ["sent"])
        assert _texts(customer, "[data-testid=parley-message][data-sender=contact] .bubble") == ["Track my order"]
        assert not customer.find_elements(By.CSS_SELECTOR, chips)  # answered: the buttons no longer apply
        with db.session() as s:
            said = s.scalars(select(Message.text).join(Conversation).where(
                Conversation.public_id == conv["id"], Message.sender_type == "contact")).all()
        assert said == ["Track my order"]

        # a file from the customer: their message, with a link to it
        receipt = tmp_path / "receipt.png"
        receipt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
        picker = customer.find_element(By.CSS_SELECTOR, "[data-testid=hosted-file-input]")
        customer.execute_script("arguments[0].hidden = false", picker)  # the 📎 button opens it for a person
        picker.send_keys(str(receipt))
        _w(customer, lambda: [e.text for e in customer.find_elements(
            By.CSS_SELECTOR, "[data-sender=contact] [data-testid=parley-file-link]")] == ["📎 receipt.png"])
        assert _texts(customer, "[data-sender=contact] .bubble")[-1] == "[file: receipt.png]"

        # the agent ends the session: the page says so and asks for a rating
        call("POST", f"/conversations/{conv['id']}/end")
        _w(customer, lambda: customer.find_elements(By.CSS_SELECTOR, "[data-testid=parley-rating]"))
        assert customer.find_element(By.CSS_SELECTOR, "[data-testid=hosted-notice]").text.startswith(
            "This chat has ended.")
        customer.find_element(By.CSS_SELECTOR, "[data-testid=parley-rating-submit]").click()
        assert customer.find_element(By.CSS_SELECTOR, "[data-testid=parley-rating-error]").text == \
            "Pick from 1 to 5 stars."
        customer.find_element(By.CSS_SELECTOR, "[data-testid=parley-star][data-score='5']").click()
        customer.find_element(By.CSS_SELECTOR, "[data-testid=parley-rating-comment]").send_keys("Fast <b>help</b>")
        screenshot(customer, "hosted-rating")
        customer.find_element(By.CSS_SELECTOR, "[data-testid=parley-rating-submit]").click()
        _w(customer, lambda: _texts(customer, "[data-testid=parley-rating-thanks]") == ["Thank you for your feedback!"])
        rating = call("GET", f"/conversations/{conv['id']}/rating")["rating"]
        assert (rating["score"], rating["comment"]) == (5, "Fast <b>help</b>")
        with db.session() as s:
            assert s.scalar(select(ConversationRating.score)) == 5
        customer.refresh()  # rated: the stars do not come back
        _w(customer, lambda: _texts(customer, "[data-testid=parley-message] .bubble"))
        _w(customer, lambda: customer.find_element(By.CSS_SELECTOR, "[data-testid=hosted-notice]").is_displayed())
        assert not customer.find_elements(By.CSS_SELECTOR, "[data-testid=parley-rating]")

        # the same link in a German browser: the page speaks German (the widget's catalogues)
        german = _browser("de")
        try:
            german.get(server.url + path)
            _w(german, lambda: german.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de")
            _w(german, lambda: german.find_element(By.CSS_SELECTOR, "[data-testid=hosted-notice]").text ==
               "Dieser Chat ist beendet. Sie können ihn weiterhin lesen.")
            assert german.find_element(By.CSS_SELECTOR, "[data-testid=hosted-send]").text == "Senden"
            assert _texts(german, "[data-testid=parley-message][data-sender=bot] .who") == ["Assistent"]
            screenshot(german, "hosted-de")
        finally:
            german.quit()
    finally:
        db.dispose()
