"""Segments and personas against the generator's planted truth (truth/personas.csv): loyal,
captive and loyad buyers as defined on the latent truth, the four planted personas and the
digital-native drift. Profiles map to persons through their customer records
(truth/record_person.csv); a person split over several profiles counts once, by the profile
with most orders.

The segments are measured from single survey answers while the truth uses each person's
latent satisfaction, so F1 is well below 1 by design (docs/metrics.md gives the figures):
the tests check that cxloop is far better than chance, not perfect."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

import cxloop
from cxloop.analytics.segments import SegmentsSettings, build_segments
from cxloop.generate import generate


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("segtruth")
    data = generate(base / "data", people=6000, seed=3, dirty_rate=0)
    with cxloop.Workspace.init(
        base / "ws", brand="Northwind", competitors=("Contoso", "Fabrikam")
    ) as ws:
        ws.ingest(sorted(data.files.values()))
        doc = build_segments(ws, SegmentsSettings.from_config(ws), export=base / "seg.csv")
        records = ws.engine.fetchall("SELECT source, customer_id, profile_id FROM profile_records")
    person_of = {
        (r["source"], r["customer_id"]): r["person_id"]
        for r in _csv(base / "data" / "truth" / "record_person.csv")
    }
    profile_person = {p: person_of[(s, c)] for s, c, p in records if (s, c) in person_of}
    truth = {r["person_id"]: r for r in _csv(base / "data" / "truth" / "personas.csv")}
    rows = sorted(_csv(base / "seg.csv"), key=lambda r: -int(r["orders"] or 0))
    seen: set[str] = set()
    pairs = []
    for row in rows:
        person = profile_person.get(row["profile_id"])
        if person is None or person in seen or truth[person]["is_buyer"] != "true":
            continue
        seen.add(person)
        pairs.append((row, truth[person]))
    return base, doc, pairs, profile_person, truth


def _f1(pairs, predicted, planted) -> tuple[float, int]:
    tp = sum(1 for r, t in pairs if predicted(r) and planted(t))
    p = tp / max(1, sum(1 for r, _ in pairs if predicted(r)))
    rec = tp / max(1, sum(1 for _, t in pairs if planted(t)))
    return (2 * p * rec / (p + rec) if p + rec else 0.0), sum(1 for _, t in pairs if planted(t))


def test_segments_match_the_planted_definitions(world):
    _, doc, pairs, _, _ = world
    assert len(pairs) > 3000
    scores = {}
    for segment in ("loyal", "captive"):
        scores[segment] = _f1(
            pairs, lambda r, s=segment: r["segment"] == s, lambda t, s=segment: t["segment"] == s
        )
    scores["loyad"] = _f1(
        pairs,
        lambda r: r["segment"] == "loyal" and r["advocate"] == "true",
        lambda t: t["loyad"] == "true",
    )
    scores["advocate"] = _f1(
        pairs, lambda r: r["advocate"] == "true", lambda t: t["advocate"] == "true"
    )
    base_rate = {
        s: n / len(pairs) for s, (_, n) in scores.items()
    }  # F1 of a random guess at the base rate equals the base rate
    print({s: (round(f, 3), n) for s, (f, n) in scores.items()})
    assert scores["advocate"][0] > 0.95  # advocacy acts are observed directly
    assert scores["loyal"][0] > 0.4 and scores["loyad"][0] > 0.45
    assert scores["captive"][0] > 3 * base_rate["captive"]
    assert {s["segment"] for s in doc["segments"]} == {"loyal", "captive", "fan", "other"}


def test_captives_are_mostly_the_planted_price_driven_persona(world):
    """The planted captives are mostly deal seekers (frequent, price-driven, low affinity)."""
    _, _, pairs, _, _ = world
    personas = Counter(t["persona"] for r, t in pairs if r["segment"] == "captive")
    assert personas.most_common(1)[0][0] == "deal_seeker", personas


def test_planted_personas_are_recovered_and_their_drift_flagged(world):
    """Adjusted Rand index against the planted personas (aim: above 0.6), and the persona
    that holds most digital natives is flagged as rising among new customers."""
    from sklearn.metrics import adjusted_rand_score

    from cxloop.analytics.personas import PersonasSettings, build_personas, export_personas

    base, _, _, profile_person, truth = world
    with cxloop.Workspace.open(base / "ws") as ws:
        doc = build_personas(ws, PersonasSettings.from_config(ws))
        export_personas(ws, base / "personas.csv")
    found, planted = [], []
    seen: set[str] = set()
    for row in _csv(base / "personas.csv"):
        person = profile_person.get(row["profile_id"])
        if person is None or person in seen:
            continue
        seen.add(person)
        found.append(row["persona"])
        planted.append(truth[person]["persona"])
    ari = adjusted_rand_score(planted, found)
    print(
        f"adjusted Rand index {ari:.3f} over {len(found):,} customers, k = {len(doc['personas'])}"
    )
    assert len(found) > 2000 and ari > 0.6
    natives = Counter(f for f, p in zip(found, planted, strict=True) if p == "digital_native")
    home = natives.most_common(1)[0][0]
    trend = {str(t["persona"]): t for t in doc["drift_tests"]["trend"]}
    assert trend[str(home)]["significant"] and trend[str(home)]["direction"] == "rising"
