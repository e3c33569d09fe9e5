"""Loyalty x advocacy segments against a small hand-made case (every figure worked out here).

The end of the data is 2025-06-30 (c1's event). With the default thresholds (2 orders, the
last within 365 days; affinity NPS >= 9, no affinity <= 6; sentiment +0.3 / -0.05):

| profile | completed orders (revenue) | attitude | advocacy | segment |
|---|---|---|---|---|
| c1 | 3, last 2025-06-01 (220) | NPS 10 | referrals f1 (converted: o9, 40), f2 | the loyad |
| c2 | 2, last 2025-05-20 (100) | NPS 3 then 9: latest 9 | none | loyal |
| c3 | 2, last 2025-06-10 (100) | NPS 4 | public rating 2 (not an act) | captive |
| c4 | 2, last 2025-03-20 (60; a returned order) | unknown | none | other (not captive) |
| c5 | none | NPS 10 | genuine mention 2025-06-20 | fan, advocate |
| c6 | 1 (25) | unknown | a like only (amplification) | other, not an advocate |
| c7 | 1 (45) | comment text, positive sentiment | none | fan |
| c8 | 2 in 2024 (70), lapsed | NPS 2 | none | other (captive in 2024) |
| c9 | 1 (40), referred by c1 | unknown | none | other |
| c10 | 2, last 2025-05-01 (100) | NPS 8: neutral | public rating 4 | other, advocate |

Revenue of all profiles: 220 + 100 + 100 + 60 + 25 + 45 + 70 + 40 + 100 = 760.
"""

from __future__ import annotations

import csv
from datetime import date

import pyarrow.parquet as pq
import pytest

import cxloop
from cxloop.analytics.periods import Period
from cxloop.analytics.segments import SegmentsSettings, build_segments, export_segments
from cxloop.analytics.segments.transitions import period_windows
from cxloop.errors import CxloopError
from tests.conftest import write

CUSTOMERS = "customer_id,email\n" + "".join(f"c{i},c{i}@x.com\n" for i in range(1, 11))
ORDERS = """order_id,customer_id,ordered_at,amount,status
o1,c1,2025-01-10,100,completed
o2,c1,2025-04-15,50,completed
o3,c1,2025-06-01,70,completed
o4,c2,2025-02-01,80,completed
o5,c2,2025-05-20,20,completed
o6,c3,2025-01-05,60,completed
o7,c3,2025-06-10,40,completed
o8,c4,2025-03-01,30,completed
o8b,c4,2025-03-20,30,completed
o8c,c4,2025-06-25,100,returned
o9,c9,2025-03-05,40,completed
o10,c6,2025-02-01,25,completed
o11,c7,2025-06-05,45,completed
o12,c8,2024-01-10,35,completed
o13,c8,2024-02-10,35,completed
o14,c10,2025-04-01,50,completed
o15,c10,2025-05-01,50,completed
"""
FEEDBACK = """response_id,customer_id,submitted_at,metric,score,text,public
r1,c1,2025-05-01,nps,10,,
r2a,c2,2025-01-15,nps,3,,
r2b,c2,2025-05-25,nps,9,,
r3,c3,2025-06-15,nps,4,,
r3b,c3,2025-06-20,rating,2,,true
r5,c5,2025-04-01,nps,10,,
r7,c7,2025-06-06,comment,,"I love Northwind! Wonderful service, great quality, so happy.",
r8,c8,2024-03-01,nps,2,,
r10,c10,2025-05-02,nps,8,,
r10b,c10,2025-05-03,rating,4,,true
"""
MENTIONS = """mention_id,posted_at,platform,author,customer_id,brand,kind,reach,text
m1,2025-06-20,x,five,c5,Northwind,post,100,You should all try Northwind. Highly recommend!
m2,2025-06-21,x,six,c6,Northwind,like,50,
m3,2025-06-22,x,stranger,,Northwind,post,10,You should all try Northwind. Highly recommend!
"""
REFERRALS = """referral_id,referrer_id,referee_id,created_at,converted_order_id
f1,c1,c9,2025-03-01,o9
f2,c1,,2025-03-10,
"""
EVENTS = """event_id,customer_id,occurred_at,touchpoint
e1,c1,2025-06-30T12:00:00,product_view
"""

