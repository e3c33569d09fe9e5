"""The scorecard against a small hand-computed case (every figure worked out in comments)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

import cxloop
from cxloop.analytics.periods import Period
from cxloop.analytics.scorecard import Scope, build_scorecard
from cxloop.errors import ConfigError, CxloopError
from tests.conftest import run_cli, write

CUSTOMERS = """customer_id,email,country,attributes
c1,c1@x.com,US,"{""segment"": ""a""}"
c2,c2@x.com,US,
c3,c3@x.com,GB,
c4,c4@x.com,GB,
"""
ORDERS = """order_id,customer_id,ordered_at,amount,status,channel
o1,c1,2025-01-05,100,completed,web
o2,c1,2025-02-10,50,completed,web
o3,c2,2025-01-20,30,completed,store
o4,c3,2025-02-03,20,completed,web
o5,c3,2025-02-04,10,returned,web
o6,c4,2025-03-01,40,completed,store
o7,c1,2025-03-15,60,completed,web
"""
FEEDBACK = """response_id,customer_id,submitted_at,metric,score,touchpoint,public
r1,c1,2025-01-10,nps,10,,
r2,c2,2025-01-11,nps,9,delivery,
r3,c3,2025-02-12,nps,5,delivery,
r4,c4,2025-02-13,nps,7,,
r5,c1,2025-02-14,ces,6,support_contact,
r6,c2,2025-02-15,ces,3,support_contact,
r7,c3,2025-03-01,csat,5,,
r8,c4,2025-03-02,csat,3,,
r9,c1,2025-03-03,rating,4,,true
r10,c2,2025-03-04,rating,2,,true
"""
MENTIONS = """mention_id,posted_at,platform,author,brand,kind,reach,text
m1,2025-01-02,x,a,Northwind,post,100,You should all try Northwind. Highly recommend!
m2,2025-01-02,x,b,Northwind,like,50,
m3,2025-01-03,x,c,Contoso,post,300,Contoso has a sale this week.
m4,2025-01-03,x,d,Other,post,1000,
m5,2025-02-03,reddit,e,northwind ,review,10,Great shop - go get yours at Northwind!
m6,2025-02-04,x,f,Northwind,post,40,Northwind opened a store on Main Street.
"""
REFERRALS = """referral_id,referrer_id,created_at,converted_order_id
f1,c1,2025-02-20,o6
f2,c1,2025-03-20,
"""
EVENTS = """event_id,customer_id,occurred_at,touchpoint,duration_s
e1,c1,2025-01-05T10:00:00,product_view,10
e2,c1,2025-01-05T10:05:00,checkout,20
e3,c1,2025-01-05T12:00:00,support_contact,100
e4,c2,2025-01-20T09:00:00,product_view,30
"""
TOUCHPOINTS = """touchpoint,stage,owner
delivery,own,logistics
support_contact,own,customer_care
product_view,buy,ecommerce
checkout,buy,ecommerce
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    base = tmp_path_factory.mktemp("scorecard")
    workspace = cxloop.Workspace.init(base / "ws", brand="Northwind", competitors=("Contoso",))
    config = base / "ws" / "cxloop.toml"
    config.write_text(
        config.read_text().replace(
            "goals = []",
            'goals = ["nps >= 20", "csat >= 0.9 by 2020-01-01", "revenue >= 50"]',
        )
    )
    workspace.close()
    workspace = cxloop.Workspace.open(base / "ws")
    files = [
        write(base / f"{name}.csv", text)
        for name, text in [
            ("customers", CUSTOMERS),
            ("orders", ORDERS),
            ("feedback", FEEDBACK),
            ("mentions", MENTIONS),
            ("referrals", REFERRALS),
            ("events", EVENTS),
            ("touchpoints", TOUCHPOINTS),
        ]
    ]
    assert all(f.rejected == 0 for f in workspace.ingest(files).files)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def doc(ws):
    return build_scorecard(ws, Scope(period=Period.MONTH), today=date(2025, 4, 1))


def value(metrics, name):
    return metrics[name]["value"]


