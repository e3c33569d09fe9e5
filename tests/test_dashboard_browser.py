"""The web dashboard in a real headless browser (Debian's chromium driven by Playwright),
against a real `cxloop serve` stack (uvicorn in a thread, tests/servers.py).

Skips with a clear message where chromium or Playwright is missing on a user's machine;
under CI (CI=true) a missing browser is a failure, never a skip. The first test checks the
dashboard's routes over plain HTTP and runs everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import cxloop
from cxloop.generate import generate
from tests.browser import ARTIFACTS
from tests.servers import Server, running_server

GOALS = '["nps >= 40 by 2030-12-31", "retention_rate >= 0.2"]'

# Each page and charts it must draw from the generated data (data-chart names).
PAGES: dict[str, set[str]] = {
    "scorecard": {
        "nps-trend",
        "ces-trend",
        "satisfaction-trend",
        "revenue-bars",
        "retention-trend",
        "aov-trend",
        "advocacy-bars",
        "sov-trend",
        "referral-bars",
        "breakdown-nps",
    },
    "journey": {
        "loop-flows",
        "loop-stalled",
        "funnel-steps",
        "funnel-trend",
        "touchpoint-conversion",
        "touchpoint-scatter",
        "attribution-touchpoint",
        "attribution-channel",
    },
    "moments": {"moments-effects"},
    "segments": {
        "segments-matrix",
        "segments-nps",
        "segments-transitions",
        "segments-periods",
        "personas-share",
        "personas-drift",
    },
    "voc": {
        "sentiment-trend",
        "themes-trend",
        "sentiment-sources",
        "themes-sentiment",
        "advocacy-intents",
        "competitors-sov",
        "competitors-sentiment",
    },
    "profiles": {"profile-timeline"},
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("dashboard")
    data = generate(base / "data", people=1500, seed=5)
    with cxloop.Workspace.init(base / "ws", brand="Northwind", competitors=("Contoso",)) as ws:
        ws.ingest(sorted(data.files.values()))
    config = base / "ws" / "cxloop.toml"
    text = config.read_text(encoding="utf-8")
    assert "goals = []" in text
    config.write_text(text.replace("goals = []", f"goals = {GOALS}"), encoding="utf-8")
    return base / "ws"


@pytest.fixture(scope="module")
def server(workspace) -> Iterator[Server]:
    with running_server(workspace) as running:
        yield running


class Recorder:
    """What a page did that a test must see: console errors, page errors, every request."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.origin = urlsplit(base_url)[:2]
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u)[:2] != self.origin]

    def check(self, *, expected_status: tuple[int, ...] = ()) -> None:
        """No request left the server; no error but the HTTP statuses the test provoked."""
        assert self.foreign_requests() == []
        allowed = tuple(f"status of {s}" for s in expected_status)
        assert [e for e in self.errors if not (allowed and any(a in e for a in allowed))] == []


@pytest.fixture
def page(browser, server) -> Iterator[tuple[Any, Recorder]]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    recorder = Recorder(tab, server.base_url)
    try:
        yield tab, recorder
    finally:
        context.close()


def _ready(tab: Any, page: str, *, hash_has: str = "", timeout: float = 30_000) -> None:
    """Wait until `page` is drawn (charts included) or shows its error."""
    selector = f'#view[data-page="{page}"]:is([data-state="ready"], [data-state="error"])'
    if hash_has:
        selector += f'[data-hash*="{hash_has}"]'
    tab.wait_for_selector(selector, timeout=timeout)


def _sign_in(tab: Any, server: Server, key: str) -> None:
    tab.goto(server.base_url + "/")
    tab.fill("#key-input", key)
    tab.click("#login-form button[type=submit]")
    _ready(tab, "scorecard")


def _check_charts(tab: Any, page: str) -> set[str]:
    """Every chart of the page is an SVG with data marks; returns the charts' names."""
    charts = tab.locator("#view figure.chart")
    names = set()
    for i in range(charts.count()):
        figure = charts.nth(i)
        name = figure.get_attribute("data-chart")
        names.add(name)
        svg = figure.locator("svg")
        assert svg.count() == 1, f"{page}: chart {name} has no SVG"
        box = svg.bounding_box()
        assert box and box["width"] > 150 and box["height"] > 60, f"{page}: {name} is {box}"
        # Data marks, not an empty frame (axes and legends have other roles).
        assert svg.locator("g.role-mark > *").count() > 0, f"{page}: {name} draws no marks"
        assert figure.locator("svg .role-title").count() >= 1, f"{page}: {name} has no title"
        assert figure.locator("svg .role-axis-title").count() >= 1, f"{page}: {name} axis title"
        assert figure.evaluate(AXIS_TITLE_OVER_LABELS) == [], f"{page}: {name} labels hidden"
    return names