SEGMENT_OF = {
    "c1": "loyal",
    "c2": "loyal",
    "c3": "captive",
    "c4": "other",
    "c5": "fan",
    "c6": "other",
    "c7": "fan",
    "c8": "other",
    "c9": "other",
    "c10": "other",
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    base = tmp_path_factory.mktemp("segments")
    workspace = cxloop.Workspace.init(base / "ws", brand="Northwind")
    files = [
        write(base / f"{name}.csv", text)
        for name, text in [
            ("customers", CUSTOMERS),
            ("orders", ORDERS),
            ("feedback", FEEDBACK),
            ("mentions", MENTIONS),
            ("referrals", REFERRALS),
            ("events", EVENTS),
        ]
    ]
    assert all(f.rejected == 0 for f in workspace.ingest(files).files)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def settings(ws):
    # The hand-computed case leaves the purchase model out (a model fitted on ten customers
    # decides nothing by hand); test_p_alive_criterion checks that criterion separately.
    return SegmentsSettings.from_config(ws, use_clv=False)


@pytest.fixture(scope="module")
def doc(ws, settings):
    return build_segments(ws, settings)


@pytest.fixture(scope="module")
def rows(ws, settings, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "segments.csv"
    assert export_segments(ws, path, settings) == 10
    with path.open(encoding="utf-8") as f:
        out = list(csv.DictReader(f))
    # Profiles are named by their smallest record; map them back to the customer ids.
    ids = {
        pid: cid
        for pid, cid in ws.engine.fetchall("SELECT profile_id, customer_id FROM profile_records")
    }
    return {ids[r["profile_id"]]: r for r in out}


def seg(doc, name):
    return next(s for s in doc["segments"] if s["segment"] == name)


def cell(doc, name, advocate):
    return next(c for c in doc["grid"] if c["segment"] == name and c["advocate"] is advocate)


def test_each_profile_lands_in_its_segment(rows):
    assert {k: r["segment"] for k, r in rows.items()} == SEGMENT_OF
    # The repeat buyer with no answer and no text is behavioural but not captive.
    assert rows["c4"]["behavioural"] == "true" and rows["c4"]["attitude"] == "unknown"
    assert rows["c4"]["orders"] == "2" and float(rows["c4"]["revenue"]) == 60  # not returned
    assert rows["c2"]["latest_nps"] == "9.0"  # the latest answer, not the first
    assert rows["c7"]["attitude_source"] == "sentiment"
    assert float(rows["c7"]["sentiment"]) >= 0.3
    assert rows["c8"]["behavioural"] == "false"  # two orders, but the last 506 days ago
    assert rows["c10"]["attitude"] == "neutral"
    assert rows["c5"]["orders"] == "0" and rows["c5"]["attitude"] == "affinity"


def test_advocacy_counts_acts_not_amplification(rows, doc):
    advocates = {k for k, r in rows.items() if r["advocate"] == "true"}
    assert advocates == {"c1", "c5", "c10"}
    assert rows["c1"]["referrals"] == "2" and rows["c1"]["converted_referrals"] == "1"
    assert rows["c1"]["advocacy_acts"] == "3"  # f1 and f2 made, f1 converted
    assert rows["c5"]["genuine_mentions"] == "1"
    assert rows["c10"]["positive_public_reviews"] == "1"
    assert rows["c3"]["positive_public_reviews"] == "0"  # 2 stars is no act
    assert rows["c6"]["amplifications"] == "1" and rows["c6"]["advocate"] == "false"
    assert doc["advocacy"]["advocates"] == 3 and doc["advocacy"]["amplifiers_only"] == 1


def test_segment_figures(doc):
    assert doc["as_of"] == "2025-06-30"
    # The stranger's mention is linked to no profile: ten customers are segmented.
    assert doc["profiles"] == 10 and doc["revenue"] == pytest.approx(760)
    loyal = seg(doc, "loyal")
    assert loyal["profiles"] == 2
    assert loyal["share"]["value"] == pytest.approx(0.2)
    assert loyal["share"]["ci_low"] < 0.2 < loyal["share"]["ci_high"]
    assert loyal["revenue_share"] == pytest.approx(320 / 760)
    # Mean of 220 and 100 = 160; s^2 = 7200, t(0.975, 1) = 12.706: 160 +- 12.706 * 60.
    assert loyal["avg_value"]["value"] == pytest.approx(160)
    assert loyal["avg_value"]["ci_high"] == pytest.approx(160 + 12.7062 * 60, rel=1e-4)
    assert loyal["nps"]["value"] == pytest.approx(100) and loyal["nps"]["n"] == 2
    assert loyal["referral_revenue"] == pytest.approx(40)
    assert loyal["avg_clv"]["value"] is None  # no model in this run
    captive = seg(doc, "captive")
    assert captive["profiles"] == 1 and captive["revenue_share"] == pytest.approx(100 / 760)
    assert captive["nps"]["value"] == pytest.approx(-100)
    fan = seg(doc, "fan")
    assert fan["profiles"] == 2 and fan["revenue_share"] == pytest.approx(45 / 760)
    assert fan["nps"]["value"] == pytest.approx(100) and fan["nps"]["n"] == 1  # c7 has none
    other = seg(doc, "other")
    assert other["profiles"] == 5 and other["revenue_share"] == pytest.approx(295 / 760)
    # c8 detractor (2), c10 passive (8): NPS = 100 * (0 - 1) / 2.
    assert other["nps"]["value"] == pytest.approx(-50)
    assert other["behavioural_attitude_unknown"] == 1  # c4
    assert other["behavioural_attitude_neutral"] == 1  # c10
    assert sum(s["profiles"] for s in doc["segments"]) == 10
    assert sum(s["revenue_share"] for s in doc["segments"]) == pytest.approx(1)
    assert doc["attitude"] == {"affinity": 4, "neutral": 1, "no_affinity": 2, "unknown": 3}


def test_grid_and_loyads(doc):
    assert len(doc["grid"]) == 8
    loyads = cell(doc, "loyal", True)
    assert loyads["loyad"] and loyads["profiles"] == 1
    assert [c for c in doc["grid"] if c["loyad"]] == [loyads]
    assert loyads["revenue_share"] == pytest.approx(220 / 760)
    assert loyads["referral_revenue"] == pytest.approx(40)
    assert cell(doc, "loyal", False)["profiles"] == 1
    assert cell(doc, "captive", True)["profiles"] == 0
    assert cell(doc, "captive", True)["avg_value"]["value"] is None
    assert cell(doc, "fan", True)["profiles"] == 1  # c5
    assert cell(doc, "other", True)["profiles"] == 1  # c10
    assert cell(doc, "other", False)["profiles"] == 4
    summary = doc["loyads"]
    assert summary["profiles"] == 1
    assert summary["share_of_loyal"]["value"] == pytest.approx(0.5)
    assert summary["share_of_advocates"]["value"] == pytest.approx(1 / 3)
    assert summary["revenue_share"] == pytest.approx(220 / 760)


def test_transitions_as_of_each_quarter(doc):
    periods = doc["periods"]
    # The data starts 2024-01-10: six quarters, 2024-Q1 to 2025-Q2, all complete.
    assert [p["period"] for p in periods] == [
        "2024-Q1",
        "2024-Q2",
        "2024-Q3",
        "2024-Q4",
        "2025-Q1",
        "2025-Q2",
    ]
    assert all(p["complete"] for p in periods)
    # c8 bought twice early in 2024 and answered 2: captive while the orders are recent.
    assert periods[0]["segments"] == {"loyal": 0, "captive": 1, "fan": 0, "other": 0}
    assert periods[3]["segments"]["captive"] == 1
    # By 2025-03-31 c8's last order is 415 days old; c1, c2, c3 have one order each (as of
    # then) and c2's only answer is a 3; c5, c7, c10 are not customers yet.
    assert periods[4]["segments"] == {"loyal": 0, "captive": 0, "fan": 0, "other": 7}
    assert periods[4]["as_of"] == "2025-03-31"
    assert periods[5]["segments"] == {"loyal": 2, "captive": 1, "fan": 2, "other": 5}
    assert periods[5]["loyads"] == 1
    pair = doc["transitions"][-1]
    assert (pair["from_period"], pair["to_period"]) == ("2025-Q1", "2025-Q2")
    m = {(c["from"], c["to"]): c for c in pair["matrix"]}
    assert len(m) == 5 * 4
    assert m[("other", "loyal")]["profiles"] == 2  # c1, c2
    assert m[("other", "loyal")]["row_share"] == pytest.approx(2 / 7)
    assert m[("other", "captive")]["profiles"] == 1  # c3
    assert m[("other", "other")]["row_share"] == pytest.approx(4 / 7)
    assert m[("new", "fan")]["profiles"] == 2  # c5, c7
    assert m[("new", "other")]["row_share"] == pytest.approx(1 / 3)  # c10
    assert m[("loyal", "loyal")]["profiles"] == 0 and m[("loyal", "loyal")]["row_share"] is None
    assert pair["new_profiles"] == 3 and pair["stayed"] == 4
    before = doc["transitions"][-2]  # 2024-Q4 -> 2025-Q1: c8 lapses, six arrive
    mb = {(c["from"], c["to"]): c["profiles"] for c in before["matrix"]}
    assert mb[("captive", "other")] == 1 and mb[("new", "other")] == 6


def test_advocacy_window(ws):
    # Only acts on or after 2025-05-31 count: c5's mention (06-20); c1's referrals (March)
    # and c10's review (May 3) fall outside.
    doc = build_segments(ws, SegmentsSettings.from_config(ws, use_clv=False, advocacy_days=30))
    assert doc["advocacy"]["advocates"] == 1
    assert cell(doc, "fan", True)["profiles"] == 1
    assert doc["loyads"]["profiles"] == 0
    # Referral revenue is history, not an act: it stays with the referrer.
    assert seg(doc, "loyal")["referral_revenue"] == pytest.approx(40)


def test_p_alive_criterion(ws, tmp_path):
    settings = SegmentsSettings.from_config(ws)
    doc = build_segments(ws, settings)
    assert doc["definitions"]["p_alive_applied"] is doc["clv"]["fitted"]
    path = tmp_path / "s.parquet"
    assert export_segments(ws, path, settings) == 10
    table = pq.read_table(path).to_pylist()
    if not doc["clv"]["fitted"]:
        assert any("P(alive)" in n for n in doc["notes"])
        return
    for r in table:
        recent = r["last_order"] is not None and (date(2025, 6, 30) - r["last_order"]).days <= 365
        expected = r["orders"] >= 2 and recent and r["p_alive"] >= 0.5
        assert r["behavioural"] == expected
        assert (r["predicted_clv"] is None) == (r["orders"] == 0)


def test_model_that_cannot_be_fitted_is_skipped_and_said(tmp_path):
    with cxloop.Workspace.init(tmp_path / "ws", brand="Northwind") as ws:
        orders = "order_id,customer_id,ordered_at,amount\no1,a,2025-01-01,10\no2,b,2025-02-01,5\n"
        ws.ingest([write(tmp_path / "orders.csv", orders)])
        doc = build_segments(ws)
        assert doc["clv"]["fitted"] is False and doc["clv"]["reason"]
        assert not doc["definitions"]["p_alive_applied"]
        assert any("without the P(alive) criterion" in n for n in doc["notes"])
        assert doc["profiles"] == 2 and seg(doc, "other")["profiles"] == 2


def test_empty_workspace_gives_zeros_and_a_note(tmp_path):
    with cxloop.Workspace.init(tmp_path / "ws", brand="Northwind") as ws:
        doc = build_segments(ws)
        assert doc["as_of"] is None and doc["profiles"] == 0 and doc["revenue"] == 0
        assert [s["profiles"] for s in doc["segments"]] == [0, 0, 0, 0]
        assert all(s["share"]["value"] is None for s in doc["segments"])
        assert doc["loyads"]["profiles"] == 0 and doc["transitions"] == []
        assert doc["notes"] and "nothing to segment" in doc["notes"][0]
        path = tmp_path / "empty.csv"
        assert export_segments(ws, path) == 0
        assert path.read_text(encoding="utf-8").startswith("profile_id,segment,")


def test_export_formats(ws, settings, tmp_path):
    for suffix in (".csv", ".parquet"):
        path = tmp_path / f"out{suffix}"
        assert export_segments(ws, path, settings) == 10
        assert path.stat().st_size > 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 10 and "p_alive" in table.column_names
    with pytest.raises(CxloopError, match=r"\.csv or \.parquet"):
        export_segments(ws, tmp_path / "out.xlsx", settings)
    with pytest.raises(CxloopError, match="no such folder"):
        export_segments(ws, tmp_path / "missing" / "out.csv", settings)


def test_build_can_write_the_export_from_the_same_state(ws, settings, tmp_path, rows):
    path = tmp_path / "both.csv"
    doc = build_segments(ws, settings, export=path)
    assert doc["export"] == {"path": str(path), "rows": 10}
    with path.open(encoding="utf-8") as f:
        assert sorted(r["segment"] for r in csv.DictReader(f)) == sorted(SEGMENT_OF.values())
    with pytest.raises(CxloopError, match=r"\.csv or \.parquet"):
        build_segments(ws, settings, export=tmp_path / "out.json")


def test_settings(ws):
    s = SegmentsSettings.from_config(ws, min_orders=3, period=None)
    assert s.min_orders == 3 and s.period == ws.config.segments.period
    with pytest.raises(CxloopError, match="unknown"):
        SegmentsSettings.from_config(ws, colour="blue")
    with pytest.raises(CxloopError):
        SegmentsSettings.from_config(ws, affinity_min_nps=5, no_affinity_max_nps=6)
    with pytest.raises(CxloopError):
        SegmentsSettings.from_config(ws, period="week")


def test_period_windows():
    got = period_windows(Period.MONTH, date(2025, 1, 15), date(2025, 3, 10), 8)
    assert [(w["period"], w["as_of"], w["complete"]) for w in got] == [
        ("2025-01", date(2025, 1, 31), True),
        ("2025-02", date(2025, 2, 28), True),
        ("2025-03", date(2025, 3, 10), False),
    ]
    years = period_windows(Period.YEAR, date(2015, 1, 1), date(2025, 12, 31), 3)
    assert [w["period"] for w in years] == ["2023", "2024", "2025"]


def test_view_and_report_section(ws, doc, capsys):
    from cxloop.cli.segments_view import render_segments
    from cxloop.report.segments_sections import segments_sections

    render_segments(doc)
    text = capsys.readouterr().out
    assert "LOYADS" in text and "Transitions 2025-Q1 -> 2025-Q2" in text
    context: dict = {}
    sections = segments_sections(ws, context)
    assert sections[0].anchor == "segments" and "segments" in context
    html = "".join(str(b) for b in sections[0].blocks)
    assert "loyads" in html and "captive" in html
