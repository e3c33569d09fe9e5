"""Program measurement: the document of `cxloop advocacy report` (docs/metrics.md#advocacy).

Advocates and potential advocates (warehouse), referrals made, converted, their revenue and
the flagged ones (store), what a referred customer cost against the configured paid-channel
CAC, predicted CLV of referred customers against the others (when a CLV model can be fitted),
reviews generated, the asks of the ladder with their completion, and the effect of being
asked on later advocacy, each estimate with n and a 95% interval.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from cxloop.analytics import stats
from cxloop.config import AdvocacySettings
from cxloop.errors import CxloopError
from cxloop.programs.advocacy.scores import (
    StoreFacts,
    compute_scores,
    level_of,
    potential_advocates,
    top_advocates,
)
from cxloop.programs.advocacy.tables import advocacy_asks, advocacy_rewards, referral_conversions

if TYPE_CHECKING:
    from cxloop.programs.loyalty.ledger import Ledger
    from cxloop.workspace import Workspace

#: Days after an ask (or, for people never asked, after their latest likelihood-to-recommend
#: answer) within which a review or a referral counts as advocacy that followed.
EFFECT_DAYS = 90
GENUINE = ("holding", "rewarded")


def advocacy_report(
    ws: Workspace, ledger: Ledger, settings: AdvocacySettings, *, limit: int = 20
) -> dict[str, Any]:
    """The program's figures as one JSON-ready document (see the module docstring)."""
    store = ledger.store
    with store.read() as conn:
        conv = conn.execute(sa.select(referral_conversions)).all()
        asks = conn.execute(sa.select(advocacy_asks)).all()
        rewards = conn.execute(sa.select(advocacy_rewards)).all()
    facts = store_facts(conv, asks)
    count = compute_scores(ws, settings, facts)
    levels = Counter(
        level_of(float(s), settings)
        for (s,) in ws.engine.fetchall("SELECT score FROM adv_scores WHERE score > 0")
    )
    promoters = int(ws.engine.scalar("SELECT count(*) FROM adv_promoters") or 0)
    currency = ws.config.locale.currency
    return {
        "enabled": settings.enabled,
        "currency": currency,
        "advocates": {
            "count": count,
            "levels": {name: levels.get(name, 0) for name, _ in settings.level_thresholds()},
            "top": top_advocates(ws, settings, limit),
        },
        "potential_advocates": {"count": promoters, "top": potential_advocates(ws, limit)},
        "referrals": _referrals(ws, conv),
        "cac": _cac(ws, settings, conv, rewards),
        "clv": _clv(ws, {c.referee_profile for c in conv if c.status in GENUINE}),
        "reviews": _reviews(ws, rewards),
        "asks": _asks(settings, asks),
        "ask_effect": _ask_effect(ws, asks),
    }


def store_facts(conv: list[Any], asks: list[Any]) -> StoreFacts:
    """What the store adds to the score: conversions that do not count (flagged, rejected,
    void, reversed), conversions through store codes only, completed stories and references."""
    return StoreFacts(
        excluded_referrals=[c.referral_ref for c in conv
                            if c.referral_ref and c.status not in GENUINE],
        coded_conversions=[c.referrer_profile for c in conv
                           if c.referral_ref is None and c.status in GENUINE],
        references=[a.profile_id for a in asks
                    if a.completed_at is not None and a.ask in ("story", "reference")],
    )  # fmt: skip


def read_store_facts(store: Any) -> StoreFacts:
    """`store_facts` read from a programs store."""
    with store.read() as conn:
        conv = conn.execute(sa.select(referral_conversions)).all()
        asks = conn.execute(sa.select(advocacy_asks)).all()
    return store_facts(conv, asks)