# Axis titles drawn over tick labels (a label measured narrower than it is drawn): the
# labels each title overlaps.
AXIS_TITLE_OVER_LABELS = """figure => {
  const overlaps = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
    a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const hidden = [];
  for (const axis of figure.querySelectorAll("svg g.role-axis")) {
    const title = axis.querySelector(".role-axis-title text");
    if (!title) continue;
    const box = title.getBoundingClientRect();
    for (const label of axis.querySelectorAll(".role-axis-label text")) {
      if (overlaps(box, label.getBoundingClientRect())) hidden.push(label.textContent);
    }
  }
  return hidden;
}"""


# -- over HTTP, no browser needed ----------------------------------------------------------
def test_dashboard_routes_need_no_key_and_serve_only_their_files(server):
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        index = http.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        csp = index.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe-eval" not in csp
        assert "http://" not in index.text and "https://" not in index.text

        js = http.get("/static/app.js")
        assert js.status_code == 200
        assert js.headers["content-type"].startswith("text/javascript")
        assert js.headers["x-content-type-options"] == "nosniff"
        again = http.get("/static/app.js", headers={"If-None-Match": js.headers["etag"]})
        assert again.status_code == 304
        assert http.get("/static/app.css").headers["content-type"].startswith("text/css")

        vega = http.get("/static/vendor/vega.js")
        assert vega.status_code == 200
        assert vega.headers["content-type"].startswith("text/javascript")
        assert "max-age" in vega.headers["cache-control"]
        assert "window.vegaEmbed" in vega.text and len(vega.text) > 100_000

        for path in (
            "/static/%2e%2e/app.py",
            "/static/%2e%2e/%2e%2e/workspace.py",
            "/static//etc/passwd",
            "/static/pages/%2e%2e/%2e%2e/dashboard.py",
            "/static/.hidden",
            "/static/missing.js",
            "/static/pages",
        ):
            assert http.get(path).status_code == 404, path
        # The data stays behind the key.
        assert http.get("/v1/scorecard").status_code == 401


# -- in the browser ------------------------------------------------------------------------
def test_wrong_key_is_refused_with_a_message(page, server):
    tab, recorder = page
    tab.goto(server.base_url + "/")
    assert tab.locator("#login").is_visible()
    assert tab.locator("label[for=key-input]").inner_text() == "API key"
    tab.fill("#key-input", "cxl_00000000_not-a-real-key-at-all-000000000000000000000")
    tab.click("#login-form button[type=submit]")
    message = tab.locator("#login-message")
    message.filter(has_text="not accepted").wait_for()
    assert "invalid or revoked" in message.inner_text()
    assert tab.locator("#nav").is_hidden()
    assert tab.evaluate("() => sessionStorage.length + localStorage.length") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "dashboard-login.png"))

    # A valid key of a role that may not read analyses: signed in, told why nothing shows.
    _sign_in(tab, server, server.ingest)
    error = tab.locator("#view .error-box")
    assert "admin or analyst role" in error.inner_text()
    recorder.check(expected_status=(401, 403))


def test_every_page_renders_its_charts(page, server):
    tab, recorder = page
    _sign_in(tab, server, server.analyst)
    # The key is kept for this tab only.
    assert tab.evaluate("() => sessionStorage.length") == 1
    assert tab.evaluate("() => localStorage.length") == 0
    assert "key " in tab.locator("#whoami").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    customers = _first_customer_email(server)
    for name, expected in PAGES.items():
        if name == "profiles":
            tab.goto(f"{server.base_url}/#/profiles")
            _ready(tab, "profiles")
            tab.fill("#profile-key", customers)
            tab.press("#profile-key", "Enter")
            _ready(tab, "profiles", hash_has="id=P")
            # The shareable URL names the profile by its id, never by the email typed.
            assert "@" not in tab.url and "%40" not in tab.url
            assert tab.locator('[data-section="records"] tbody tr').count() >= 1
            assert "rule:" in tab.locator('[data-section="why-merged"] ul').inner_text()
            assert tab.locator('[data-section="timeline"] tbody tr').count() >= 1
        else:
            tab.click(f'#nav a[data-page="{name}"]')
            _ready(tab, name)
        assert tab.locator("#view").get_attribute("data-state") == "ready", (
            name,
            tab.locator("#view .error-box").all_inner_texts(),
        )
        assert tab.locator(f'#nav a[data-page="{name}"]').get_attribute("aria-current") == "page"
        drawn = _check_charts(tab, name)
        assert expected <= drawn, f"{name}: missing charts {expected - drawn}"
        # Every form control is labelled.
        for control in tab.locator("#view select, #view input").all():
            control_id = control.get_attribute("id")
            assert control_id and tab.locator(f'label[for="{control_id}"]').count() == 1
        tab.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)

    recorder.check()
    assert all((ARTIFACTS / f"dashboard-{n}.png").stat().st_size > 10_000 for n in PAGES)


