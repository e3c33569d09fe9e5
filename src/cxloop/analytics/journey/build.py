"""Journeys through the Buy, Own, Advocate loop: stages, transitions, touchpoints, the funnel,
top paths and attribution (`cxloop journey`).

`build_journey(ws, settings)` returns the JSON document of `cxloop journey --json`:
`{"settings", "stages", "loop", "transitions", "touchpoints", "funnel", "paths",
"attribution"}`. The engine computes counts, medians, means and variances (`queries.py`);
this module only turns them into estimates (Wilson intervals for every share, Student t for
mean CES) and runs the attribution over the path table. Definitions: `docs/journey.md`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics import stats
from cxloop.analytics.journey import queries
from cxloop.analytics.journey.attribution import attribute_conversions
from cxloop.analytics.periods import Period, parse_period
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.config import WorkspaceConfig
    from cxloop.workspace import Workspace

TARGETS = ("purchase", "advocacy")
NEXT_STEP = {"buy": "purchase", "own": "advocacy", "advocate": "purchase"}
LOOP_PAIRS = (
    ("buy", "own"),
    ("own", "advocate"),
    ("advocate", "buy"),
    ("own", "buy"),
    ("buy", "advocate"),
    ("advocate", "own"),
)


@dataclass(frozen=True)
class JourneySettings:
    """What `build_journey` computes; every window is a setting, documented in journey.md."""

    period: str | None = None  # month, quarter or year; default: [scorecard] period
    cart_window_hours: float = 24.0
    visit_gap_minutes: float = 30.0
    conversion_window_days: float = 30.0
    path_steps: int = 5
    top_paths: int = 10
    funnel_steps: tuple[str, str, str] = ("product_view", "add_to_cart", "checkout")

    @classmethod
    def from_config(cls, config: WorkspaceConfig, **overrides: Any) -> JourneySettings:
        """Settings from `[journey]` in cxloop.toml, with explicit values (CLI options) first."""
        j = config.journey
        values: dict[str, Any] = {
            "cart_window_hours": j.cart_window_hours,
            "visit_gap_minutes": j.visit_gap_minutes,
            "conversion_window_days": j.conversion_window_days,
            "path_steps": j.path_steps,
            "top_paths": j.top_paths,
            "funnel_steps": tuple(j.funnel_steps),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def validate(self) -> None:
        for name in ("cart_window_hours", "visit_gap_minutes", "conversion_window_days"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise CxloopError(f"{name} must be a positive number, not {value!r}")
        if self.path_steps < 1 or self.top_paths < 1:
            raise CxloopError("path_steps and top_paths must be at least 1")
        if len(self.funnel_steps) != 3:
            raise CxloopError("funnel_steps names the three touchpoints before the order")
        if self.period is not None:
            parse_period(self.period)


def build_journey(ws: Workspace, settings: JourneySettings | None = None) -> dict[str, Any]:
    """Compute the journey document over the workspace's unified profiles (built if stale)."""
    settings = settings or JourneySettings.from_config(ws.config)
    settings.validate()
    ws.profiles.ensure_current()
    period = (
        parse_period(settings.period) if settings.period else Period(ws.config.scorecard.period)
    )
    for sql in queries.materialize():
        ws.engine.execute(sql)
    try:
        stages, loop = _stages(ws)
        paths, attribution = _paths_and_attribution(ws, settings)
        return {
            "settings": {**asdict(settings), "period": period.value},
            "stages": stages,
            "loop": loop,
            "transitions": _transitions(ws, stages),
            "touchpoints": _touchpoints(ws, settings),
            "funnel": _funnel(ws, settings, period),
            "paths": paths,
            "attribution": attribution,
        }
    finally:
        for sql in queries.DROP:
            ws.engine.execute(sql)


