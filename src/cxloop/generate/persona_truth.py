"""The planted personas, their drift and the loyalty x advocacy segments, per person.

The segment signals are computed from the simulated world the way cxloop's definitions
(`[segments]`, docs/configuration.md) would read them if everything were measured perfectly:
orders, answers, mentions and referrals rejected as dirty rows are left out, as the loader
leaves them out; attitude is the person's latent long-run satisfaction rather than a noisy
answer. `truth/personas.csv` holds the rows, `truth/personas.json` the definitions and counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from cxloop.generate.dirty import Reject
from cxloop.generate.feedback import RATING
from cxloop.generate.personas import SHOP_ONLY, shares_at
from cxloop.generate.strings import timestamps
from cxloop.generate.world import World

MIN_ORDERS = 2
"""Repeat buyer: at least this many completed orders (cxloop `[segments] min_orders`)."""
ACTIVE_DAYS = 365
"""Active: the last completed order at most this many days before the window's last day."""
AFFINITY_AT, NO_AFFINITY_AT = 8.5, 6.5
"""Latent long-run satisfaction (base + person effect) at or above which a person feels
affinity (it rounds to an NPS of 9 or more), and at or below which they feel none (6 or less)."""
SEGMENTS: tuple[str, ...] = ("loyal", "captive", "fan", "other")
RULES = {
    "repeat_buyer": f"at least {MIN_ORDERS} completed orders (neither cancelled nor returned)",
    "active": f"last completed order at most {ACTIVE_DAYS} days before the window end (UTC dates)",
    "affinity": f"base + person effect >= {AFFINITY_AT}: affinity; <= {NO_AFFINITY_AT}: "
    "no_affinity; else neutral",
    "advocate": "made a referral, or a public rating of 4-5 stars, or a Northwind mention "
    "with a positive text that recommends (says 'recommend')",
    "loyal": "repeat_buyer and active and affinity",
    "captive": "repeat_buyer and active and no_affinity",
    "fan": "affinity and not (repeat_buyer and active)",
    "other": "everyone else",
    "loyad": "loyal and advocate",
    "rows": "dirty rows (truth/rejects.csv) are left out, as the loader rejects them",
}


def _kept(rejects: list[Reject], kind: str, t: np.ndarray) -> np.ndarray:
    """Mask of the simulated rows of `kind` that survive loading (rows are written by time)."""
    keep = np.ones(len(t), dtype=bool)
    rows = np.array([r.row for r in rejects if r.kind == kind], dtype=np.int64)
    keep[np.argsort(t, kind="stable")[rows]] = False
    return keep


def person_signals(world: World, rejects: list[Reject]) -> dict[str, np.ndarray]:
    """Per person: completed orders, satisfaction and the segment signals (see RULES)."""
    s, n = world.settings, world.persons.count
    o = world.orders
    completed = ~o.cancelled & ~o.returned & _kept(rejects, "orders", o.t)
    orders = np.bincount(o.person[completed], minlength=n)
    last = np.full(n, -np.inf)
    np.maximum.at(last, o.person[completed], o.t[completed])
    repeat = orders >= MIN_ORDERS
    active = np.floor(last) >= s.window_days - 1 - ACTIVE_DAYS
    satisfaction = s.satisfaction_base + world.persons.person_effect
    affinity = np.where(
        satisfaction >= AFFINITY_AT, 2, np.where(satisfaction <= NO_AFFINITY_AT, 0, 1)
    )

    advocate = np.zeros(n, dtype=bool)
    r = world.referrals
    advocate[r.referrer[_kept(rejects, "referrals", r.t)]] = True
    a = world.answers
    praise = (a.metric == RATING) & a.public & (a.score >= 4) & _kept(rejects, "feedback", a.t)
    advocate[a.person[praise]] = True
    m = world.mentions
    says = m.recommends & (m.person >= 0) & _kept(rejects, "mentions", m.t)
    advocate[m.person[says]] = True

    behaves = repeat & active
    segment = np.select(  # codes into SEGMENTS: loyal, captive, fan, other
        [behaves & (affinity == 2), behaves & (affinity == 0), affinity == 2], [0, 1, 2], 3
    )
    return {
        "completed_orders": orders,
        "satisfaction": satisfaction,
        "repeat_buyer": repeat,
        "active": active,
        "affinity": affinity,
        "advocate": advocate,
        "segment": segment,
        "loyad": (segment == 0) & advocate,
    }