def test_advocacy(doc):
    m = doc["metrics"]
    # P = r1, r2; passive = r4; D = r3: NPS = 100 * (2 - 1) / 4 = 25.
    assert m["nps"]["value"] == pytest.approx(25.0)
    assert (m["nps"]["promoters"], m["nps"]["passives"], m["nps"]["detractors"]) == (2, 1, 1)
    assert m["nps"]["n"] == 4 and m["nps"]["ci_low"] < 25 < m["nps"]["ci_high"]
    assert value(m, "nps_relational") == pytest.approx(50.0)  # r1 P, r4 passive
    assert value(m, "nps_transactional") == pytest.approx(0.0)  # r2 P, r3 D


def test_ease_and_satisfaction(doc):
    m = doc["metrics"]
    assert value(m, "ces") == pytest.approx(4.5) and m["ces"]["n"] == 2
    assert value(m, "ces_easy_share") == pytest.approx(0.5)
    assert value(m, "csat") == pytest.approx(0.5)
    assert value(m, "rating") == pytest.approx(3.0)
    assert value(m, "duration_median") == pytest.approx(25.0)  # median of 10, 20, 100, 30
    # c1: 10:00, 10:05 then 12:00 (a gap over 30 minutes): 2 journeys; c2: 1 journey.
    assert value(m, "steps_per_journey") == pytest.approx(4 / 3)
    assert m["steps_per_journey"]["n"] == 3
    assert value(m, "support_contact_rate") == pytest.approx(0.5)  # c1 of c1, c2


def test_economic_value(doc):
    m = doc["metrics"]
    assert value(m, "revenue") == pytest.approx(300.0)  # o5 was returned
    assert value(m, "orders") == 6 and value(m, "customers") == 4
    assert value(m, "aov") == pytest.approx(50.0)
    assert value(m, "purchase_frequency") == pytest.approx(1.5)  # 3, 1, 1, 1
    assert value(m, "historical_customer_value") == pytest.approx(75.0)  # 210, 30, 20, 40
    assert value(m, "top20_revenue_share") == pytest.approx(210 / 300)  # top 1 of 4 is c1
    # Feb: of Jan's buyers {c1, c2}, c1 buys again; Mar: of Feb's {c1, c3}, c1 again.
    assert value(m, "retention_rate") == pytest.approx(0.5) and m["retention_rate"]["n"] == 4
    assert value(m, "repeat_purchase_rate") == pytest.approx(0.25)  # only c1 bought twice+


def test_social_value_and_acts(doc):
    m = doc["metrics"]
    # Genuine advocacy is intent, not kind: m6 is a post of ours that recommends nothing.
    assert value(m, "mentions_genuine") == 2 and value(m, "mentions_genuine_reach") == 110
    assert value(m, "mentions_amplification") == 1
    assert value(m, "share_of_voice") == pytest.approx(0.8)  # 4 of 5 tracked; m4 untracked
    assert value(m, "share_of_voice_reach") == pytest.approx(200 / 500)
    assert value(m, "referrals") == 2 and value(m, "referrals_converted") == 1
    assert value(m, "referral_conversion_rate") == pytest.approx(0.5)
    assert value(m, "public_reviews") == 2 and value(m, "positive_public_reviews") == 1


def test_trend_by_month(doc):
    months = {t["period"]: t["metrics"] for t in doc["trend"]}
    assert list(months) == ["2025-01", "2025-02", "2025-03"]
    assert value(months["2025-01"], "nps") == pytest.approx(100.0)
    assert value(months["2025-02"], "nps") == pytest.approx(-50.0)
    # No NPS answers in March: no value, n = 0 (never a fake 0).
    assert months["2025-03"]["nps"] == {
        "value": None,
        "n": 0,
        "ci_low": None,
        "ci_high": None,
        "promoters": 0,
        "passives": 0,
        "detractors": 0,
    }
    assert months["2025-01"]["retention_rate"]["value"] is None
    assert value(months["2025-02"], "retention_rate") == pytest.approx(0.5)
    assert [value(months[k], "repeat_purchase_rate") for k in months] == pytest.approx(
        [0.0, 0.5, 0.5]
    )
    assert [value(months[k], "revenue") for k in months] == pytest.approx([130, 70, 100])
    # The last activity (order o7) is on 2025-03-15: March is incomplete.
    assert [t["complete"] for t in doc["trend"]] == [True, True, False]
    changes = doc["trend"][1]["changes"]["nps"]
    assert changes["change"] == pytest.approx(-150.0) and changes["test"].startswith("z test")


