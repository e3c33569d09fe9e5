"""`cxloop moments`: which touchpoint experiences move an outcome, adjusted and ranked.

Conditions are "<touchpoint> reached" and, where events report success, "<touchpoint>
failed". All conditions enter one regression with the customer covariates (value, orders,
tenure, and whether an answer is about the relationship), so each effect is net of the
others and of who the customer is; the naive difference is shown beside it. Priority ranks
where to invest first: |effect| × reach (share of units exposed) × value at stake (the mean
value of exposed customers relative to all).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics.moments import queries
from cxloop.analytics.moments.effects import estimate_effects
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

OUTCOMES = ("nps", "csat", "rating", "repurchase")


@dataclass(frozen=True)
class MomentsSettings:
    outcome: str = "nps"
    window_days: int = 180
    min_exposed: int = 30
    high_value_share: float = 0.2

    def validate(self) -> None:
        if self.outcome not in OUTCOMES:
            raise CxloopError(
                f"unknown outcome {self.outcome!r} (expected one of {', '.join(OUTCOMES)})"
            )
        if self.window_days < 1:
            raise CxloopError("the window must be at least 1 day")
        if not 0 < self.high_value_share < 1:
            raise CxloopError("high_value_share must be between 0 and 1")


def quantile_bins(x: np.ndarray, k: int, what: str) -> tuple[np.ndarray, list[str]]:
    """Indicator columns for the quantile bins of `x` above the lowest (k bins at most).

    Why: a score's dependence on customer value is not linear (a 0-10 scale saturates at 10,
    so the most valuable customers gain less per unit of value than the others). Adjusting
    with a straight line in log value leaves residual confounding for a touchpoint used mostly
    by valuable customers; bins let the adjustment follow any shape, and the linear terms stay
    for the variation within a bin.
    """
    cuts = np.unique(np.quantile(x, np.linspace(0, 1, k + 1)[1:-1])) if len(x) else []
    bins = np.searchsorted(cuts, x, side="right")
    levels = np.unique(bins)[1:]
    columns = (
        np.column_stack([bins == b for b in levels]).astype(float)
        if len(levels)
        else (np.zeros((len(x), 0)))
    )
    return columns, [f"{what} {int(b) + 1}" for b in levels]


def condition_columns(
    exposures: list[tuple], n: int
) -> tuple[list[str], list[np.ndarray], list[tuple[str, str]]]:
    """0/1 columns of the conditions "<touchpoint> reached" and, where any event there
    failed, "<touchpoint> failed", from `exposures_sql` rows (unit, touchpoint, failed)."""
    touchpoints = sorted({t for _, t, _ in exposures})
    reached = {t: np.zeros(n) for t in touchpoints}
    failed = {t: np.zeros(n) for t in touchpoints}
    for unit, touchpoint, was_failed in exposures:
        reached[touchpoint][unit] = 1.0
        failed[touchpoint][unit] = float(was_failed)
    names: list[str] = []
    columns: list[np.ndarray] = []
    meta: list[tuple[str, str]] = []
    for t in touchpoints:
        names.append(f"{t} reached")
        columns.append(reached[t])
        meta.append((t, "reached"))
        if failed[t].any():
            names.append(f"{t} failed")
            columns.append(failed[t])
            meta.append((t, "failed"))
    return names, columns, meta


def customer_covariates(
    rows: list[tuple], relational: np.ndarray, *, lifetime: bool = False
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The covariate matrix of `covariates_sql` rows (unit, revenue before, orders before,
    [customer value over all the data, with `lifetime`], tenure days), its column names, and
    revenue before per unit.

    Log revenue and orders before the outcome, tenure in years, whether the answer is about
    the relationship, and indicators of the customer-value decile and the tenure quintile (see
    `quantile_bins`). Customer value is the revenue before the unit; with `lifetime` (score
    outcomes and content lift) it is the revenue over all the data, whose log is a column of
    its own: that one contains orders after the unit, so repurchase never uses it (it would
    contain the repurchase being predicted).
    """
    n = len(relational)
    value = np.zeros(n)
    orders = np.zeros(n)
    total = np.zeros(n)
    tenure = np.zeros(n)
    for unit, revenue, n_orders, *rest in rows:
        value[unit], orders[unit], tenure[unit] = revenue, n_orders, rest[-1]
        total[unit] = rest[0] if lifetime else revenue
    value_bins, value_bin_names = quantile_bins(total, 10, "customer value decile")
    tenure_bins, tenure_bin_names = quantile_bins(tenure, 5, "tenure quintile")
    extra = [np.log1p(total)] if lifetime else []
    matrix = np.column_stack(
        [
            np.log1p(value),
            np.log1p(orders),
            *extra,
            tenure / 365.0,
            relational,
            value_bins,
            tenure_bins,
        ]
    )
    names = [
        "log revenue before",
        "log orders before",
        *(["log customer value (all the data)"] if lifetime else []),
        "tenure (years)",
        "about the relationship",
        *value_bin_names,
        *tenure_bin_names,
    ]
    return matrix, names, value


