"""`cxloop voc` end to end: on generated data with planted themes, sentiment and competitor
standing (docs/generator.md), and on hand-written bad input."""

from __future__ import annotations

import csv
import json

import pytest

import cxloop
from cxloop.analytics.voc import VocSettings, build_voc, export_voc
from cxloop.analytics.voc.signals import signals_current
from cxloop.generate import generate
from tests.conftest import run_cli, write


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    base = tmp_path_factory.mktemp("voc")
    data = generate(base / "data", people=3000, seed=5, dirty_rate=0)
    with cxloop.Workspace.init(
        base / "ws", brand="Northwind", competitors=("Contoso", "Fabrikam")
    ) as ws:
        ws.ingest(sorted(data.files.values()))
        doc = build_voc(ws)
    return base, doc


def test_document_has_the_contracted_shape(generated):
    _, doc = generated
    assert set(doc["sentiment"]) >= {"overall", "by_source", "by_touchpoint"}
    assert {s["source"] for s in doc["sentiment"]["by_source"]} == {"survey", "review", "social"}
    theme = doc["themes"][0]
    assert set(theme) >= {"theme", "terms", "volume", "sentiment", "nps", "touchpoints"}
    assert set(doc["advocacy"]) == {
        "genuine",
        "amplification",
        "complaint",
        "neutral",
        "unclassified",
    }
    for row in doc["competitive"]:
        assert set(row) >= {"brand", "share_of_voice", "net_sentiment", "ci_low", "ci_high"}
        assert row["top_themes"] and row["top_themes"][0]["mentions"] > 0
    assert {"overall", "by_touchpoint"} <= set(doc["reasons"])
    json.dumps(doc, allow_nan=False)


def test_text_sentiment_agrees_with_the_scores_given(generated):
    _, doc = generated
    agreement = {a["metric"]: a["spearman"] for a in doc["sentiment"]["agreement"]}
    for metric in ("nps", "rating"):
        rho = agreement[metric]
        assert rho["n"] > 100 and rho["ci_low"] > 0.3, (metric, rho)


def test_planted_competitor_standing_is_recovered(generated):
    """social.py plants net sentiment Northwind +0.15 > Fabrikam +0.04 > Contoso -0.05; at
    3,000 people only Northwind's lead is clear (test_voc_competitive checks more)."""
    _, doc = generated
    net = {r["brand"]: r["net_sentiment"]["value"] for r in doc["competitive"]}
    assert [r["brand"] for r in doc["competitive"]] == ["Northwind", "Contoso", "Fabrikam"]
    assert net["Northwind"] > net["Fabrikam"] and net["Northwind"] > net["Contoso"]


def test_delivery_complaints_set_detractors_apart(generated):
    """Late deliveries make detractors and their verbatims talk of delivery (generator)."""
    _, doc = generated
    detractor = doc["reasons"]["overall"]["detractor"]
    assert detractor, "no detractor reasons found"
    top = next(t for t in doc["themes"] if t["theme"] == detractor[0]["item"])
    assert any(w in " ".join(top["terms"]) for w in ("late", "delivery", "parcel", "days"))
    assert top["nps"]["value"] < 0