def _referrals(ws: Workspace, conv: list[Any]) -> dict[str, Any]:
    made = int(ws.engine.scalar("SELECT count(*) FROM referrals") or 0)
    made += sum(1 for c in conv if c.referral_ref is None)  # through a code, no referral row
    genuine = [c for c in conv if c.status in GENUINE]
    revenue = sum((Decimal(str(c.amount)) for c in genuine), Decimal(0))
    by_status = Counter(c.status for c in conv)
    flags = Counter(f for c in conv if c.status == "flagged" for f in c.flags.split(",") if f)
    return {
        "made": made,
        "converted": len(genuine),
        "conversion_rate": stats_dict(stats.proportion(len(genuine), made)),
        "revenue": str(revenue.quantize(Decimal("0.01"))),
        "flagged": by_status.get("flagged", 0),
        "by_status": dict(sorted(by_status.items())),
        "flags": dict(sorted(flags.items())),
    }


def _cac(ws: Workspace, settings: AdvocacySettings, conv: list[Any], rewards: list[Any]) -> dict:
    """Cost per referred customer: the points paid to both sides of rewarded referrals (less
    reversals), valued at `[loyalty] point_value`, over the rewarded conversions."""
    value = ws.config.loyalty.point_value_decimal
    paid = [r for r in rewards if r.act in ("referral", "referee") and r.reversal_entry_id is None]
    rewarded = sum(1 for c in conv if c.status == "rewarded")
    cost = sum((Decimal(r.points) for r in paid), Decimal(0)) * value
    per = (cost / rewarded).quantize(Decimal("0.01")) if rewarded else None
    paid_cac = settings.paid_cac_decimal
    return {
        "paid_cac": str(paid_cac),
        "referral_cac": None if per is None else str(per),
        "referred_customers": rewarded,
        "reward_cost": str(cost.quantize(Decimal("0.01"))),
        "saving_per_customer": None if per is None else str(paid_cac - per),
        "currency": ws.config.locale.currency,
    }


def _clv(ws: Workspace, referred: set[str]) -> dict[str, Any] | None:
    """Predicted CLV (BG/NBD + Gamma-Gamma, 52 weeks) of referred customers vs the others;
    None (with the reason) when the models cannot be fitted on these data."""
    try:
        per = _profile_clv(ws)
    except (CxloopError, ValueError, FloatingPointError) as exc:
        return {"available": False, "reason": str(exc)}
    ids, clv = per
    is_referred = np.array([p in referred for p in ids], dtype=bool)
    groups = {}
    for name, mask in (("referred", is_referred), ("others", ~is_referred)):
        values = clv[mask]
        var = float(values.var(ddof=1)) if len(values) > 1 else float("nan")
        groups[name] = stats_dict(stats.mean(len(values), values.mean() if len(values) else 0,
                                             var))  # fmt: skip
    return {"available": True, "horizon_weeks": 52, **groups}


def _profile_clv(ws: Workspace) -> tuple[list[str], np.ndarray]:
    from cxloop.analytics.clv.predict import predict
    from cxloop.analytics.clv.summary import UNITS, order_range, rfm_summary
    from cxloop.models.clv import BGNBDFitter, GammaGammaFitter

    _, last, _ = order_range(ws)
    if last is None:
        raise CxloopError("no completed orders")
    s = rfm_summary(ws, calibration_end=last)
    model = BGNBDFitter().fit(s.frequency, s.recency, s.age)
    ok = (s.frequency > 0) & (np.nan_to_num(s.monetary_value) > 0)
    spend = GammaGammaFitter().fit(s.frequency[ok], s.monetary_value[ok])
    money = np.where(ok, np.nan_to_num(s.monetary_value), 0.0)
    pred = predict(model, spend, s.frequency, s.recency, s.age, money, horizon_weeks=52.0,
                   discount_rate=0.01, unit_days=UNITS["weeks"])  # fmt: skip
    return [str(p) for p in s.profile_id], np.nan_to_num(pred.clv)


