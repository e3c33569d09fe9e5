"""The HTML report in a real headless browser (Debian's chromium driven by Playwright).

Skips with a clear message where chromium or Playwright is missing on a user's machine;
under CI (CI=true) a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import pytest

import cxloop
from cxloop.generate import generate
from cxloop.report import build_report
from tests.browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, require_browser


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    data = generate(base / "data", people=1500, seed=5)
    with cxloop.Workspace.init(base / "ws", brand="Northwind", competitors=("Contoso",)) as ws:
        ws.ingest(sorted(data.files.values()))
        return build_report(ws, base / "report.html")


def test_report_is_self_contained(report_file):
    html = report_file.read_text(encoding="utf-8")
    assert "<script" not in html.lower()  # nothing to download, nothing to run
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html.replace("https://vega.github.io", "")
    assert html.count("<svg") >= 8


def test_report_renders_in_chromium(report_file):
    require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report_file.as_uri())
            page.wait_for_load_state("load")
            titles = page.locator("section h2").all_inner_texts()
            assert titles[:2] == ["What changed", "Composite scorecard"]
            assert {"Advocacy", "Economic value", "By touchpoint"} <= set(titles)
            assert {
                "Journey",
                "Pivotal moments",
                "Customer lifetime value",
                "CLV validation",
                "Voice of the customer",
            } <= set(titles)
            charts = page.locator(".chart svg")
            assert charts.count() >= 10
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box and box["width"] > 100 and box["height"] > 50
                # A rendered chart has marks, not an empty frame.
                assert charts.nth(i).locator("path, rect, line").count() > 3
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
