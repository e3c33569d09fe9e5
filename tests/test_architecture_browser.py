"""The "Architecture & content" dashboard page and the scorecard's benchmarks in chromium,
and the report's sections, over a workspace with the generator's content, the example
architecture and a benchmark file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import cxloop
from cxloop.content.sample import load_sample_content
from cxloop.experience.example import write_example
from cxloop.generate import generate
from tests.browser import ARTIFACTS
from tests.conftest import run_cli
from tests.servers import Server, running_server
from tests.test_dashboard_browser import Recorder, _check_charts, _ready, _sign_in

BENCHMARKS = (
    "metric,industry,period,value,source,ci_low,ci_high,n\n"
    "nps,retail,2025,30,Example CX Index,27,33,4000\n"
    "csat,retail,2025,0.8,Example satisfaction index,,,\n"
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("architecture-browser")
    data = generate(base / "data", people=2000, seed=5)
    with cxloop.Workspace.init(base / "ws", brand="Northwind") as ws:
        ws.ingest(sorted(data.files.values()))
        load_sample_content(ws, data.content)
        ws.profiles.build()
    write_example(base / "ws")
    (base / "benchmarks.csv").write_text(BENCHMARKS, encoding="utf-8")
    imported = run_cli("benchmarks", "import", str(base / "ws"), str(base / "benchmarks.csv"))
    assert imported.returncode == 0, imported.stderr
    # The report is built before the server takes the workspace (one process at a time).
    with cxloop.Workspace.open(base / "ws") as ws:
        from cxloop.report import build_report

        build_report(ws, base / "report.html")
    return base / "ws"


@pytest.fixture(scope="module")
def server(workspace) -> Iterator[Server]:
    with running_server(workspace) as running:
        yield running


def test_architecture_page_and_scorecard_benchmarks(browser, server) -> None:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    recorder = Recorder(tab, server.base_url)
    try:
        _sign_in(tab, server, server.analyst)
        tab.click('#nav a[data-page="architecture"]')
        _ready(tab, "architecture", timeout=90_000)
        assert tab.locator("#view").get_attribute("data-state") == "ready"
        drawn = _check_charts(tab, "architecture")
        assert {"content-lift", "content-reach", "architecture-reach"} <= drawn
        content = tab.locator('[data-section="content"]').inner_text()
        assert "Getting-started video" in content and "naive" in content
        arch = tab.locator('[data-section="architecture"]').inner_text()
        assert "no owner" in arch and "The value framework" in arch
        for control in tab.locator("#view select, #view input").all():
            control_id = control.get_attribute("id")
            assert control_id and tab.locator(f'label[for="{control_id}"]').count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "dashboard-architecture.png"), full_page=True)
        # The scorecard with yearly periods shows the benchmarks against our figures.
        tab.goto(f"{server.base_url}/#/scorecard?period=year")
        _ready(tab, "scorecard", hash_has="period=year", timeout=90_000)
        bench = tab.locator('[data-section="benchmarks"]').inner_text()
        assert "Example CX Index" in bench and "no interval published" in bench
        recorder.check()
    finally:
        context.close()


def test_report_has_the_new_sections(workspace) -> None:
    html = (workspace.parent / "report.html").read_text(encoding="utf-8")
    for title in ("Experience architecture", "Content at the moments that matter",
                  "External benchmarks", "The value framework"):  # fmt: skip
        assert title in html, title
    assert "C001 Getting-started video" in html
