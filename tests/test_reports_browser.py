"""In a real browser: a supervisor opens /reports on a small scripted history, loads the agents report, and
sees the numbers the API gives, a drawn chart, and each column's definition on hover."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.db import Database
from tests.support.actors import PASSWORD, make_user
from tests.support.browser import _wait, live_server, log_in, needs_browser, screenshot
from tests.support.live import LiveServer
from tests.support.reports import History, team_id

pytestmark = needs_browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """Support: agents Ada and Bob, supervisor Sam. Two days ago Ada answered two handed-off chats (after 60
    and 180 seconds), Bob one (after 120 seconds); one chat stayed with the bot."""
    srv = live_server(tmp_path_factory.mktemp("reports-browser"), "reports-browser")
    url = srv.db_url
    db = Database(url)
    ada = make_user(db, "ada@example.com", team="Support")
    bob = make_user(db, "bob@example.com", team="Support")
    make_user(db, "sam@example.com", role="supervisor", team="Support")
    support = team_id(db, "Support")
    t = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=2)

    def m(minutes: float, seconds: float = 0) -> datetime:
        return t + timedelta(minutes=minutes, seconds=seconds)

    for start, agent, wait in ((0, ada, 60), (20, ada, 180), (40, bob, 120)):
        (History(db, support, m(start)).customer(m(start)).bot(m(start, 5), "billing").handoff(m(start, 10))
         .assign(m(start, 10), agent).reply(m(start, 10 + wait), agent).close(m(start + 15)))
    History(db, support, m(60)).customer(m(60)).bot(m(60, 5), "hours").close(m(61))
    db.dispose()
    yield srv, url
    srv.stop()


def test_a_supervisor_reads_the_agents_report(server: tuple[LiveServer, str], browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    srv = server[0]
    sam = browsers()
    log_in(sam, srv.url, "sam@example.com", PASSWORD)

    sam.get(srv.url + "/reports")
    Select(sam.find_element(By.ID, "report-name")).select_by_value("agents")
    sam.find_element(By.CSS_SELECTOR, "[data-testid=report-load]").click()
    _wait(sam, lambda: len(sam.find_elements(By.CSS_SELECTOR, "#report-table tr")) > 2)

    table = sam.find_element(By.ID, "report-table")
    heads = [th.text for th in table.find_elements(By.TAG_NAME, "th")]
    shown = {tr.find_elements(By.TAG_NAME, "td")[0].text: [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
             for tr in table.find_elements(By.TAG_NAME, "tr")[1:]}
    # the same figures as the API's, for the period the page asked for
    period = sam.execute_script("return [document.getElementById('report-from').value,"
                                " document.getElementById('report-to').value]")
    api = sam.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "fetch('/api/v1/reports/agents?from=' + arguments[0] + '&to=' + arguments[1], {credentials: 'same-origin'})"
        ".then(r => r.json()).then(done);", *period)
    rows = {r["label"]: r for r in api["rows"]}
    assert {"Ada", "Bob"} <= set(shown) and "total" in shown
    for name, expect in (("Ada", {"replies_sent": "2", "conversations_handled": "2", "first_response_median": "120"}),
                         ("Bob", {"replies_sent": "1", "conversations_handled": "1", "first_response_median": "120"})):
        cells = dict(zip(heads, shown[name], strict=True))
        for col, value in expect.items():
            assert cells[col] == value == str(rows[name][col]).removesuffix(".0"), (name, col, cells[col])
    assert dict(zip(heads, shown["total"], strict=True))["replies_sent"] == "3"

    # each column says what it counts, on hover
    titles = {th.text: th.get_attribute("title") for th in table.find_elements(By.TAG_NAME, "th")}
    assert titles["replies_sent"] == api["definitions"]["replies_sent"] and len(titles["first_response_median"]) > 20

    # the chart starts on the report's main metric, not on the alphabetically first column
    assert Select(sam.find_element(By.ID, "report-metric")).first_selected_option.text == "conversations_handled"
    _wait(sam, lambda: "conversations_handled" in sam.find_element(By.ID, "report-plot").text)

    # the chart is drawn (uPlot's canvas has painted pixels), for the metric picked
    Select(sam.find_element(By.ID, "report-metric")).select_by_value("replies_sent")
    _wait(sam, lambda: "replies_sent" in sam.find_element(By.ID, "report-plot").text)
    painted = _wait(sam, lambda: sam.execute_script(
        "var c = document.querySelector('#report-plot canvas'); if (!c || !c.width) return 0;"
        "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;"
        "for (var i = 3; i < d.length; i += 4) if (d[i]) n++; return n;"))
    assert painted > 500
    screenshot(sam, "reports-agents")

    # loading the agents report again keeps the column picked; another report starts on its own main metric
    sam.find_element(By.CSS_SELECTOR, "[data-testid=report-load]").click()
    _wait(sam, lambda: sam.find_element(By.ID, "report-meta").text.startswith("From "))
    assert Select(sam.find_element(By.ID, "report-metric")).first_selected_option.text == "replies_sent"
    for name, main in (("live", "started"), ("bot", "containment_rate")):
        Select(sam.find_element(By.ID, "report-name")).select_by_value(name)
        sam.find_element(By.CSS_SELECTOR, "[data-testid=report-load]").click()
        _wait(sam, lambda main=main: main in sam.find_element(By.ID, "report-plot").text)
        assert Select(sam.find_element(By.ID, "report-metric")).first_selected_option.text == main


def test_the_conversation_header_offers_the_transcript_as_text_and_pdf(server: tuple[LiveServer, str],
                                                                       browsers: Callable[[], Any]) -> None:
    from selenium.webdriver.common.by import By
    from sqlalchemy import select

    from models.schema.conversations import Conversation

    srv, url = server
    db = Database(url)
    with db.session() as s:
        public_id = s.scalars(select(Conversation.public_id).order_by(Conversation.id)).first()
    db.dispose()
    sam = browsers()
    log_in(sam, srv.url, "sam@example.com", PASSWORD)
    sam.get(srv.url + "/#c/" + str(public_id))
    pdf = _wait(sam, lambda: sam.find_element(By.CSS_SELECTOR, "[data-testid=transcript-pdf]"))
    assert pdf.text == "Download PDF" and pdf.is_displayed()
    assert pdf.get_attribute("href").endswith(f"/api/v1/conversations/{public_id}/transcript?format=pdf")
    text = sam.find_element(By.CSS_SELECTOR, "[data-testid=transcript-text]")
    assert text.get_attribute("href").endswith("transcript?format=txt")
    got = sam.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.arrayBuffer().then(b => done("
        "[r.status, r.headers.get('content-type'), String.fromCharCode.apply(null, new Uint8Array(b.slice(0, 5)))])));",
        pdf.get_attribute("href"))
    assert got == [200, "application/pdf", "%PDF-"]
    screenshot(sam, "conversation-transcript-links")