def test_breakdowns(ws):
    by_tp = build_scorecard(ws, Scope(by="touchpoint"))
    groups = {b["group"]: b["metrics"] for b in by_tp["breakdown"]}
    assert value(groups["delivery"], "nps_transactional") == pytest.approx(0.0)
    assert value(groups["(relationship)"], "nps") == pytest.approx(50.0)
    by_country = build_scorecard(ws, Scope(by="country"))
    groups = {b["group"]: b["metrics"] for b in by_country["breakdown"]}
    assert value(groups["US"], "nps") == pytest.approx(100.0)
    assert value(groups["GB"], "nps") == pytest.approx(-50.0)
    assert value(groups["US"], "revenue") == pytest.approx(240.0)
    by_channel = build_scorecard(ws, Scope(by="channel"))
    groups = {b["group"]: b["metrics"] for b in by_channel["breakdown"]}
    assert value(groups["store"], "revenue") == pytest.approx(70.0)
    by_segment = build_scorecard(ws, Scope(by="segment"))
    groups = {b["group"]: b["metrics"] for b in by_segment["breakdown"]}
    assert value(groups["a"], "revenue") == pytest.approx(210.0)


def test_window(ws):
    doc = build_scorecard(ws, Scope(since=datetime(2025, 2, 1), until=datetime(2025, 4, 1)))
    assert doc["metrics"]["nps"]["n"] == 2
    assert value(doc["metrics"], "revenue") == pytest.approx(170.0)
    with pytest.raises(CxloopError, match="before"):
        Scope(since=datetime(2025, 3, 1), until=datetime(2025, 2, 1))
    with pytest.raises(CxloopError, match="unknown breakdown"):
        Scope(by="colour")


def test_goals(doc):
    goals = {g["goal"]: g for g in doc["goals"]}
    nps = goals["nps >= 20"]
    # The latest month with NPS answers is February: -50, gap 70, too few periods to project.
    assert (nps["value"], nps["gap"], nps["status"]) == (-50.0, 70.0, "off track")
    assert goals["csat >= 0.9 by 2020-01-01"]["status"] == "missed"
    assert goals["revenue >= 50"]["status"] == "met"


def test_bad_goals_are_config_errors():
    from cxloop.analytics.scorecard.goals import parse_goal

    with pytest.raises(ConfigError, match="unknown metric"):
        parse_goal("happiness >= 3")
    with pytest.raises(ConfigError, match="must read like"):
        parse_goal("nps is great")


def test_significant_changes_are_flagged(tmp_path):
    rows = ["response_id,submitted_at,metric,score"]
    for i in range(300):  # January: NPS 0; February: NPS 60 (n = 300 each)
        rows.append(f"a{i},2025-01-15,nps,{10 if i % 2 else 0}")
        rows.append(f"b{i},2025-02-15,nps,{10 if i % 5 else 0}")
        rows.append(f"c{i},2025-03-15,nps,{10 if i % 5 else 0}")
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        ws.ingest([write(tmp_path / "feedback.csv", "\n".join(rows) + "\n")])
        doc = build_scorecard(ws)
    feb, mar = doc["trend"][1]["changes"]["nps"], doc["trend"][2]["changes"]["nps"]
    assert feb["significant"] and feb["q_value"] < 0.001
    assert not mar["significant"] and mar["change"] == pytest.approx(0.0)


