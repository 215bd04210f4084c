"""Issue 13 in a real browser: an admin invites a user from Admin → Users, the mail arrives at a real SMTP
server, the user opens the emailed link, chooses a password and signs in to the console."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from models.accounts.users import do_create_user
from models.db import Database
from models.schema.accounts import User
from tests.support.browser import (
    _admin_link,
    _browser,
    _wait,
    click,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.mail import SmtpServer, body_text

pytestmark = needs_browser
PASSWORD = "correct horse battery"


def test_admin_invites_and_the_user_sets_a_password_and_signs_in(tmp_path: Path, smtp_server: SmtpServer) -> None:
    from selenium.webdriver.common.by import By

    srv = live_server(tmp_path, "users-browser", {"PARLEY_SMTP_URL": smtp_server.url,
                                                  "PARLEY_MAIL_FROM": "Parley <parley@example.com>"})
    url = srv.db_url
    db = Database(url)
    with db.transaction() as s:
        do_create_user(s, email="root@example.com", password=PASSWORD, name="Root", role="admin")
    db.dispose()
    driver = _browser()
    try:
        def css(sel: str) -> Any:
            return driver.find_element(By.CSS_SELECTOR, sel)

        log_in(driver, srv.url, "root@example.com", PASSWORD)
        _admin_link(driver, "admin-users-link").click()  # in the top bar's Admin menu
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=user-row]"))
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=invite-team] option"))
        css("[data-testid=invite-email]").send_keys("nia@example.com")
        css("[data-testid=invite-name]").send_keys("Nia <i>N</i>")
        css("[data-testid=invite-submit]").click()
        _wait(driver, lambda: "Invitation sent to nia@example.com" in driver.find_element(
            By.CSS_SELECTOR, "[data-testid=invite-note]").text)
        row = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-email='nia@example.com']"))[0]
        assert "Invited" in row.text and "Nia <i>N</i>" in row.text
        assert driver.execute_script("return document.querySelectorAll('#user-rows i').length") == 0  # text only
        screenshot(driver, "users-invited")

        # Admin → Teams: the team's routing settings beside its members
        css("[data-testid=nav-teams]").click()
        support = "[data-testid=team-item][data-name=Support]"
        click(driver, support)
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=rt-queue]"))
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=team-members] input"))
        queue = css("[data-testid=rt-queue]")  # found once the team is drawn, not held across its redraw
        queue.clear()
        queue.send_keys("Hold on, a person is coming.")
        css("[data-testid=rt-save]").click()
        _wait(driver, lambda: "Routing saved." in css("[data-testid=routing-note]").text)
        screenshot(driver, "teams-routing")

        (msg,) = smtp_server.wait_for(1)
        assert msg["To"] == "nia@example.com"
        match = re.search(r"(http://\S+/password/pw_[\w-]+)", body_text(msg))
        assert match, body_text(msg)
        link = match.group(1)
        assert link.startswith(srv.url)  # no PARLEY_PUBLIC_URL: the admin's host

        driver.delete_all_cookies()  # the invited person, in their own browser
        driver.get(link)
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=password-new]"))
        assert "Welcome, Nia <i>N</i>" in driver.find_element(By.TAG_NAME, "h1").text  # escaped, shown as text
        css("[data-testid=password-new]").send_keys("nia's own password")
        css("[data-testid=password-confirm]").send_keys("nia's own password")
        screenshot(driver, "users-set-password")
        css("[data-testid=password-submit]").click()
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=password-done]"))
        css("[data-testid=password-to-login]").click()
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=login-email]"))
        css("[data-testid=login-email]").send_keys("nia@example.com")
        css("[data-testid=login-password]").send_keys("nia's own password")
        css("[data-testid=login-submit]").click()
        name = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=me-name]"))[0]
        # her name, escaped: shown as text, never as markup (the top bar may hide the name beside the avatar on a
        # narrow window, where `.text` is '', so read the text itself; the avatar's tooltip carries it too)
        assert name.get_attribute("textContent") == "Nia <i>N</i>"
        assert not name.find_elements(By.TAG_NAME, "i")
        assert css("#me-avatar").get_attribute("title").startswith("Nia <i>N</i>")
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=admin-users-link]")  # an agent
        screenshot(driver, "users-signed-in")
        # her own profile: name and alerts, kept on her account
        css("[data-testid=account-open]").click()
        box = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=profile-name]"))[0]
        box.clear()
        box.send_keys("Nia N.")
        css("[data-testid=profile-alerts]").click()
        css("[data-testid=profile-name]").submit()
        _wait(driver, lambda: css("[data-testid=me-name]").get_attribute("textContent") == "Nia N.")
        assert css("#me-avatar").get_attribute("title").startswith("Nia N.")
        _wait(driver, lambda: css("[data-testid=alerts-toggle]").get_attribute("aria-pressed") == "true")
        screenshot(driver, "users-profile")
        db = Database(url)
        with db.session() as s:
            nia = s.scalar(select(User).where(User.email == "nia@example.com"))
            assert nia is not None and nia.name == "Nia N." and nia.notifications == {"alerts": True}
        db.dispose()
        driver.get(link)  # the link was for one use
        _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=password-link-invalid]"))
    finally:
        screenshot(driver, "users-browser")
        driver.quit()
        srv.stop()
