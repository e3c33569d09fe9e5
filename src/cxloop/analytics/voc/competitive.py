"""Competitive benchmark: share of voice and net sentiment of our brand against competitors.

Only the configured brands are compared. Mentions of other brands are left out of every share
(the denominator of share of voice is "mentions of the brands we track") and counted in
`untracked_mentions`, so a reader sees how much was left out.

Net sentiment is positive share minus negative share among a brand's scored mentions. It has
exactly the structure of NPS (promoters minus detractors out of one multinomial sample), so it
reuses `stats.nps`: the adjusted-Wald interval of Rocks (2016), with
Var(p+ - p-) = (p+ + p- - (p+ - p-)^2) / n. Mentions without a sentiment label (likes, shares
without text) count for share of voice but not for net sentiment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cxloop.analytics import stats

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
"""Sentiment labels in code order; a missing label is code 3 (unscored)."""
_UNSCORED = 3
_UNTRACKED = -1


def _key(name: str) -> str:
    return name.strip().casefold()


def _tracked(our_brand: str, competitors: Sequence[str]) -> list[str]:
    """The configured brands, ours first, refusing blanks and duplicates (case-insensitive)."""
    names = [our_brand, *competitors]
    if any(not isinstance(n, str) or not n.strip() for n in names):
        raise ValueError("brand names must be non-empty strings")
    keys = [_key(n) for n in names]
    if len(set(keys)) != len(keys):
        raise ValueError(f"our brand and competitors must be distinct brands: {names}")
    return [n.strip() for n in names]


def _brand_codes(brands: Sequence[str | None], tracked: list[str]) -> np.ndarray:
    index = {_key(name): i for i, name in enumerate(tracked)}
    return np.array(
        [index.get(_key(b), _UNTRACKED) if isinstance(b, str) else _UNTRACKED for b in brands],
        dtype=np.int64,
    )


def _label_codes(labels: Sequence[str | None]) -> np.ndarray:
    index = {name: i for i, name in enumerate(LABELS)}
    out = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        if label is None or (isinstance(label, float) and math.isnan(label)):
            out[i] = _UNSCORED
            continue
        key = str(label).strip().lower()
        if not key:
            out[i] = _UNSCORED
        elif key in index:
            out[i] = index[key]
        else:
            raise ValueError(f"unknown sentiment label {label!r}; expected one of {LABELS}")
    return out


def _net_sentiment(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Net sentiment per brand as a fraction in [-1, 1], from (negative, neutral, positive)."""
    points = stats.nps(counts[:, 2], counts[:, 1], counts[:, 0])
    return {k: (v if k == "n" else v / 100.0) for k, v in points.items()}


def _measures(codes: np.ndarray, labels: np.ndarray, k: int) -> list[dict[str, Any]]:
    """Counts, share of voice, net sentiment and the gap to our brand, for brands 0..k-1."""
    keep = codes >= 0
    counts = np.bincount(codes[keep] * 4 + labels[keep], minlength=4 * k).reshape(k, 4)
    mentions = counts.sum(axis=1)
    sov = stats.proportion(mentions, np.full(k, mentions.sum()))
    net = _net_sentiment(counts[:, :3])
    rows: list[dict[str, Any]] = []
    for i in range(k):
        rows.append(
            {
                "mentions": int(mentions[i]),
                "share_of_voice": stats.pick(sov, i),
                "net_sentiment": stats.pick(net, i),
                "positive": int(counts[i, 2]),
                "negative": int(counts[i, 0]),
                "neutral": int(counts[i, 1]),
                "unscored": int(counts[i, 3]),
                "vs_ours": None if i == 0 else _gap(net, 0, i),
            }
        )
    return rows


def _gap(net: dict[str, np.ndarray], ours: int, other: int) -> dict[str, float] | None:
    """Our net sentiment minus a competitor's: Wald interval and z test (independent samples).

    The standard errors are those of the plain estimates (stats.nps falls back to the adjusted
    one when a sample is all positive or all negative, so the test never claims certainty).
    The interval is clipped to the possible range [-2, 2]; with a few dozen scored mentions
    per brand or fewer it is only a rough guide.
    """
    if net["n"][ours] <= 0 or net["n"][other] <= 0:
        return None
    difference = float(net["value"][ours] - net["value"][other])
    se = float(math.hypot(net["se"][ours], net["se"][other]))
    return {
        "difference": difference,
        "ci_low": max(difference - stats.Z95 * se, -2.0),
        "ci_high": min(difference + stats.Z95 * se, 2.0),
        "p_value": float(stats.two_sided_z(difference, se)),
    }


def competitive_benchmark(
    brands: Sequence[str | None],
    labels: Sequence[str | None],
    *,
    our_brand: str,
    competitors: Sequence[str],
    periods: Sequence[str | None] | None = None,
) -> list[dict[str, Any]]:
    """One row per configured brand (ours first, then `competitors` in their order).

    `brands`, `labels` (positive / negative / neutral / None) and `periods` (e.g. "2024-07",
    None to leave a mention out of the trend) are aligned per mention. Brand names match
    case-insensitively after trimming. Each row holds `brand`, `role`, `mentions`,
    `share_of_voice` and `net_sentiment` ({value, n, ci_low, ci_high}), the `positive`,
    `negative`, `neutral` and `unscored` counts, `vs_ours` (None for our brand; else our net
    sentiment minus theirs with a 95% interval and a z-test p-value), `untracked_mentions`
    (mentions of brands outside the configuration, left out everywhere) and `trend` (the same
    measures per period, in sorted period order; empty without periods).
    """
    tracked = _tracked(our_brand, competitors)
    if len(brands) != len(labels) or (periods is not None and len(periods) != len(brands)):
        raise ValueError("brands, labels and periods must have one entry per mention")
    codes = _brand_codes(brands, tracked)
    label_codes = _label_codes(labels)
    k = len(tracked)
    rows = _measures(codes, label_codes, k)
    untracked = int((codes == _UNTRACKED).sum())
    trends: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    if periods is not None:
        period_of = np.array([str(p) if p is not None else "" for p in periods], dtype=object)
        in_trend = np.array([p is not None for p in periods], dtype=bool) & (codes >= 0)
        for period in sorted(set(period_of[in_trend])):
            mask = in_trend & (period_of == period)
            for i, measures in enumerate(_measures(codes[mask], label_codes[mask], k)):
                trends[i].append({"period": period, **measures})
    return [
        {
            "brand": name,
            "role": "ours" if i == 0 else "competitor",
            **rows[i],
            "untracked_mentions": untracked,
            "trend": trends[i],
        }
        for i, name in enumerate(tracked)
    ]