def _fetch(ws: Workspace, sql: str, params: dict[str, Any]) -> list[tuple]:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return ws.engine.execute(sql, used or None).fetchall()


def build_moments(ws: Workspace, settings: MomentsSettings | None = None) -> dict[str, Any]:
    """Estimate and rank the pivotal moments for one outcome."""
    settings = settings or MomentsSettings()
    settings.validate()
    ws.profiles.ensure_current()
    params = {"metric": settings.outcome, "window_days": settings.window_days}
    units_sql = (
        queries.repurchase_sql() if settings.outcome == "repurchase" else queries.answers_sql()
    )
    e = ws.engine
    if settings.outcome != "repurchase":
        units_sql = f"SELECT *, CAST(NULL AS TIMESTAMP) AS next_at FROM ({units_sql})"
    e.execute(
        f"CREATE OR REPLACE TEMP TABLE units AS {units_sql}",
        {k: v for k, v in params.items() if f"${k}" in units_sql} or None,
    )
    try:
        units = e.fetchall("SELECT unit, y, relational FROM units ORDER BY unit")
        doc: dict[str, Any] = {
            "outcome": settings.outcome,
            "settings": asdict(settings),
            "n": len(units),
            "moments": [],
            "notes": [],
        }
        if len(units) < 2 * settings.min_exposed:
            doc["notes"].append(
                f"only {len(units)} {settings.outcome} outcomes linked to customers: "
                "too few to estimate effects"
            )
            return doc
        y = np.array([u[1] for u in units], dtype=float)
        relational = np.array([1.0 if u[2] else 0.0 for u in units])
        exposures = _fetch(
            ws, queries.exposures_sql(forward=settings.outcome == "repurchase"), params
        )
        # Repurchase: value before the order only (the whole-window value contains the
        # repurchase). Scores still adjust for the whole-window value: the generator's
        # confounded nulls (loyalty lounge) are driven by it, and value before alone lets the
        # lounge through as "pivotal" on seed 5 (review issue 3, open for scores).
        lifetime = settings.outcome != "repurchase"
        covariates = _fetch(ws, queries.covariates_sql(lifetime=lifetime), params)
        owners = dict(e.fetchall("SELECT touchpoint, owner FROM touchpoints"))
    finally:
        e.execute("DROP TABLE IF EXISTS units")
    n = len(units)
    names, columns, meta = condition_columns(exposures, n)
    covariate_matrix, covariate_names, value = customer_covariates(
        covariates, relational, lifetime=lifetime
    )
    threshold = np.quantile(value, 1 - settings.high_value_share) if n else 0.0
    high_value = value >= threshold if threshold > 0 else None
    effects = (
        estimate_effects(
            y,
            np.column_stack(columns) if columns else np.zeros((n, 0)),
            covariate_matrix,
            names=names,
            high_value=high_value,
            min_exposed=settings.min_exposed,
            covariate_names=covariate_names,
        )
        if columns
        else []
    )
    mean_value = float(value.mean()) if n else 0.0
    moments = []
    for effect, (touchpoint, condition), column in zip(effects, meta, columns, strict=True):
        exposed = column > 0
        reach = float(exposed.mean())
        stake = (
            float(value[exposed].mean() / mean_value) if mean_value > 0 and exposed.any() else 1.0
        )
        d = effect.to_dict()
        priority = abs(d["effect"]) * reach * stake if d["effect"] is not None else None
        moments.append(
            {
                "touchpoint": touchpoint,
                "condition": condition,
                "effect": d["effect"],
                "ci_low": d["ci_low"],
                "ci_high": d["ci_high"],
                "p_value": d["p_value"],
                "q_value": d["q_value"],
                "significant": d["significant"],
                "naive_effect": d["naive_effect"],
                "naive_ci_low": d["naive_ci_low"],
                "naive_ci_high": d["naive_ci_high"],
                "n_exposed": d["n_exposed"],
                "n_unexposed": d["n_unexposed"],
                "reach": reach,
                "value_at_stake": stake,
                "effect_high_value": d["effect_high_value"],
                "priority": priority,
                "owner": owners.get(touchpoint),
                "note": d["note"],
            }
        )
    moments.sort(
        key=lambda m: (
            not m["significant"],
            -(m["priority"] if m["priority"] is not None else -1.0),
        )
    )
    doc["moments"] = moments
    doc["model"] = effects[0].model if effects else None
    return doc
