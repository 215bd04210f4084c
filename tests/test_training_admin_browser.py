"""The admin's training loop in a real browser against a real `parley run` (embedded engine): edit an
intent with a check first, save, train a candidate, evaluate it, see the history — all through the page's
own JavaScript under the console's CSP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.browser import (
    _admin_link,
    _browser,
    _wait,
    live_server,
    log_in,
    needs_browser,
    screenshot,
)
from tests.support.live import LiveServer

pytestmark = needs_browser
REPO_DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("studio") / "data"
    shutil.copytree(REPO_DATA, data)
    return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[LiveServer]:
    srv = live_server(tmp_path_factory.mktemp("studio-browser"), "studio-browser",
                      {"PARLEY_DATA": str(data_dir), "PARLEY_BOT_ENGINES": "embedded"})
    yield srv
    srv.stop()


@pytest.fixture
def admin(server: LiveServer) -> Iterator[Any]:
    assert server.admin is not None
    driver = _browser()
    log_in(driver, server.url, *server.admin, ready="[data-testid=admin-bot-link]")
    yield driver
    screenshot(driver, "studio-last")
    driver.quit()


def _shot(driver: Any, name: str) -> None:
    screenshot(driver, f"studio-{name}")


def test_the_admin_edits_trains_and_evaluates_from_the_page(server: LiveServer, admin: Any, data_dir: Path) -> None:
    from selenium.webdriver.common.by import By

    def find(css: str) -> Any:
        return admin.find_element(By.CSS_SELECTOR, css)

    def text_of(css: str) -> str:
        return " ".join(e.text for e in admin.find_elements(By.CSS_SELECTOR, css))

    _admin_link(admin, "admin-bot-link").click()  # in the top bar's Admin menu
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "[data-intent=greet]"))
    assert len(admin.find_elements(By.CSS_SELECTOR, ".intent-item")) == 20
    _shot(admin, "data")

    # a duplicate across intents is caught by "Check", before anything is saved
    find("[data-intent=goodbye]").click()
    _wait(admin, lambda: find("[data-testid=ed-examples]").get_attribute("value"))
    find("[data-testid=ed-examples]").send_keys("\nhi")
    find("[data-testid=ed-check]").click()
    _wait(admin, lambda: "appears under several intents" in text_of("[data-testid=problems]"))
    _shot(admin, "check")
    assert "- hi\n" not in (data_dir / "nlu.yml").read_text().split("intent: goodbye")[1].split("- intent:")[0]

    # a good change is saved, written to data/ and versioned
    find("[data-intent=greet]").click()
    _wait(admin, lambda: "hullo" in find("[data-testid=ed-examples]").get_attribute("value"))
    find("[data-testid=ed-examples]").send_keys("\ngood day to you <b>friend</b>")
    find("[data-testid=ed-save]").click()
    _wait(admin, lambda: "Saved as version" in find("#flash").text)
    nlu = yaml.safe_load((data_dir / "nlu.yml").read_text())
    greet = next(i for i in nlu["nlu"] if i.get("intent") == "greet")
    assert "- good day to you <b>friend</b>\n" in greet["examples"]
    # rendered as text, never as markup
    assert not admin.find_elements(By.CSS_SELECTOR, "#intent-editor b")

    # train a candidate and evaluate it, with progress
    find("[data-testid=tab-train]").click()
    _wait(admin, lambda: find("[data-testid=train-start]").is_enabled())
    find("[data-testid=train-start]").click()
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "tr[data-status=succeeded]"), timeout=120)
    _wait(admin, lambda: len(admin.find_elements(By.CSS_SELECTOR, "[data-testid=eval-model] option")) >= 2,
          timeout=20)
    _wait(admin, lambda: find("[data-testid=eval-start]").is_enabled())
    find("[data-testid=eval-start]").click()
    _wait(admin, lambda: len(admin.find_elements(By.CSS_SELECTOR, "tr[data-status=succeeded]")) == 2, timeout=120)
    assert "accuracy" in text_of("[data-testid=runs]")
    _shot(admin, "runs")
    # the evaluation's details: out-of-scope figures and the threshold sweep, drawn as an SVG
    find("tr.details-row summary").click()
    _wait(admin, lambda: "AUROC" in text_of("[data-testid=scope-panel]"))
    series = admin.find_elements(By.CSS_SELECTOR, "[data-testid=scope-panel] svg polyline")
    assert {line.get_attribute("data-series") for line in series} >= {"in_scope_accuracy", "false_handoff_rate"}
    _shot(admin, "evaluation-sweep")

    find("[data-testid=tab-models]").click()
    _wait(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "tr[data-version]"))
    _shot(admin, "models")
    find("[data-testid=tab-history]").click()
    _wait(admin, lambda: "Edited the examples of 'greet'" in text_of("[data-testid=versions]"))
    _shot(admin, "history")
    find("[data-testid=tab-handoffs]").click()
    _wait(admin, lambda: "No handoff messages" in text_of("[data-testid=handoff-groups]"))


def test_agents_cannot_open_the_page(server: LiveServer) -> None:
    r = requests.get(server.url + "/admin/bot", allow_redirects=False, timeout=5)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert requests.get(server.url + "/api/v1/bot/data", timeout=5).status_code == 401