def _rows(ws: Workspace, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    used = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
    cursor = ws.engine.execute(sql, used or None)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _shares(x: list[float], n: list[float]) -> list[dict[str, Any]]:
    """Wilson intervals for many shares at once; `value: null, n: 0` without data."""
    if not n:
        return []
    est = stats.proportion(x, n)
    # Rounding can put a bound a hair outside [0, 1] (p = 1 gives 1.0000000000000002).
    est["ci_low"], est["ci_high"] = np.clip(est["ci_low"], 0, 1), np.clip(est["ci_high"], 0, 1)
    return [stats.pick(est, i) for i in range(len(n))]


def _share(x: float, n: float) -> dict[str, Any]:
    return _shares([x], [n])[0]


def _number(value: Any, n: int) -> dict[str, Any]:
    """A descriptive figure (median, ratio) with its n; null without data."""
    ok = n > 0 and value is not None and np.isfinite(float(value))
    return {"value": float(value) if ok else None, "n": int(n)}


def _stages(ws: Workspace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found = {r["stage"]: r for r in _rows(ws, queries.stages_sql())}
    profiles = int(next(iter(found.values()))["profiles"]) if found else 0
    rows = [found.get(s, {}) for s in queries.STAGES]
    stalled = _shares([float(r.get("stalled") or 0) for r in rows], [profiles] * len(rows))
    stages = [
        {
            "stage": s,
            "profiles": int(r.get("reached") or 0),
            "acts": int(r.get("acts") or 0),
            "visits": int(r.get("visits") or 0),
            "stalled": stalled[i],
        }
        for i, (s, r) in enumerate(zip(queries.STAGES, rows, strict=True))
    ]
    loop = _rows(ws, queries.loop_sql())[0]
    customers = int(loop["customers"] or 0)
    return stages, {
        "customers": customers,
        "owned": int(loop["owned"] or 0),
        "advocated": int(loop["advocated"] or 0),
        "completed": int(loop["completed"] or 0),
        "completion_rate": _share(float(loop["completed"] or 0), customers),
    }


def _transitions(ws: Workspace, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = {(r["from_stage"], r["to_stage"]): r for r in _rows(ws, queries.transitions_sql())}
    # The denominator is every visit of the stage, including visits nobody has left yet
    # (a profile's last one): a stage with visits but no move out has rates of 0, not null.
    visits = {s["stage"]: int(s["visits"] or 0) for s in stages}
    rows = [found.get(pair, {}) for pair in LOOP_PAIRS]
    counts = [float(r.get("transitions") or 0) for r in rows]
    rates = _shares(counts, [visits.get(a, 0) for a, _ in LOOP_PAIRS])
    return [
        {
            "from": a,
            "to": b,
            "transitions": int(counts[i]),
            "rate": rates[i],
            "median_days": _number(rows[i].get("median_days"), int(counts[i])),
        }
        for i, (a, b) in enumerate(LOOP_PAIRS)
    ]


def _touchpoints(ws: Workspace, settings: JourneySettings) -> list[dict[str, Any]]:
    rows = _rows(
        ws, queries.touchpoints_sql(), {"window_s": settings.conversion_window_days * 86400.0}
    )
    if not rows:
        return []
    success = _shares([r["success_x"] for r in rows], [r["success_n"] for r in rows])
    conversion = _shares([r["conv_x"] for r in rows], [r["conv_n"] for r in rows])
    ces = stats.mean(
        [r["ces_n"] for r in rows],
        [np.nan if r["ces_mean"] is None else r["ces_mean"] for r in rows],
        [np.nan if r["ces_var"] is None else r["ces_var"] for r in rows],
    )
    # Answers lie on the 1-7 scale, so their mean's interval does too (as in the scorecard).
    ces["ci_low"], ces["ci_high"] = np.clip(ces["ci_low"], 1, 7), np.clip(ces["ci_high"], 1, 7)
    out = []
    for i, r in enumerate(rows):
        profiles, events = int(r["profiles"]), int(r["events"])
        out.append(
            {
                "touchpoint": r["touchpoint"],
                "stage": r["stage"],
                "owner": r["owner"],
                "reach": {"profiles": profiles, "events": events},
                "efficiency": {
                    "duration_median": _number(r["duration_median"], int(r["duration_n"])),
                    "ces": stats.pick(ces, i),
                    "repeats": _number(events / profiles if profiles else None, profiles),
                },
                "effectiveness": {
                    "success_rate": success[i],
                    "next_step": NEXT_STEP.get(r["stage"] or "", "purchase"),
                    "conversion": conversion[i],
                },
            }
        )
    return out


def _funnel(ws: Workspace, settings: JourneySettings, period: Period) -> list[dict[str, Any]]:
    params = {
        "steps": list(settings.funnel_steps),
        "cart_s": settings.cart_window_hours * 3600.0,
        "gap_s": settings.visit_gap_minutes * 60.0,
    }
    rows = _rows(ws, queries.funnel_sql(period), params)
    names = [*settings.funnel_steps, "order"]
    keys = ("viewed", "carted", "checked_out", "ordered")
    out = []
    for r in rows:
        counts = [int(r[k]) for k in keys]
        step_rates = _shares(counts[1:], counts[:-1])
        # GROUPING(channel, period): bit 1 set when the channel is rolled up, bit 0 the period.
        out.append(
            {
                "channel": "(all)" if r["lvl"] & 2 else r["channel"],
                "period": None if r["lvl"] & 1 else period.label(r["period"]),
                "steps": [
                    {
                        "step": names[j],
                        "profiles": counts[j],
                        "rate": step_rates[j - 1] if j else None,
                    }
                    for j in range(4)
                ],
                "view_to_order": _share(counts[3], counts[0]),
                "cart_abandonment": _share(int(r["abandoned"]), int(r["carts"])),
                "bounce_rate": _share(int(r["bounces"]), int(r["visits"])),
            }
        )
    return out


def _paths_and_attribution(
    ws: Workspace, settings: JourneySettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    paths: list[dict[str, Any]] = []
    attribution: list[dict[str, Any]] = []
    for target in TARGETS:
        rows = _rows(ws, queries.paths_sql(target), {"steps": settings.path_steps})
        direct = sum(int(r["conversions"] or 0) for r in rows if not r["path"])
        table = [r for r in rows if r["path"]]
        table.sort(key=lambda r: (-r["journeys"], -r["conversions"], r["path"]))
        top = table[: settings.top_paths]
        rates = _shares([r["conversions"] for r in top], [r["journeys"] for r in top])
        for r, rate in zip(top, rates, strict=True):
            paths.append(
                {
                    "target": target,
                    "path": list(r["path"]),
                    "journeys": int(r["journeys"]),
                    "conversions": int(r["conversions"]),
                    "null_journeys": int(r["journeys"] - r["conversions"]),
                    "conversion_rate": rate,
                }
            )
        entry: dict[str, Any] = {
            "target": target,
            "journeys": int(sum(r["journeys"] for r in table)),
            "conversions": int(sum(r["conversions"] for r in table)),
            "null_journeys": int(sum(r["journeys"] - r["conversions"] for r in table)),
            "direct_conversions": direct,
        }
        if table:
            result = attribute_conversions(
                [list(r["path"]) for r in table],
                [float(r["conversions"]) for r in table],
                counts=[float(r["journeys"]) for r in table],
            )
            doc = result.to_dict()
            entry.update(
                conversion_probability=doc["conversion_probability"],
                note=doc["note"],
                touchpoints=doc["touchpoints"],
            )
        else:
            entry.update(conversion_probability=None, note="no journeys", touchpoints=[])
        entry["channels"] = _channel_attribution(ws, settings, target)
        attribution.append(entry)
    return paths, attribution


def _channel_attribution(
    ws: Workspace, settings: JourneySettings, target: str
) -> list[dict[str, Any]]:
    """The same attribution with paths made of channels (web, app, e-mail, store, ...):
    which channels earn the conversions, under the same path conventions."""
    rows = _rows(ws, queries.paths_sql(target, "channel"), {"steps": settings.path_steps})
    table = [r for r in rows if r["path"]]
    if not table:
        return []
    result = attribute_conversions(
        [list(r["path"]) for r in table],
        [float(r["conversions"]) for r in table],
        counts=[float(r["journeys"]) for r in table],
    ).to_dict()
    return [{"channel": item.pop("touchpoint"), **item} for item in result["touchpoints"]]
