"""The dashboard's Advocacy page in a real headless browser (Debian's chromium), against a
real `cxloop serve` stack: an analyst sees the program's figures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import cxloop
from cxloop.programs.advocacy.reactions import close_ledgers
from tests.advocacy_fixtures import enable_advocacy
from tests.browser import ARTIFACTS
from tests.servers import Server, running_server
from tests.test_advocacy_referrals import CUSTOMERS, FEEDBACK, ORDERS, REFERRALS


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("advocacy-dashboard")
    files = {"customers": CUSTOMERS, "orders": ORDERS.format(o2="completed"),
             "referrals": REFERRALS, "feedback": FEEDBACK}  # fmt: skip
    with cxloop.Workspace.init(base / "ws", brand="Northwind") as ws:
        enable_advocacy(ws)
        for kind, text in files.items():
            (base / f"{kind}.csv").write_text(text)
        ws.ingest([base / f"{kind}.csv" for kind in files])
    close_ledgers()
    with running_server(base / "ws") as running:
        yield running
    close_ledgers()


def _open(browser: Any, server: Server, key: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(server.base_url + "/")
    tab.fill("#key-input", key)
    tab.click("#login-form button[type=submit]")
    tab.wait_for_selector("#nav:not([hidden])")
    tab.click('#nav a[data-page="advocacy"]')
    tab.wait_for_selector(
        '#view[data-page="advocacy"]:is([data-state="ready"], [data-state="error"])',
        timeout=30_000,
    )
    return context, tab, errors


def test_an_analyst_sees_the_program(browser, server):
    context, tab, errors = _open(browser, server, server.analyst)
    try:
        assert tab.locator("#view").get_attribute("data-state") == "ready", (
            tab.locator("#view").inner_text(),
            errors,
        )
        summary = tab.locator('[data-section="summary"]').inner_text()
        assert "1 converted" in summary and "2 held for review" in summary
        assert tab.locator('[data-section="leaderboard"] tbody tr').count() >= 1
        fraud = tab.locator('[data-section="fraud"]').inner_text()
        assert "shared_email" in fraud and "shared_address" in fraud
        assert tab.locator('[data-section="asks"] tbody tr').count() == 5
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "dashboard-advocacy.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
