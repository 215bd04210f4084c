"""Driving Debian's Chromium as a person would: start it, wait for the page, type into the widget."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