def _first_customer_email(server: Server) -> str:
    """An email that the workspace's profiles know (read through the API, as a user would)."""
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        headers = {"Authorization": f"Bearer {server.analyst}"}
        clv = http.get("/v1/clv", headers=headers).json()
        profile_id = clv["top_customers"][0]["profile_id"]
        profile = http.get(f"/v1/profiles/{profile_id}", headers=headers).json()
    assert profile["email"]
    return profile["email"]


def test_scorecard_tiles_and_filters(page, server):
    tab, recorder = page
    _sign_in(tab, server, server.analyst)
    tiles = tab.locator("#view .tile")
    assert [t.get_attribute("data-metric") for t in tiles.all()] == [
        "nps",
        "ces",
        "csat",
        "historical_customer_value",
        "retention_rate",
        "mentions_genuine_reach",
    ]
    nps = tab.locator('.tile[data-metric="nps"]')
    assert "95% CI" in nps.locator('[data-role="ci"]').inner_text()
    assert "n = " in nps.locator('[data-role="ci"]').inner_text()
    assert "off track" in nps.locator(".tile-goal").inner_text()
    retention = tab.locator('.tile[data-metric="retention_rate"]')
    assert "met" in retention.locator(".tile-goal").inner_text()
    assert (
        "Predicted 12-month CLV"
        in tab.locator(
            '.tile[data-metric="historical_customer_value"] [data-role="extra"]'
        ).inner_text()
    )
    monthly = nps.locator('[data-role="trend"]').inner_text()
    assert " vs " in monthly and "-Q" not in monthly
    breakdown_before = tab.locator('[data-section="breakdown"] tbody').inner_text()

    tab.select_option("#f-period", "quarter")
    _ready(tab, "scorecard", hash_has="period=quarter")
    quarterly = tab.locator('.tile[data-metric="nps"] [data-role="trend"]').inner_text()
    assert "-Q" in quarterly and quarterly != monthly
    assert "period=quarter" in tab.url

    tab.select_option("#f-by", "channel")
    _ready(tab, "scorecard", hash_has="by=channel")
    assert tab.locator('[data-section="breakdown"] h2').inner_text() == "By channel"
    assert tab.locator('[data-section="breakdown"] tbody').inner_text() != breakdown_before
    _check_charts(tab, "scorecard")

    tab.fill("#f-since", "2025-07-01")
    tab.press("#f-since", "Tab")  # commits the date (the change event)
    _ready(tab, "scorecard", hash_has="since=2025-07-01")
    first_period = tab.locator('[data-chart="revenue-bars"] .role-axis-label text').first
    assert (first_period.text_content() or "").startswith("2025")

    # The view is in the URL: a reload (same tab, key kept) shows the same filters.
    tab.reload()
    _ready(tab, "scorecard", hash_has="by=channel")
    assert tab.locator("#f-period").input_value() == "quarter"
    assert tab.locator("#f-by").input_value() == "channel"
    assert tab.locator("#f-since").input_value() == "2025-07-01"
    recorder.check()


def test_errors_and_lookups_are_shown_as_text(page, server):
    tab, recorder = page
    _sign_in(tab, server, server.analyst)
    # The API's own message when it refuses the parameters: never a blank page.
    tab.goto(f"{server.base_url}/#/moments?window_days=0")
    _ready(tab, "moments", hash_has="window_days=0")
    assert tab.locator("#view").get_attribute("data-state") == "error"
    assert "greater than or equal to 1" in tab.locator("#view .error-box").inner_text()

    # Text typed by a user or sent by the API is text, never markup.
    tab.goto(f"{server.base_url}/#/profiles")
    _ready(tab, "profiles")
    hostile = '<img src=x onerror="window.__pwned=1">'
    tab.fill("#profile-key", hostile)
    tab.press("#profile-key", "Enter")
    tab.locator("#profile-message").filter(has_text="No profile matches").wait_for()
    assert hostile in tab.locator("#profile-message").inner_text()
    assert tab.locator("#view img").count() == 0
    assert tab.evaluate("() => window.__pwned === undefined")

    tab.click("#logout")
    assert tab.locator("#login").is_visible()
    assert tab.evaluate("() => sessionStorage.length") == 0
    recorder.check(expected_status=(404, 422))