def test_signals_are_cached_and_the_export_has_every_text(generated, tmp_path):
    base, _ = generated
    with cxloop.Workspace.open(base / "ws") as ws:
        assert signals_current(ws)
        rows = export_voc(ws, tmp_path / "texts.csv")
        texts = ws.count("feedback")  # every answer with a text, and every mention
        with_text = ws.engine.scalar("SELECT count(*) FROM feedback WHERE text IS NOT NULL")
        mentions = ws.count("mentions")
    with open(tmp_path / "texts.csv", newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert rows == len(exported) == with_text + mentions and texts >= with_text
    assert set(exported[0]) >= {"kind", "id", "sentiment", "label", "themes", "intent"}
    assert {r["intent"] for r in exported if r["kind"] == "mentions"} <= {
        "genuine",
        "amplification",
        "complaint",
        "neutral",
    }


FEEDBACK = """response_id,customer_id,submitted_at,metric,score,text
r1,c1,2025-01-02,nps,9,"<p>Great <b>service</b>, thank you!</p><script>alert(1)</script>"
r2,c1,2025-01-03,nps,2,Livraison en retard et personne ne répond au téléphone.
r3,c2,2025-01-04,nps,10,😀😀😀
r4,c2,2025-01-05,nps,5,
r5,c3,2025-01-06,nps,3,"{long}"
r6,c3,2025-01-07,nps,8,"   "
"""


def test_bad_text_is_marked_not_silently_neutral(tmp_path):
    long = "Terrible service, the parcel came late and broken. " * 200
    data = write(tmp_path / "feedback.csv", FEEDBACK.replace("{long}", long))
    cust = write(tmp_path / "customers.csv", "customer_id,email\nc1,a@x.com\nc2,b@x.com\n"
                 "c3,c@x.com\n")  # fmt: skip
    with cxloop.Workspace.init(tmp_path / "ws", brand="Northwind") as ws:
        ws.ingest([cust, data])
        doc = build_voc(ws, VocSettings())
        export_voc(ws, tmp_path / "out.parquet")
        status = dict(ws.engine.fetchall("SELECT id, status FROM voc_texts"))
        score = dict(ws.engine.fetchall("SELECT id, sentiment FROM voc_texts"))
    assert status["r1"] == "ok" and score["r1"] > 0  # HTML stripped, script dropped
    assert status["r2"] == "non_english" and score["r2"] is None
    assert status["r3"] == "emoji_only"
    assert status["r5"] == "truncated" and score["r5"] < 0
    assert status.get("r6") in {None, "empty"}  # blank text: nothing to say
    assert any("not in English" in n for n in doc["notes"])
    assert any("truncated" in n for n in doc["notes"])
    assert (tmp_path / "out.parquet").stat().st_size > 0


def test_cli_json_export_and_errors(generated, tmp_path):
    base, _ = generated
    result = run_cli("voc", str(base / "ws"), "--json", "--export", str(tmp_path / "t.csv"))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["texts"] > 1000 and (tmp_path / "t.csv").exists()
    bad = run_cli("voc", str(base / "ws"), "--export", str(tmp_path / "t.xlsx"))
    assert bad.returncode != 0 and ".csv or .parquet" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = run_cli("voc", str(base / "ws"), "--export", str(tmp_path / "no" / "t.csv"))
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    readable = run_cli("voc", str(base / "ws"))
    assert readable.returncode == 0 and "Competitive benchmark" in readable.stdout


def test_a_tiny_workspace_and_unreadable_mentions(tmp_path):
    """Three NPS verbatims (one theme at most) must not break the reasons; a mention in French
    is `unclassified`, not neutral; an emptied text leaves the caches."""
    feedback = write(
        tmp_path / "feedback.csv",
        "response_id,customer_id,submitted_at,metric,score,text\n"
        "r1,c1,2025-01-02,nps,9,Great service and fast delivery\n"
        "r2,c2,2025-01-03,nps,2,Late delivery and rude support\n"
        "r3,c3,2025-01-04,nps,10,Love the product quality\n",
    )
    mentions = write(
        tmp_path / "mentions.csv",
        "mention_id,posted_at,platform,author,brand,kind,text\n"
        "m1,2025-01-02,x,a,Northwind,post,Je recommande vivement Northwind a tout le monde\n"
        "m2,2025-01-03,x,b,Northwind,post,You should all try Northwind. Highly recommend!\n"
        "m3,2025-01-03,x,c,Northwind,like,\n",
    )
    with cxloop.Workspace.init(tmp_path / "ws", brand="Northwind") as ws:
        ws.ingest([feedback, mentions])
        doc = build_voc(ws)
        intent = dict(
            ws.engine.fetchall("SELECT id, intent FROM voc_texts WHERE kind = 'mentions'")
        )
        assert signals_current(ws)
        ws.engine.execute("UPDATE feedback SET text = NULL WHERE response_id = 'r1'")
        assert not signals_current(ws)  # edited outside the loader: stale all the same
        build_voc(ws)
        held = ws.engine.scalar("SELECT count(*) FROM voc_sentiment")
    assert intent == {"m1": "unclassified", "m2": "genuine", "m3": "amplification"}
    assert doc["advocacy"]["unclassified"]["mentions"] == 1
    assert held == 4  # r2, r3, m1, m2: r1's text is gone from the cache too


def test_profiles_rebuild_makes_signals_stale(generated):
    base, _ = generated
    with cxloop.Workspace.open(base / "ws") as ws:
        assert signals_current(ws)
        ws.profiles.build()
        assert not signals_current(ws)
        build_voc(ws)
        assert signals_current(ws)
