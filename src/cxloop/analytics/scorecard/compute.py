"""Assemble the scorecard: run the engine queries, turn statistics into estimates.

Result cells are keyed by level: the whole window, each period (the trend) and each value of
the breakdown dimension. Period-over-period changes are tested and controlled for false
discoveries across all the tests of one scorecard.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from cxloop.analytics import stats
from cxloop.analytics.scorecard import queries
from cxloop.analytics.scorecard.metrics import BY_NAME, Estimator
from cxloop.analytics.scorecard.scope import Scope

Cell = tuple[str, date | None, str | None]
Rows = list[dict[str, Any]]
Metrics = dict[str, dict[str, Any]]


# Statistics that are counts or sums: over no rows the engine says NULL, which means 0.
_COUNTS = {
    "promoters",
    "passives",
    "detractors",
    "promoters_rel",
    "passives_rel",
    "detractors_rel",
    "ces_n",
    "ces_easy",
    "csat_n",
    "csat_satisfied",
    "rating_n",
    "public_reviews",
    "positive_public_reviews",
    "orders",
    "revenue",
    "customers",
    "base",
    "retained",
    "buyers",
    "repeaters",
    "events",
    "journeys",
    "active",
    "supported",
    "genuine",
    "genuine_reach",
    "amplification",
    "amplification_reach",
    "ours",
    "tracked",
    "ours_reach",
    "tracked_reach",
    "referrals",
    "converted",
}


def _col(rows: Rows, name: str) -> np.ndarray:
    missing = 0.0 if name in _COUNTS else np.nan
    return np.array(
        [missing if r[name] is None else float(r[name]) for r in rows], dtype=np.float64
    )


def _total(values: np.ndarray, n: np.ndarray, i: int) -> dict[str, Any]:
    n_i = int(n[i]) if np.isfinite(n[i]) else 0
    v = float(values[i]) if np.isfinite(values[i]) else 0.0
    return {
        "value": v if not float(v).is_integer() else int(v),
        "n": n_i,
        "ci_low": None,
        "ci_high": None,
    }


def _estimate(kind: Estimator, est: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    out = stats.pick(est, i)
    if out["n"] and kind in (Estimator.NPS, Estimator.PROPORTION, Estimator.MEAN):
        se = float(est["se"][i])
        out["se"] = se if np.isfinite(se) else None
        if kind is Estimator.MEAN:
            var = float(est["var"][i])
            out["sd"] = float(np.sqrt(var)) if np.isfinite(var) else None
    return out


def _descriptive(values: np.ndarray, n: np.ndarray, i: int) -> dict[str, Any]:
    n_i = int(n[i]) if np.isfinite(n[i]) else 0
    v = float(values[i])
    return {
        "value": v if n_i and np.isfinite(v) else None,
        "n": n_i,
        "ci_low": None,
        "ci_high": None,
    }


def _clip(est: dict[str, np.ndarray], low: float, high: float) -> dict[str, np.ndarray]:
    """Keep a mean's interval on its answer scale (a t interval can overshoot 1-7 or 1-5
    with few answers)."""
    est["ci_low"] = np.clip(est["ci_low"], low, high)
    est["ci_high"] = np.clip(est["ci_high"], low, high)
    return est


def _feedback(rows: Rows) -> list[Metrics]:
    p, a, d = (_col(rows, c) for c in ("promoters", "passives", "detractors"))
    pr, ar, dr = (_col(rows, c) for c in ("promoters_rel", "passives_rel", "detractors_rel"))
    ests = {
        "nps": (stats.nps(p, a, d), (p, a, d)),
        "nps_relational": (stats.nps(pr, ar, dr), (pr, ar, dr)),
        "nps_transactional": (stats.nps(p - pr, a - ar, d - dr), (p - pr, a - ar, d - dr)),
    }
    ces_n = _col(rows, "ces_n")
    ces = _clip(stats.mean(ces_n, _col(rows, "ces_mean"), _col(rows, "ces_var")), 1, 7)
    easy = stats.proportion(_col(rows, "ces_easy"), ces_n)
    csat = stats.proportion(_col(rows, "csat_satisfied"), _col(rows, "csat_n"))
    rating = _clip(
        stats.mean(_col(rows, "rating_n"), _col(rows, "rating_mean"), _col(rows, "rating_var")),
        1,
        5,
    )
    public, positive = _col(rows, "public_reviews"), _col(rows, "positive_public_reviews")
    out: list[Metrics] = []
    for i in range(len(rows)):
        m: Metrics = {}
        for name, (est, (pp, aa, dd)) in ests.items():
            m[name] = _estimate(Estimator.NPS, est, i)
            m[name].update(promoters=int(pp[i]), passives=int(aa[i]), detractors=int(dd[i]))
        m["ces"] = _estimate(Estimator.MEAN, ces, i)
        m["ces_easy_share"] = _estimate(Estimator.PROPORTION, easy, i)
        m["csat"] = _estimate(Estimator.PROPORTION, csat, i)
        m["rating"] = _estimate(Estimator.MEAN, rating, i)
        m["public_reviews"] = _total(public, public, i)
        m["positive_public_reviews"] = _total(positive, positive, i)
        out.append(m)
    return out


def _orders(rows: Rows) -> list[Metrics]:
    orders, revenue = _col(rows, "orders"), _col(rows, "revenue")
    aov = stats.mean(orders, _col(rows, "aov_mean"), _col(rows, "aov_var"))
    return [
        {
            "revenue": _total(np.round(revenue, 2), orders, i),
            "orders": _total(orders, orders, i),
            "aov": _estimate(Estimator.MEAN, aov, i),
        }
        for i in range(len(rows))
    ]


def _customers(rows: Rows) -> list[Metrics]:
    n = _col(rows, "customers")
    freq = stats.mean(n, _col(rows, "freq_mean"), _col(rows, "freq_var"))
    value = stats.mean(n, _col(rows, "value_mean"), _col(rows, "value_var"))
    top = _col(rows, "top20_share")
    return [
        {
            "customers": _total(n, n, i),
            "purchase_frequency": _estimate(Estimator.MEAN, freq, i),
            "revenue_per_customer": _estimate(Estimator.MEAN, value, i),
            "top20_revenue_share": _descriptive(top, n, i),
        }
        for i in range(len(rows))
    ]


def _retention(rows: Rows) -> list[Metrics]:
    est = stats.proportion(_col(rows, "retained"), _col(rows, "base"))
    return [{"retention_rate": _estimate(Estimator.PROPORTION, est, i)} for i in range(len(rows))]


def _repeat(rows: Rows) -> list[Metrics]:
    buyers = _col(rows, "buyers")
    rep = stats.proportion(_col(rows, "repeaters"), buyers)
    hist = stats.mean(buyers, _col(rows, "hist_mean"), _col(rows, "hist_var"))
    out = []
    for i, row in enumerate(rows):
        m = {"repeat_purchase_rate": _estimate(Estimator.PROPORTION, rep, i)}
        if row["hist_mean"] is not None or row["lvl"] != "period":
            m["historical_customer_value"] = _estimate(Estimator.MEAN, hist, i)
        out.append(m)
    return out


def _events(rows: Rows) -> list[Metrics]:
    events, journeys = _col(rows, "events"), _col(rows, "journeys")
    steps = stats.mean(journeys, _col(rows, "steps_mean"), _col(rows, "steps_var"))
    support = stats.proportion(_col(rows, "supported"), _col(rows, "active"))
    median = _col(rows, "duration_median")
    return [
        {
            "duration_median": _descriptive(median, events, i),
            "steps_per_journey": _estimate(Estimator.MEAN, steps, i),
            "support_contact_rate": _estimate(Estimator.PROPORTION, support, i),
        }
        for i in range(len(rows))
    ]


def _mentions(rows: Rows) -> list[Metrics]:
    cols = {
        c: _col(rows, c)
        for c in (
            "genuine",
            "genuine_reach",
            "amplification",
            "amplification_reach",
            "ours",
            "tracked",
            "ours_reach",
            "tracked_reach",
        )
    }
    sov = stats.proportion(cols["ours"], cols["tracked"])
    with np.errstate(invalid="ignore", divide="ignore"):
        sov_reach = cols["ours_reach"] / cols["tracked_reach"]
    return [
        {
            "mentions_genuine": _total(cols["genuine"], cols["genuine"], i),
            "mentions_genuine_reach": _total(cols["genuine_reach"], cols["genuine"], i),
            "mentions_amplification": _total(cols["amplification"], cols["amplification"], i),
            "mentions_amplification_reach": _total(
                cols["amplification_reach"], cols["amplification"], i
            ),
            "share_of_voice": _estimate(Estimator.PROPORTION, sov, i),
            "share_of_voice_reach": _descriptive(sov_reach, cols["tracked"], i),
        }
        for i in range(len(rows))
    ]


def _referrals(rows: Rows) -> list[Metrics]:
    made, converted = _col(rows, "referrals"), _col(rows, "converted")
    rate = stats.proportion(converted, made)
    return [
        {
            "referrals": _total(made, made, i),
            "referrals_converted": _total(converted, made, i),
            "referral_conversion_rate": _estimate(Estimator.PROPORTION, rate, i),
        }
        for i in range(len(rows))
    ]


Family = tuple[str, Callable[[Scope], str], Callable[[Rows], list[Metrics]]]


def families(support_touchpoints: list[str], gap_minutes: int) -> list[Family]:
    return [
        ("feedback", queries.feedback_sql, _feedback),
        ("orders", queries.orders_sql, _orders),
        ("customers", queries.customers_sql, _customers),
        ("retention", queries.retention_sql, _retention),
        ("repeat", queries.repeat_sql, _repeat),
        (
            "events",
            lambda s: queries.events_sql(
                s, support_touchpoints=support_touchpoints, gap_minutes=gap_minutes
            ),
            _events,
        ),
        ("mentions", queries.mentions_sql, _mentions),
        ("referrals", queries.referrals_sql, _referrals),
    ]


def merge_cells(results: list[tuple[Rows, list[Metrics]]]) -> dict[Cell, Metrics]:
    cells: dict[Cell, Metrics] = defaultdict(dict)
    for rows, metrics in results:
        for row, m in zip(rows, metrics, strict=True):
            cells[(row["lvl"], row["period"], row["grp"])].update(m)
    return cells


def test_changes(trend: list[dict[str, Any]]) -> None:
    """Add `changes` to each trend point: the change from the previous period, its test and
    p-value, and a Benjamini-Hochberg q-value over every test of the trend."""
    tests: list[tuple[dict[str, Any], float]] = []
    for prev, cur in itertools.pairwise(trend):
        cur["changes"] = {}
        for name, m in cur["metrics"].items():
            spec = BY_NAME.get(name)
            before = prev["metrics"].get(name)
            if spec is None or before is None or m.get("value") is None:
                continue
            if before.get("value") is None:
                continue
            change: dict[str, Any] = {
                "change": m["value"] - before["value"],
                "test": None,
                "p_value": None,
            }
            p = _p_value(spec.estimator, before, m)
            if p is not None:
                change["test"] = _TEST_NAMES[spec.estimator]
                change["p_value"] = p
                tests.append((change, p))
            cur["changes"][name] = change
    if trend:
        trend[0]["changes"] = {}
    q = stats.benjamini_hochberg([p for _, p in tests])
    for (change, _), q_value in zip(tests, q, strict=True):
        change["q_value"] = float(q_value)
        change["significant"] = bool(q_value < 0.05)


_TEST_NAMES = {
    Estimator.NPS: "z test on the NPS difference (multinomial variance)",
    Estimator.PROPORTION: "two-proportion z test",
    Estimator.MEAN: "Welch t test",
}


def _p_value(kind: Estimator, a: dict[str, Any], b: dict[str, Any]) -> float | None:
    if a["n"] < 2 or b["n"] < 2:
        return None
    if kind is Estimator.NPS:
        if a.get("se") is None or b.get("se") is None:
            return None
        se = np.hypot(a["se"], b["se"])
        if se == 0:
            return None
        p = stats.two_sided_z([b["value"] - a["value"]], [se])[0]
    elif kind is Estimator.PROPORTION:
        p = stats.two_proportion_p(
            [a["value"] * a["n"]], [a["n"]], [b["value"] * b["n"]], [b["n"]]
        )[0]
    elif kind is Estimator.MEAN:
        if a.get("sd") is None or b.get("sd") is None:
            return None
        p = stats.welch_p(
            [a["value"]], [a["sd"] ** 2], [a["n"]], [b["value"]], [b["sd"] ** 2], [b["n"]]
        )[0]
    else:
        return None
    return float(p) if np.isfinite(p) else None