def persona_rows(world: World, signals: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    """The columns of `truth/personas.csv` after person_id (one row per person)."""
    s, n = world.settings, world.persons.count
    names = np.array([p.name for p in s.personas], dtype=object)
    acquired = np.full(n, np.nan)
    acquired[world.buyers.person] = world.buyers.acquired
    seconds = s.epoch_s + np.round(np.nan_to_num(acquired) * 86_400).astype(np.int64)
    affinity = np.array(["no_affinity", "neutral", "affinity"], dtype=object)
    return {
        "persona": pa.array(names[world.persons.persona], pa.string()),
        "acquired_at": timestamps(seconds).take(pa.array(np.arange(n), mask=np.isnan(acquired))),
        "is_buyer": pa.array(~np.isnan(acquired)),
        "completed_orders": pa.array(signals["completed_orders"].astype(np.int64)),
        "satisfaction": pa.array(np.round(signals["satisfaction"], 4)),
        "repeat_buyer": pa.array(signals["repeat_buyer"]),
        "active": pa.array(signals["active"]),
        "affinity": pa.array(affinity[signals["affinity"]], pa.string()),
        "advocate": pa.array(signals["advocate"]),
        "segment": pa.array(np.array(SEGMENTS, dtype=object)[signals["segment"]], pa.string()),
        "loyad": pa.array(signals["loyad"]),
    }


def _quarters(world: World, days: np.ndarray) -> np.ndarray:
    """Calendar quarter labels (`2024Q3`) of days since the window start."""
    if not len(days):
        return np.array([], dtype=object)
    start = np.datetime64(world.settings.window_start.isoformat(), "D")
    dates = start + np.floor(days).astype(np.int64).astype("timedelta64[D]")
    months = dates.astype("datetime64[M]").astype(np.int64)
    first, last = int(months.min()), int(months.max())
    labels = [f"{1970 + m // 12}Q{m % 12 // 3 + 1}" for m in range(first, last + 1)]
    return np.array(labels, dtype=object)[months - first]


def persona_summary(world: World, signals: dict[str, np.ndarray]) -> dict[str, Any]:
    """`truth/personas.json`: definitions, drift (planted and realised), counts, segments."""
    s = world.settings
    p = world.persons.persona
    names = [x.name for x in s.personas]
    k = names.index(s.drift_persona)
    start, end = shares_at(s, np.array([0.0, s.acquisition_days]))
    mean = shares_at(s, np.linspace(0.0, s.acquisition_days, 1001)).mean(axis=0)
    b = world.buyers
    buyer_persona = p[b.person]
    organic = ~world.persons.reserved[b.person]
    quarter = _quarters(world, b.acquired)
    realised = []
    for label in sorted(set(quarter.tolist())):
        here = quarter == label
        realised.append({
            "quarter": label,
            "customers": int(here.sum()),
            "organic": int((here & organic).sum()),
            "share": round(float(np.mean(buyer_persona[here] == k)), 4),
        })  # fmt: skip
    o = world.orders
    order_persona = p[o.person]
    definitions = []
    for i, x in enumerate(s.personas):
        mine = order_persona == i
        definitions.append({
            "name": x.name,
            "axis_band": i,
            "share_at_start": round(float(start[i]), 6),
            "share_at_end": round(float(end[i]), 6),
            "mean_share_over_acquisition": round(float(mean[i]), 6),
            "record_mix": dict(zip(("shop_only", "both", "store_only"), x.record_mix, strict=True)),
            "online_share_with_both_records": x.online_share,
            "app_share": x.app_share,
            "browse_sessions": x.browse_sessions,
            "views_per_session": x.views_per_session,
            "search_share": x.search_share,
            "social_weight": x.social_weight,
            "satisfaction_offset": x.satisfaction_offset,
            "persons": int(np.sum(p == i)),
            "buyers": int(np.sum(buyer_persona == i)),
            "observed": {
                "mean_lambda_per_week": _mean(b.lam[buyer_persona == i]),
                "mean_order_amount": _mean(o.amount[mine]),
                "orders_per_buyer": _mean(
                    np.bincount(o.person[mine], minlength=len(p))[b.person[buyer_persona == i]]
                ),
                "order_shares": {"web": _mean(o.web[mine] & ~o.app[mine]),
                                 "app": _mean(o.app[mine]), "store": _mean(~o.web[mine])},
            },
        })  # fmt: skip
    seg = signals["segment"]
    buyers = np.zeros(world.persons.count, dtype=bool)
    buyers[b.person] = True
    return {
        "personas": definitions,
        "order": "personas are listed from large, rare baskets to small, frequent ones; "
        "axis_band is the persona's band on that axis",
        "drift": {
            "persona": s.drift_persona,
            "start_share": round(float(start[k]), 6),
            "end_share": round(float(end[k]), 6),
            "over": f"acquisition day 0 to {s.acquisition_days:g} (first purchase), linear; the "
            "other personas shrink in proportion; referred friends (a shop account only) are "
            "drawn from the same shares weighted by each persona's shop-only record share",
            "shop_only_weights": [p.record_mix[SHOP_ONLY] for p in s.personas],
            "observed_by_acquisition_quarter": realised,
        },
        "btyd": {
            "axis": "a = T(u - v), u = F_lambda(lambda), v = 1 - F_nu(nu) (large baskets high), "
            "T the triangular CDF of the difference of two uniforms: uniform on [0, 1]",
            "rule": "persona = the band of a (widths: the shares at the acquisition day, in the "
            "order of personas); with chance persona_noise drawn from the shares instead",
            "persona_noise": s.persona_noise,
            "marginals": "lambda, p and nu keep their Gamma, Beta and Gamma laws and their "
            "independence exactly; the persona is a label computed from them",
        },
        "segments": {
            "rules": RULES,
            "buyers": {name: int(np.sum(buyers & (seg == i))) for i, name in enumerate(SEGMENTS)},
            "everyone": {name: int(np.sum(seg == i)) for i, name in enumerate(SEGMENTS)},
            "loyads": int(signals["loyad"].sum()),
            "advocates": int(signals["advocate"].sum()),
            "by_persona": {
                x.name: {name: int(np.sum(buyers & (p == i) & (seg == j)))
                         for j, name in enumerate(SEGMENTS)}
                for i, x in enumerate(s.personas)
            },
        },
    }  # fmt: skip


def _mean(values: np.ndarray) -> float | None:
    return round(float(np.mean(values)), 4) if len(values) else None
