"""Competitive benchmark: hand-computed intervals, edge cases, and the generator's planted
brand sentiment recovered from VADER labels of the mention texts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv
import pytest
from scipy.stats import norm
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cxloop.analytics.voc.competitive import competitive_benchmark
from cxloop.generate import generate
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.social import BRAND_SENTIMENT

Z = norm.ppf(0.975)

BRANDS = ["Northwind"] * 6 + [" contoso ", "CONTOSO", "Contoso", "Tailspin"]
LABELS = ["positive", "positive", "positive", "negative", "neutral", None]
LABELS += ["negative", "negative", "positive", "positive"]


def wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def adjusted_wald(pos: int, neg: int, n: int) -> tuple[float, float]:
    """Rocks (2016): add 3/4 to each extreme category and 3 to n."""
    pp, pn = (pos + 0.75) / (n + 3), (neg + 0.75) / (n + 3)
    se = math.sqrt((pp + pn - (pp - pn) ** 2) / (n + 3))
    return pp - pn - Z * se, pp - pn + Z * se


def plain_var(pos: int, neg: int, n: int) -> float:
    p, q = pos / n, neg / n
    return (p + q - (p - q) ** 2) / n


def bench(**kwargs):
    return competitive_benchmark(
        BRANDS, LABELS, our_brand="Northwind", competitors=["Contoso", "Fabrikam"], **kwargs
    )


def test_hand_computed_example():
    ours, contoso, fabrikam = bench()
    assert [r["brand"] for r in (ours, contoso, fabrikam)] == ["Northwind", "Contoso", "Fabrikam"]
    assert [r["role"] for r in (ours, contoso)] == ["ours", "competitor"]
    # Tailspin is not configured: left out of every share, counted once.
    assert all(r["untracked_mentions"] == 1 for r in (ours, contoso, fabrikam))

    assert (ours["mentions"], ours["positive"], ours["negative"], ours["neutral"]) == (6, 3, 1, 1)
    assert ours["unscored"] == 1
    sov = ours["share_of_voice"]
    assert sov["value"] == pytest.approx(6 / 9) and sov["n"] == 9
    assert (sov["ci_low"], sov["ci_high"]) == pytest.approx(wilson(6, 9))
    net = ours["net_sentiment"]
    assert net["value"] == pytest.approx((3 - 1) / 5) and net["n"] == 5
    assert (net["ci_low"], net["ci_high"]) == pytest.approx(adjusted_wald(3, 1, 5))

    # " contoso ", "CONTOSO" and "Contoso" are one brand.
    assert (contoso["mentions"], contoso["positive"], contoso["negative"]) == (3, 1, 2)
    assert contoso["share_of_voice"]["value"] == pytest.approx(3 / 9)
    assert (contoso["share_of_voice"]["ci_low"], contoso["share_of_voice"]["ci_high"]) == (
        pytest.approx(wilson(3, 9))
    )
    c_net = contoso["net_sentiment"]
    assert c_net["value"] == pytest.approx(-1 / 3)
    assert (c_net["ci_low"], c_net["ci_high"]) == pytest.approx(adjusted_wald(1, 2, 3))

    gap = contoso["vs_ours"]
    difference = 0.4 - (-1 / 3)
    se = math.sqrt(plain_var(3, 1, 5) + plain_var(1, 2, 3))
    assert gap["difference"] == pytest.approx(difference)
    # The Wald interval, clipped to the possible range of a difference, [-2, 2].
    assert (gap["ci_low"], gap["ci_high"]) == pytest.approx(
        (difference - Z * se, min(difference + Z * se, 2.0))
    )
    assert difference + Z * se > 2.0
    assert gap["p_value"] == pytest.approx(2 * norm.sf(difference / se))
    assert ours["vs_ours"] is None

    assert fabrikam["mentions"] == 0 and fabrikam["share_of_voice"]["value"] == 0.0
    assert fabrikam["net_sentiment"] == {"value": None, "n": 0, "ci_low": None, "ci_high": None}
    assert fabrikam["vs_ours"] is None
    assert all(r["trend"] == [] for r in (ours, contoso, fabrikam))


def test_trend_per_period():
    periods = ["2024-02", "2024-01", "2024-01", "2024-02", "2024-02", None]
    periods += ["2024-01", "2024-02", "2024-02", "2024-01"]
    ours, contoso, fabrikam = bench(periods=periods)
    assert [t["period"] for t in ours["trend"]] == ["2024-01", "2024-02"]
    assert [t["period"] for t in fabrikam["trend"]] == ["2024-01", "2024-02"]
    jan, feb = ours["trend"]
    assert (jan["mentions"], jan["positive"]) == (2, 2)
    assert (feb["mentions"], feb["positive"], feb["negative"], feb["neutral"]) == (3, 1, 1, 1)
    # The mention without a period counts in the totals but in no period.
    assert sum(t["mentions"] for t in ours["trend"]) == ours["mentions"] - 1
    assert jan["share_of_voice"]["value"] == pytest.approx(2 / 3)  # Tailspin left out
    for i in range(2):
        shares = [r["trend"][i]["share_of_voice"]["value"] for r in (ours, contoso, fabrikam)]
        assert sum(shares) == pytest.approx(1.0)
    # January: ours all positive (2), Contoso all negative (1).
    assert contoso["trend"][0]["vs_ours"]["difference"] == pytest.approx(2.0)
    assert contoso["trend"][0]["vs_ours"]["ci_high"] <= 2.0


def test_unscored_mentions_count_for_voice_not_for_sentiment():
    labels = [None, "", float("nan"), " Positive ", "NEGATIVE"]
    (ours, other) = competitive_benchmark(
        ["A", "a", "A", "B", "B"], labels, our_brand="A", competitors=["B"]
    )
    assert (ours["mentions"], ours["unscored"]) == (3, 3)
    assert ours["share_of_voice"]["value"] == pytest.approx(3 / 5)
    assert ours["net_sentiment"]["value"] is None and ours["net_sentiment"]["n"] == 0
    assert other["vs_ours"] is None  # nothing to compare against
    assert (other["positive"], other["negative"], other["net_sentiment"]["value"]) == (1, 1, 0.0)


def test_empty_input_gives_one_empty_row_per_brand():
    rows = competitive_benchmark([], [], our_brand="A", competitors=["B"], periods=[])
    assert [r["brand"] for r in rows] == ["A", "B"]
    for r in rows:
        assert r["mentions"] == 0 and r["untracked_mentions"] == 0 and r["trend"] == []
        assert r["share_of_voice"]["value"] is None
        assert r["net_sentiment"]["value"] is None and r["vs_ours"] is None


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one entry per mention"):
        competitive_benchmark(["A"], [], our_brand="A", competitors=[])
    with pytest.raises(ValueError, match="one entry per mention"):
        competitive_benchmark(["A"], [None], our_brand="A", competitors=[], periods=[])
    with pytest.raises(ValueError, match="unknown sentiment label"):
        competitive_benchmark(["A"], ["great"], our_brand="A", competitors=[])
    with pytest.raises(ValueError, match="distinct"):
        competitive_benchmark(["A"], [None], our_brand="A", competitors=[" a "])
    with pytest.raises(ValueError, match="non-empty"):
        competitive_benchmark(["A"], [None], our_brand=" ", competitors=[])


# -- the generator's planted brand sentiment ---------------------------------------------


def vader_labels(texts: list[str | None]) -> list[str | None]:
    vader = SentimentIntensityAnalyzer()
    out: list[str | None] = []
    for text in texts:
        if not text:
            out.append(None)
            continue
        score = vader.polarity_scores(text)["compound"]
        out.append("positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral")
    return out


def generated(base: Path, people: int) -> tuple[dict[str, list], list[str | None]]:
    data = generate(base / "data", people=people, seed=5, dirty_rate=0)
    mentions = pcsv.read_csv(data.files["mentions"]).to_pydict()
    return mentions, vader_labels(mentions["text"])


def planted_order() -> list[str]:
    """Brands by planted net sentiment (share positive - share negative), best first."""
    brands = GeneratorSettings().brands
    net = BRAND_SENTIMENT[:, 2] - BRAND_SENTIMENT[:, 0]
    return [brands[i] for i in np.argsort(-net)]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generated(tmp_path_factory.mktemp("voc"), people=3000)


def test_generated_share_of_voice_and_sentiment_ordering(sample):
    mentions, labels = sample
    settings = GeneratorSettings()
    ours, *competitors = settings.brands
    rows = competitive_benchmark(
        mentions["brand"], labels, our_brand=ours, competitors=competitors,
        periods=[str(t)[:7] for t in mentions["posted_at"]],
    )  # fmt: skip
    for row, planted in zip(rows, settings.brand_shares, strict=True):
        sov = row["share_of_voice"]
        assert sov["ci_low"] <= planted <= sov["ci_high"], (row["brand"], sov)
        assert row["untracked_mentions"] == 0
        # Likes and shares carry no text, so they are exactly the unscored mentions.
        assert row["net_sentiment"]["n"] == row["mentions"] - row["unscored"]
        assert len(row["trend"]) >= 12
    # At 3,000 people only the leader is stable from seed to seed: the planted gaps (0.11 and
    # 0.09 in net sentiment) need the larger sample below to be resolved beyond chance.
    by_net = sorted(rows, key=lambda r: -r["net_sentiment"]["value"])
    assert by_net[0]["brand"] == planted_order()[0]


@pytest.mark.slow
def test_generated_ordering_is_significant_in_a_larger_sample(tmp_path):
    mentions, labels = generated(tmp_path, people=20_000)
    best, middle, worst = planted_order()
    first = competitive_benchmark(
        mentions["brand"], labels, our_brand=best, competitors=[middle, worst]
    )
    second = competitive_benchmark(mentions["brand"], labels, our_brand=middle, competitors=[worst])
    for gap in (first[1]["vs_ours"], first[2]["vs_ours"], second[1]["vs_ours"]):
        assert gap["difference"] > 0 and gap["p_value"] < 0.05, gap
