"""The dashboard's Closed loop page in a real headless browser (Debian's chromium), against a
real `cxloop serve` stack: an analyst sees the backlog, the SLA and the loop's effect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cxloop.loop_settings import CasesSettings, TriggersSettings
from cxloop.programs.cases import Cases
from cxloop.programs.store import ProgramStore
from tests.browser import ARTIFACTS
from tests.conftest import write
from tests.loop_helpers import loop_workspace, set_settings
from tests.servers import Server, running_server

CUSTOMERS = "customer_id,source,email,consent_marketing\nC1,shop,a@example.com,true\n"
TOUCHPOINTS = "touchpoint,stage,owner\ndelivery,own,logistics\ncheckout,buy,ecommerce\n"
FEEDBACK = """response_id,customer_id,source,submitted_at,metric,score,touchpoint,text
F1,C1,shop,2026-01-05T10:00:00Z,nps,2,delivery,The courier was late again
F2,C1,shop,2026-01-06T10:00:00Z,csat,1,checkout,Payment failed twice
F3,C1,shop,2026-02-06T10:00:00Z,nps,8,,Better since you called
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("cases-dashboard")
    path = base / "ws"
    loop_workspace(path).close()
    set_settings(path, "voc.pinned", {"delivery": ["late", "courier"]})
    from cxloop import Workspace

    with Workspace.open(path) as ws:
        ws.ingest([write(base / "in" / "customers.csv", CUSTOMERS),
                   write(base / "in" / "touchpoints.csv", TOUCHPOINTS),
                   write(base / "in" / "feedback.csv", FEEDBACK)])  # fmt: skip
    with ProgramStore.open(path) as store:
        cases = Cases(store, CasesSettings(), TriggersSettings())
        first = next(c for c in cases.list() if c.team == "logistics")
        cases.assign(first.case_id, "ana", actor="test")
        cases.resolve(first.case_id, "courier re-sent", actor="test")
    with running_server(path) as running:
        yield running


def test_an_analyst_sees_the_closed_loop(browser, server):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        tab.goto(server.base_url + "/")
        tab.fill("#key-input", server.analyst)
        tab.click("#login-form button[type=submit]")
        tab.wait_for_selector("#nav:not([hidden])")
        tab.click('#nav a[data-page="cases"]')
        tab.wait_for_selector(
            '#view[data-page="cases"]:is([data-state="ready"], [data-state="error"])',
            timeout=30_000,
        )
        view = tab.locator("#view")
        assert view.get_attribute("data-state") == "ready", (view.inner_text(), errors)
        summary = tab.locator('[data-section="summary"]').inner_text()
        assert "Open: 1 of 2 cases" in summary
        teams = tab.locator('[data-section="teams"] tbody tr')
        assert teams.count() == 2
        assert "logistics" in tab.locator('[data-section="teams"]').inner_text()
        assert "delivery" in tab.locator('[data-section="themes"]').inner_text()
        loop = tab.locator('[data-section="loop"]').inner_text()
        assert "followed up" in loop and "difference" in loop
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "dashboard-cases.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
