"""The value framework measured: do experiences at each level of customer value go with
commercially productive behaviour?

The research behind cxloop names three levels of value an experience can create —
functional (it works), personal (the customer feels recognised), catalytic (it helps them
reach a goal of their own) — and expects the higher levels to drive paying a premium and
referring others. Here the unit is a customer with at least `LANDMARK_ORDER` (2) completed
orders, and the landmark is that order: exposure is measured strictly *before* it, the outcomes from
it on, so nothing that happened after the outcome (a guide opened after the last order, the
referral itself) can count as its cause. Exposure to a level is having opened a content asset
tagged with it, or having reached a moment of `architecture.toml` that plans an experience at
it; for `referred`, never through the outcome's own touchpoints (a referral, review or share
reaching the "sharing" moment is the act being predicted: `OUTCOME_TOUCHPOINTS`). Outcomes:

- `order_value`: the change in the customer's mean completed order value, orders from the
  landmark on minus orders before it (premium behaviour; the change, so that a customer's
  lasting level of spend cancels);
- `referred`: 1 when the customer made a referral at or after the landmark —

one least-squares regression on the six exposures (three levels, each via content and via
moments) and what is known at the landmark (log orders and log order value before it and
quintile bins of that value, tenure, follow-up time, log events before, a referral already
made), HC1 intervals, the naive difference beside each, and Benjamini-Hochberg q-values across
the twelve tests (`analytics/moments/effects.py`). The data contract has no discount or list
price on orders, so price sensitivity is not measured (the document says so). These are
associations: a customer who reaches more moments is also a more engaged one, which the
covariates only partly capture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics import stats
from cxloop.analytics.moments.build import quantile_bins
from cxloop.analytics.moments.effects import ALPHA, estimate_effects
from cxloop.experience.architecture import VALUE_LEVELS, load_architecture

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

LEVELS_TABLE = "value_level_sources"
SOURCES = ("content", "moments")
EXPOSURES = tuple((level, via) for level in VALUE_LEVELS for via in SOURCES)
"""One exposure per level and source: opened content tagged with the level, or reached a
moment that plans an experience at it (kept apart: nearly every buyer reaches checkout)."""
MIN_EXPOSED = 30
LANDMARK_ORDER = 2
"""The customer's completed order at which exposure stops and the outcome starts: exposure is
measured before it, order value and referring from it on (a customer with fewer orders is not
a unit)."""
OUTCOME_TOUCHPOINTS = {"referred": ("referral", "review", "social_share")}
"""Touchpoints that are (or accompany) the outcome itself: the generator writes a `referral`
event for every referral, so "reached the sharing moment" would include every referrer and
"predict" referring by definition. For that outcome, moments are reached through the other
touchpoints only."""


def customers_sql() -> str:
    """Per profile with a completed order: orders, mean order value, tenure, events, whether
    they referred anyone, their exposure to each value level (0/1), then their exposure via
    moments without the outcome's own touchpoints (`OUTCOME_TOUCHPOINTS`, one per level)."""
    acts = ", ".join(f"'{t}'" for t in OUTCOME_TOUCHPOINTS["referred"])
    levels = ",\n       ".join(
        [
            f"max(CASE WHEN x.value_level = '{level}' AND x.via = '{via}' THEN 1 ELSE 0 END) "
            f"AS {level}_{via}"
            for level, via in EXPOSURES
        ]
        + [
            f"max(CASE WHEN x.value_level = '{level}' AND x.via = 'moments' "
            f"AND x.touchpoint NOT IN ({acts}) THEN 1 ELSE 0 END) AS {level}_moments_no_acts"
            for level in VALUE_LEVELS
        ]
    )
    return f"""
WITH bought AS (
    SELECT l.profile_id, o.ordered_at, CAST(o.amount AS DOUBLE) AS amount,
           row_number() OVER (PARTITION BY l.profile_id
                              ORDER BY o.ordered_at, o.source, o.order_id) AS k
    FROM orders o
    JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
    WHERE o.status = 'completed' AND l.profile_id IS NOT NULL
), landmark AS (
    SELECT profile_id, ordered_at AS at FROM bought WHERE k = {LANDMARK_ORDER}
), buyers AS (
    SELECT m.profile_id, m.at,
           count(*) FILTER (WHERE b.k < {LANDMARK_ORDER}) AS orders_before,
           avg(b.amount) FILTER (WHERE b.k < {LANDMARK_ORDER}) AS value_before,
           avg(b.amount) FILTER (WHERE b.k >= {LANDMARK_ORDER}) AS order_value,
           date_diff('day', min(b.ordered_at), m.at) AS tenure_days,
           date_diff('day', m.at, (SELECT max(ordered_at) FROM bought)) AS follow_days
    FROM landmark m JOIN bought b USING (profile_id)
    GROUP BY m.profile_id, m.at
), referred AS (
    SELECT m.profile_id,
           max(CASE WHEN r.created_at < m.at THEN 1 ELSE 0 END) AS before,
           max(CASE WHEN r.created_at >= m.at THEN 1 ELSE 0 END) AS after
    FROM referrals r
    JOIN profile_links l ON l.kind = 'referrer' AND l.source = r.source AND l.id = r.referral_id
    JOIN landmark m ON m.profile_id = l.profile_id
    GROUP BY m.profile_id
), activity AS (
    SELECT m.profile_id, count(*) AS events
    FROM profile_events e JOIN landmark m ON m.profile_id = e.profile_id AND e.occurred_at < m.at
    GROUP BY m.profile_id
), touched AS (
    SELECT DISTINCT e.profile_id, s.value_level, 'moments' AS via, e.touchpoint
    FROM profile_events e JOIN {LEVELS_TABLE} s ON s.kind = 'touchpoint' AND s.name = e.touchpoint
    JOIN landmark m ON m.profile_id = e.profile_id AND e.occurred_at < m.at
    UNION
    SELECT DISTINCT l.profile_id, s.value_level, 'content' AS via, NULL AS touchpoint
    FROM events e
    JOIN profile_links l ON l.kind = 'events' AND l.source = e.source AND l.id = e.event_id
    JOIN landmark m ON m.profile_id = l.profile_id AND e.occurred_at < m.at
    JOIN {LEVELS_TABLE} s ON s.kind = 'content'
     AND s.name = json_extract_string(e.properties, '$.content_id')
)
SELECT b.profile_id, b.orders_before, b.value_before, b.order_value, b.tenure_days,
       b.follow_days, coalesce(a.events, 0) AS events, coalesce(r.before, 0) AS referred_before,
       coalesce(r.after, 0) AS referred,
       {levels}
FROM buyers b LEFT JOIN referred r USING (profile_id) LEFT JOIN activity a USING (profile_id)
LEFT JOIN touched x USING (profile_id)
GROUP BY ALL
ORDER BY b.profile_id"""


