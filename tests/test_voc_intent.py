"""Advocacy intent: rules on single cases, and precision/recall on a labelled evaluation set.

tests/data/intent_examples.csv holds hand-written mentions (text, kind, label). The measured
table is quoted in docs/voc.md ("Advocacy intent"); reproduce it with
`.venv/bin/python -m pytest tests/test_voc_intent.py -k evaluation -s`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cxloop.analytics.voc.intent import (
    INTENTS,
    classify_intent,
    classify_intents,
    explain_intent,
)

EXAMPLES = Path(__file__).parent / "data" / "intent_examples.csv"


@pytest.mark.parametrize(
    ("text", "kind", "sentiment", "expected"),
    [
        ("I can't recommend them enough", "post", -0.28, "genuine"),
        ("I cant recommend them enough", "post", None, "genuine"),
        ("Couldn't recommend them more highly", "review", None, "genuine"),
        ("Wouldn't hesitate to recommend them", "review", None, "genuine"),
        ("I can't recommend them after this", "review", None, "complaint"),
        ("Would not recommend.", "review", None, "complaint"),
        ("I would never recommend this shop", "post", None, "complaint"),
        ("Don't buy the blue one, the dye runs", "review", None, "complaint"),
        ("Would you recommend them?", "post", None, "neutral"),
        ("Highly recommend!", "share", 0.42, "genuine"),
        ("", "share", None, "amplification"),
        ("", "like", None, "amplification"),
        (None, None, None, "neutral"),
        ("Great, love it", "like", 0.8, "amplification"),
        ("RT @someone: avoid this shop", "share", -0.3, "amplification"),
        ("RT if you agree: highly recommend them", "post", 0.5, "genuine"),
        ("https://shop.example/x #sale 🔥", "post", 0.0, "amplification"),
        ("#boycottacme", "post", 0.0, "complaint"),
        ("Check out this thread about their awful support", "post", -0.5, "complaint"),
        ("Check them out, lovely people", "post", 0.6, "genuine"),
        ("The refund came quickly", "review", 0.0, "neutral"),
        ("Still waiting for my refund", "post", 0.0, "complaint"),
        ("Ordered early to avoid the rush", "post", 0.0, "neutral"),
        ("I tell everyone to avoid them", "post", None, "complaint"),
        ("Nice jumper", "post", 0.4, "neutral"),
        ("It broke", "review", None, "complaint"),
        ("Meh", "post", -0.2, "complaint"),
    ],
)
def test_rules(text, kind, sentiment, expected):
    assert classify_intent(text, kind, sentiment) == expected, explain_intent(text, kind, sentiment)


def test_vectorised_matches_single_and_checks_lengths():
    texts = ["Highly recommend", "", "never again", "ok"]
    kinds = ["post", "like", "post", "post"]
    scores = [0.4, None, float("nan"), 0.2]
    assert classify_intents(texts, kinds, scores) == [
        classify_intent(t, k, s) for t, k, s in zip(texts, kinds, scores, strict=True)
    ]
    assert set(classify_intents(texts, kinds, scores)) <= set(INTENTS)
    with pytest.raises(ValueError, match="length"):
        classify_intents(texts, kinds, scores[:2])


def _scores() -> dict[str, dict[str, float]]:
    """Precision, recall and F1 per intent on the evaluation set, sentiment from VADER."""
    with EXAMPLES.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    vader = SentimentIntensityAnalyzer()
    sentiment = [vader.polarity_scores(r["text"])["compound"] if r["text"] else None for r in rows]
    predicted = classify_intents([r["text"] for r in rows], [r["kind"] for r in rows], sentiment)
    table: dict[str, dict[str, float]] = {}
    for intent in INTENTS:
        hits = sum(p == intent == r["label"] for p, r in zip(predicted, rows, strict=True))
        said = sum(p == intent for p in predicted)
        true = sum(r["label"] == intent for r in rows)
        precision = hits / said if said else 0.0
        recall = hits / true if true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        table[intent] = {"n": true, "precision": precision, "recall": recall, "f1": f1}
    return table


def test_evaluation_set_is_balanced_and_large_enough():
    with EXAMPLES.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 120
    counts = {i: sum(r["label"] == i for r in rows) for i in INTENTS}
    assert set(counts) == set(INTENTS) and min(counts.values()) >= 0.2 * len(rows), counts
    assert {r["kind"] for r in rows} == {"post", "reply", "review", "share", "like"}


def test_evaluation_precision_recall():
    table = _scores()
    print("\nintent         n  precision  recall     F1")
    for intent, s in table.items():
        print(
            f"{intent:<13}{s['n']:>3}  {s['precision']:>9.3f}  {s['recall']:>6.3f}  {s['f1']:>5.3f}"
        )
    macro = sum(s["f1"] for s in table.values()) / len(table)
    print(f"macro-F1 {macro:.3f}")
    assert macro >= 0.8