def test_cli_scorecard(tmp_path):
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        ws.ingest([write(tmp_path / "feedback.csv", FEEDBACK)])
    result = run_cli("scorecard", str(tmp_path / "ws"), "--period", "quarter", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) >= {"period", "metrics", "trend", "breakdown", "goals"}
    assert doc["period"] == "quarter"
    nps = doc["metrics"]["nps"]
    assert set(nps) >= {"value", "n", "ci_low", "ci_high", "promoters", "passives", "detractors"}
    table = run_cli("scorecard", str(tmp_path / "ws"))
    assert table.returncode == 0 and "NPS, all answers" in table.stdout
    bad = run_cli("scorecard", str(tmp_path / "ws"), "--period", "week")
    assert bad.returncode != 0 and "unknown period" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("scorecard", str(tmp_path / "ws"), "--since", "last year")
    assert bad.returncode != 0 and "ISO 8601" in bad.stderr


def test_an_empty_workspace_gives_nulls_not_errors(tmp_path):
    from cxloop.report import build_report

    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        doc = build_scorecard(ws)
        assert doc["trend"] == [] and doc["breakdown"] == []
        assert doc["metrics"]["nps"]["value"] is None and doc["metrics"]["nps"]["n"] == 0
        assert doc["metrics"]["revenue"]["value"] == 0  # an exact total: nothing was sold
        html = build_report(ws, tmp_path / "report.html").read_text(encoding="utf-8")
        assert "Not available" in html  # the CLV section says why, the report still renders


WINDOW_ORDERS = """order_id,customer_id,ordered_at,amount,status
o1,c1,2024-01-05,10,completed
o2,c1,2024-01-20,20,completed
o3,c2,2024-01-25,30,completed
o4,c2,2024-02-10,40,completed
o5,c3,2024-02-05,50,completed
o6,c1,2024-02-20,60,completed
o7,c3,2024-03-10,70,completed
o8,c2,2024-04-02,80,completed
"""


@pytest.fixture(scope="module")
def window_ws(tmp_path_factory):
    base = tmp_path_factory.mktemp("window")
    with cxloop.Workspace.init(base / "ws") as ws:
        ws.ingest([write(base / "orders.csv", WINDOW_ORDERS)])
        ws.profiles.build()
    workspace = cxloop.Workspace.open(base / "ws")
    yield workspace
    workspace.close()


def test_retention_ignores_orders_after_until(window_ws):
    doc = build_scorecard(window_ws, Scope(until=datetime(2024, 2, 15)))
    feb = doc["trend"][1]["metrics"]["retention_rate"]
    # Of January's buyers {c1, c2} only c2 bought again before Feb 15 (c1's o6 is Feb 20).
    assert (feb["value"], feb["n"]) == (0.5, 2)


def test_repeat_and_history_count_buyers_inside_a_mid_period_window(window_ws):
    doc = build_scorecard(window_ws, Scope(period=Period.QUARTER, since=datetime(2024, 2, 1)))
    m = doc["metrics"]
    # Buyers from Feb 1: c1 (o6), c2 (o4, o8), c3 (o5, o7); lifetime revenue 90, 150, 120.
    assert m["customers"]["value"] == 3
    assert (m["historical_customer_value"]["value"], m["historical_customer_value"]["n"]) == (
        pytest.approx(120.0),
        3,
    )
    assert m["repeat_purchase_rate"]["value"] == pytest.approx(1.0)
    doc = build_scorecard(window_ws, Scope(since=datetime(2024, 1, 15)))
    jan = doc["trend"][0]["metrics"]["repeat_purchase_rate"]
    assert (jan["value"], jan["n"]) == (0.5, 2)  # c1 (2nd order Jan 20), c2 (1st, Jan 25)


def test_stage_breakdown_keeps_uncatalogued_touchpoints_apart(tmp_path):
    feedback = (
        "response_id,customer_id,submitted_at,metric,score,touchpoint\n"
        "a1,c1,2024-01-05,nps,10,\na2,c2,2024-01-06,nps,0,checkout\n"
        "a3,c3,2024-01-07,nps,0,checkout\n"
    )
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        ws.ingest([write(tmp_path / "feedback.csv", feedback)])
        doc = build_scorecard(ws, Scope(by="stage"))
    groups = {b["group"]: b["metrics"]["nps"] for b in doc["breakdown"]}
    assert groups["(relationship)"]["n"] == 1 and groups[None]["n"] == 2