def build_value_framework(ws: Workspace) -> dict[str, Any]:
    """Association of each value level with order value and referrals (module docstring)."""
    from cxloop.content.lift import catalogue_assets

    ws.profiles.ensure_current()
    notes = [
        "price sensitivity is not measured: the data contract's orders carry no discount or "
        "list price",
        f"customers with at least {LANDMARK_ORDER} completed orders; exposure before their "
        f"order {LANDMARK_ORDER}, outcomes from it on (order value: the change from the "
        "orders before)",
    ]
    sources: list[tuple[str, str, str]] = []
    architecture = load_architecture(ws.path)
    if architecture is None:
        notes.append("no architecture.toml: exposure comes from content only")
    else:
        for m in architecture.moments:
            for x in m.experiences:
                sources += [("touchpoint", t, x.value_level) for t in m.touchpoints]
    assets = catalogue_assets(ws) or []
    if not assets:
        notes.append("no content catalogue: exposure comes from the architecture only")
    sources += [("content", a.content_id, a.value_level) for a in assets]
    e = ws.engine
    e.execute(
        f"CREATE OR REPLACE TEMP TABLE {LEVELS_TABLE} "
        "(kind VARCHAR, name VARCHAR, value_level VARCHAR)"
    )
    try:
        for row in sorted(set(sources)):
            e.execute(f"INSERT INTO {LEVELS_TABLE} VALUES (?, ?, ?)", list(row))
        rows = e.fetchall(customers_sql())
    finally:
        e.execute(f"DROP TABLE IF EXISTS {LEVELS_TABLE}")
    doc: dict[str, Any] = {"customers": len(rows), "levels": [], "notes": notes}
    if len(rows) < 2 * MIN_EXPOSED:
        notes.append(f"only {len(rows)} customers with a completed order: too few")
        return doc
    data = np.array([r[1:] for r in rows], dtype=float)
    orders, value_before, order_value, tenure, follow, events, referred_before, referred = data[
        :, :8
    ].T
    exposure = data[:, 8 : 8 + len(EXPOSURES)]
    # For `referred`, moments reached through the referral itself (or a review, a share)
    # are the outcome, not an exposure: those columns come without them.
    no_acts = data[:, 8 + len(EXPOSURES) :]
    exposure_for = {"order_value": exposure, "referred": exposure.copy()}
    for i, level in enumerate(VALUE_LEVELS):
        exposure_for["referred"][:, EXPOSURES.index((level, "moments"))] = no_acts[:, i]
    # Everything known at the landmark: the value and number of the orders before it (the
    # customer's value before any exposure could act on later orders), tenure, activity, a
    # referral already made, and how long the data follows them after it.
    value_bins, value_bin_names = quantile_bins(value_before, 5, "value-before quintile")
    covariates = np.column_stack(
        [np.log1p(orders), np.log1p(value_before), tenure / 365.0, follow / 365.0,
         np.log1p(events), referred_before, value_bins]
    )  # fmt: skip
    names = [
        "log orders before", "log order value before", "tenure (years)", "follow-up (years)",
        "log events before", "referred before", *value_bin_names,
    ]  # fmt: skip
    results = {}
    labels = [f"{level} via {via}" for level, via in EXPOSURES]
    # Order value as a change: the mean from the landmark on minus the mean before it, so a
    # customer's lasting level of spend (what makes valuable customers open more content)
    # cancels instead of passing for an effect of what they opened.
    change = order_value - value_before
    for outcome, y in (("order_value", change), ("referred", referred)):
        results[outcome] = estimate_effects(
            y, exposure_for[outcome], covariates, names=labels, covariate_names=names,
            min_exposed=MIN_EXPOSED,
        )  # fmt: skip
    keys = [(o, j) for j in range(len(EXPOSURES)) for o in results]
    p = [results[o][j].p_value for o, j in keys]
    q = stats.benjamini_hochberg([np.nan if v is None else v for v in p])
    q_of = {key: (float(v) if np.isfinite(v) else None) for key, v in zip(keys, q, strict=True)}
    for j, (level, via) in enumerate(EXPOSURES):
        n1 = int(exposure[:, j].sum())
        entry: dict[str, Any] = {
            "value_level": level, "via": via, "exposed": n1, "unexposed": len(rows) - n1,
        }  # fmt: skip
        if via == "moments":
            entry["exposed_without_outcome_touchpoints"] = int(exposure_for["referred"][:, j].sum())
        for outcome in results:
            d = results[outcome][j].to_dict()
            qv = q_of[(outcome, j)]
            entry[outcome] = {
                key: d[key]
                for key in ("effect", "ci_low", "ci_high", "p_value", "naive_effect",
                            "naive_ci_low", "naive_ci_high", "model", "note")
            }  # fmt: skip
            entry[outcome]["q_value"] = qv
            entry[outcome]["significant"] = bool(
                qv is not None and qv < ALPHA and d["effect"] is not None
            )
        doc["levels"].append(entry)
    return doc
