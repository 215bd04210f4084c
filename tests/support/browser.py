"""Driving Debian's Chromium as a person would: a live server, start the browser, log in, wait for the page,
click what shows, type into the widget, keep a screenshot."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.actors import PASSWORD
from tests.support.live import LiveServer, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


CHROMEDRIVER = shutil.which("chromedriver")


needs_browser = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                   reason="needs Debian's chromium and chromium-driver (make browser)")

SHOTS = Path(tempfile.gettempdir()) / "parley-shots"


def _browser(lang: str | None = None) -> Any:
    """A headless Chromium; `lang` ("de") is the language it tells pages (navigator.languages)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,800",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='parley-chrome-')}"):
        opts.add_argument(flag)
    if lang:
        opts.add_argument(f"--lang={lang}")
        opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
    return webdriver.Chrome(service=Service(CHROMEDRIVER or ""), options=opts)


def _wait(driver: Any, pred: Callable[[], Any], timeout: float = 10) -> Any:
    """Until `pred()` is truthy. An element the page re-rendered while `pred` read it is read again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(lambda _d: pred())


WIDGET = "return window.ParleyWidget && window.ParleyWidget.root"


def _widget_messages(driver: Any, sender: str) -> list[str]:
    return list(driver.execute_script(
        WIDGET + " ? Array.from(window.ParleyWidget.root.querySelectorAll("
        "'[data-testid=parley-message][data-sender=' + arguments[0] + ']'))"
        ".map(e => e.innerText.trim()) : []", sender))


def _widget_say(driver: Any, text: str) -> None:
    driver.execute_script("""
        const root = window.ParleyWidget.root;
        const input = root.querySelector('[data-testid=parley-input]');
        input.focus(); input.value = arguments[0];
        input.dispatchEvent(new Event('input', {bubbles: true}));
        root.querySelector('[data-testid=parley-send]').click();""", text)


def _admin_link(driver: Any, testid: str, timeout: float = 10) -> Any:
    """The console's link to an admin page, which sits in the top bar's Admin menu: opens the menu (a button,
    keyboard-usable) when the link is not showing, and returns the link once it is."""
    from selenium.webdriver.common.by import By

    css = f"[data-testid={testid}]"
    link = _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, css), timeout)[0]
    if not link.is_displayed():
        driver.find_element(By.CSS_SELECTOR, "[data-testid=admin-menu-toggle]").click()
        _wait(driver, lambda: driver.find_element(By.CSS_SELECTOR, css).is_displayed(), timeout)
    return driver.find_element(By.CSS_SELECTOR, css)


# --- shared by the browser test modules: a live server, logging in, waiting, clicking, screenshots -----------


def live_server(tmp: Path, name: str, env: dict[str, str] | None = None) -> LiveServer:
    """A real `parley run` on a fresh SQLite database under `tmp` (no Redis), `env` on top; its database
    URL is `server.db_url`. Stop it with `server.stop()` (a module's fixture does, after its tests)."""
    db_url = f"sqlite:///{tmp / 'instance' / 'parley.db'}"
    base = {"PARLEY_INSTANCE": str(tmp / "instance"), "DATABASE_URL": db_url, "REDIS_URL": "",
            "PARLEY_SECRET_KEY": f"{name}-test"}
    server = start_server({**base, **(env or {})}, tmp / "server.log")
    server.db_url = db_url
    return server


def add_users(server: LiveServer, *users: dict[str, Any]) -> None:
    """Creates these users in the server's database through the real action, one transaction: each is
    `do_create_user`'s keywords (email, name, role, team_name...), the password `PASSWORD` unless given."""
    from models.accounts.users import do_create_user
    from models.db import Database

    db = Database(server.db_url)
    try:
        with db.transaction() as s:
            for user in users:
                do_create_user(s, **{"password": PASSWORD, **user})
    finally:
        db.dispose()


def bearer(server: LiveServer, email: str, name: str | None = None) -> dict[str, str]:
    """Request headers with a fresh API token of `email` (issued in the server's database)."""
    from models.accounts.tokens import do_issue_token
    from models.db import Database

    db = Database(server.db_url)
    try:
        with db.transaction() as s:
            token = do_issue_token(s, email, name=name or "cli")
    finally:
        db.dispose()
    return {"Authorization": f"Bearer {token}"}


def wait_for(driver: Any, pred: Callable[[], Any], timeout: float = 10) -> Any:
    """Until `pred()` is truthy, and that value. `pred` should find what it reads each time it runs: an element
    the page redrew meanwhile is then found again, instead of failing as stale."""
    return _wait(driver, pred, timeout)


def found(driver: Any, css: str) -> list[Any]:
    """The elements matching `css` now (none yet: an empty list, for `wait_for`)."""
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def click(driver: Any, css: str, timeout: float = 10) -> None:
    """Click the first element matching `css` once it shows and is enabled. It is found afresh on every try
    and clicked at once, never held: a list or panel redrawn between finding and clicking (a live update)
    costs a retry, not a StaleElementReferenceException."""
    from selenium.common.exceptions import ElementClickInterceptedException, ElementNotInteractableException

    def attempt() -> bool:
        there = found(driver, css)
        if not there or not there[0].is_displayed() or not there[0].is_enabled():
            return False
        try:
            there[0].click()
        except (ElementClickInterceptedException, ElementNotInteractableException):
            return False  # covered for a moment (a toast, a closing menu): try again
        return True

    wait_for(driver, attempt, timeout)


def log_in(driver: Any, base_url: str, email: str, password: str, *, ready: str = "[data-testid=conv-list]",
           socket: bool = False, timeout: float = 10) -> None:
    """Sign in through the login form and wait for the console (`ready` shows); `socket`: also until the
    console's live connection is up, for tests that expect pushes from the first moment."""
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=login-email]").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=login-password]").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=login-submit]").click()
    wait_for(driver, lambda: found(driver, ready), timeout)
    if socket:
        wait_for(driver, lambda: driver.execute_script(
            "return !!(window.ParleyConsole && window.ParleyConsole.socket && window.ParleyConsole.socket.connected)"),
            timeout)


def screenshot(driver: Any, name: str) -> Path:
    """Save what the browser shows as `<SHOTS>/<name>.png` (for people reviewing a change), and its path."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
