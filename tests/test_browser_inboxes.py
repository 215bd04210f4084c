"""Inboxes in a real browser against a real `parley run`: an admin creates the Sales team on the Teams page
and adds a chat widget it owns, a visitor chats through that widget (its key in the script tag), and the
conversation waits in Sales' queue, where a Sales agent finds it in the Team inbox filtered by that inbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from models.db import Database
from tests.support.actors import PASSWORD, make_user
from tests.support.browser import (
    WIDGET,
    _admin_link,
    _wait,
    _widget_say,
    live_server,
    log_in,
    needs_browser,
)
from tests.support.live import LiveServer

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = live_server(tmp_path_factory.mktemp("browser-inboxes"), "browser-inboxes", {"PARLEY_PUBLIC_URL": ""})
    yield srv
    srv.stop()


def test_a_team_widget_lands_its_chats_in_that_team_queue(server: LiveServer, browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    assert server.admin is not None
    admin, visitor, sally = browsers(), browsers(), browsers()

    # the admin creates the Sales team on the Teams page
    log_in(admin, server.url, *server.admin)
    _admin_link(admin, "admin-teams-link").click()  # in the top bar's Admin menu
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "[data-testid=new-team-name]"))
    admin.find_element(By.CSS_SELECTOR, "[data-testid=new-team-name]").send_keys("Sales")
    admin.find_element(By.CSS_SELECTOR, "[data-testid=new-team-submit]").click()
    _wait(admin, lambda: "Sales" in admin.find_element(By.CSS_SELECTOR, "[data-testid=team-list]").text)
    db = Database(server.db_url)
    try:
        make_user(db, "sally@example.com", team="Sales")  # joins the team the admin made
    finally:
        db.dispose()

    # the admin adds a widget for Sales on the Inboxes page (from the console's link)
    admin.get(server.url + "/")
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "[data-testid=conv-list]"))
    _admin_link(admin, "channels-link").click()  # in the top bar's Admin menu
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "[data-testid=ibw-team] option"))
    admin.find_element(By.CSS_SELECTOR, "[data-testid=ibw-name]").send_keys("Sales site <b>")
    Select(admin.find_element(By.CSS_SELECTOR, "[data-testid=ibw-team]")).select_by_visible_text("Sales")
    admin.find_element(By.CSS_SELECTOR, "[data-testid=ibw-title]").send_keys("Talk to Sales")
    admin.find_element(By.CSS_SELECTOR, "[data-testid=ibw-greeting]").send_keys("Hello from <i>Sales</i>!")
    admin.find_element(By.CSS_SELECTOR, "[data-testid=ibw-submit]").click()
    snippet = _wait(admin, lambda: admin.find_elements(
        By.CSS_SELECTOR, "[data-testid=inbox-snippet-new] [data-testid=inbox-snippet]"))[0]
    code = snippet.get_attribute("value")
    assert 'data-widget-key="wk_' in code and "/widget/widget.js" in code
    key = code.split('data-widget-key="')[1].split('"')[0]
    # the card's name and team, read in one go (the list redraws as inboxes and numbers load: found afresh)
    name, team = _wait(admin, lambda: next(
        ((c.find_element(By.CSS_SELECTOR, "[data-testid=inbox-name]").text,
          Select(c.find_element(By.CSS_SELECTOR, "[data-testid=inbox-team]")).first_selected_option.text)
         for c in admin.find_elements(By.CSS_SELECTOR, "[data-testid=inbox]") if "Sales site" in c.text), None))
    assert name == "Sales site <b>"  # as text
    assert team == "Sales"

    # a visitor chats through that widget: its title and greeting come from the inbox
    visitor.get(server.url + "/widget/demo?key=" + key)
    _wait(visitor, lambda: visitor.execute_script(WIDGET))
    _wait(visitor, lambda: visitor.execute_script(
        "return window.ParleyWidget.root.querySelector('[data-testid=parley-title]').textContent") == "Talk to Sales")
    assert visitor.execute_script("return window.ParleyWidget.root.querySelector('[data-testid=parley-greeting]')"
                                  ".textContent") == "Hello from <i>Sales</i>!"
    visitor.execute_script("window.ParleyWidget.root.querySelector('[data-testid=parley-launcher]').click()")
    _widget_say(visitor, "I want to talk to a person")
    _wait(visitor, lambda: visitor.execute_script(
        "return window.ParleyWidget.root.querySelectorAll('[data-sender=bot]').length"), timeout=20)

    # a Sales agent finds it in the Team inbox, filtered by that inbox
    log_in(sally, server.url, "sally@example.com", PASSWORD)
    select = _wait(sally, lambda: [s for s in sally.find_elements(By.CSS_SELECTOR, "[data-testid=inbox-filter]")
                                   if s.is_displayed()])[0]
    Select(select).select_by_visible_text("Sales site <b> · Widget · Sales")
    item = _wait(sally, lambda: sally.find_elements(By.CSS_SELECTOR, "[data-testid=conv-item]"), timeout=15)[0]
    assert "Visitor" in item.text
    assert len(sally.find_elements(By.CSS_SELECTOR, "[data-testid=conv-item]")) == 1