def _reviews(ws: Workspace, rewards: list[Any]) -> dict[str, int]:
    public = ws.engine.scalar(
        "SELECT count(*) FROM feedback WHERE coalesce(public, false) "
        "AND trim(coalesce(text, '')) <> ''"
    )
    rewarded = sum(1 for r in rewards if r.act == "review" and r.reversal_entry_id is None)
    return {"generated": int(public or 0), "rewarded": rewarded}


def _asks(settings: AdvocacySettings, asks: list[Any]) -> list[dict[str, Any]]:
    out = []
    for name in settings.ladder:
        mine = [a for a in asks if a.ask == name]
        done = sum(1 for a in mine if a.completed_at is not None)
        out.append({"ask": name, "issued": len(mine), "completed": done,
                    "completion_rate": stats_dict(stats.proportion(done, len(mine)))})  # fmt: skip
    return out


_EFFECT_SQL = """
WITH asked AS (SELECT unnest($profiles) AS profile_id, unnest($at) AS t0),
never AS (
    SELECT l.profile_id, max(f.submitted_at) AS t0
    FROM feedback f
    JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
    WHERE f.metric = 'nps' AND f.score >= 9 AND l.profile_id IS NOT NULL
      AND l.profile_id NOT IN (SELECT profile_id FROM asked)
    GROUP BY l.profile_id
),
acts AS (
    SELECT l.profile_id, f.submitted_at AS at FROM feedback f
    JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
    WHERE coalesce(f.public, false) AND trim(coalesce(f.text, '')) <> ''
    UNION ALL
    SELECT l.profile_id, r.created_at FROM referrals r
    JOIN profile_links l ON l.kind = 'referrer' AND l.source = r.source AND l.id = r.referral_id
),
groups AS (
    SELECT 'asked' AS grp, profile_id, t0 FROM asked
    UNION ALL SELECT 'not_asked', profile_id, t0 FROM never
)
SELECT grp, count(*) AS n,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM acts a WHERE a.profile_id = g.profile_id AND a.at > g.t0
             AND a.at <= g.t0 + to_days(CAST($days AS INTEGER)))) AS acted
FROM groups g GROUP BY grp
"""


def _ask_effect(ws: Workspace, asks: list[Any]) -> dict[str, Any]:
    """Share of people who advocated (a public review or a referral) within EFFECT_DAYS after
    their first ask, against promoters never asked (after their latest promoter answer).

    Observational: the asked were chosen by eligibility, so the difference is an association
    with its 95% interval (Wald, difference of two proportions), not a causal effect.
    """
    first: dict[str, Any] = {}
    for a in asks:
        t = a.issued_at.replace(tzinfo=None)
        first[a.profile_id] = min(first.get(a.profile_id, t), t)
    rows = ws.engine.fetchall(
        _EFFECT_SQL,
        {"profiles": list(first), "at": list(first.values()), "days": EFFECT_DAYS},
    )
    found = {grp: (int(n), int(acted)) for grp, n, acted in rows}
    asked, control = found.get("asked", (0, 0)), found.get("not_asked", (0, 0))
    doc: dict[str, Any] = {"days": EFFECT_DAYS}
    for name, (n, acted) in (("asked", asked), ("not_asked", control)):
        doc[name] = stats_dict(stats.proportion(acted, n))
    p1 = asked[1] / asked[0] if asked[0] else float("nan")
    p2 = control[1] / control[0] if control[0] else float("nan")
    se = np.sqrt(p1 * (1 - p1) / max(asked[0], 1) + p2 * (1 - p2) / max(control[0], 1))
    diff = p1 - p2
    doc["difference"] = {
        "value": _num(diff), "ci_low": _num(diff - stats.Z95 * se),
        "ci_high": _num(diff + stats.Z95 * se), "n": asked[0] + control[0],
    }  # fmt: skip
    return doc


def stats_dict(estimate: dict[str, Any]) -> dict[str, Any]:
    """A `cxloop.analytics.stats` result as JSON: value, n and the 95% interval."""
    return {k: _num(float(estimate[k])) for k in ("value", "ci_low", "ci_high")} | {
        "n": int(estimate["n"])
    }


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)
