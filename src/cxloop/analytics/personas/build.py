"""`cxloop personas`: personas discovered from behaviour and preferences, and their drift.

Customers (profiles with a completed order) are described by purchase frequency, spend,
channel mix of orders and of events, seasonality, touchpoints used and feedback tone
(features.py); a Gaussian mixture on their principal components groups them, the number of
personas chosen by BIC within the configured range (model.py). The model is saved in
the workspace folder: later runs assign customers, new ones included, to the saved
personas and only refit when asked (`refit=True`, `--refit`), when no usable model exists, or
when the settings that define the model changed. Each persona is described in plain words
from the features that set it apart (labels.py), with its size and value; drift compares
the persona mix of newly acquired customers across periods, and each persona's centroid and
customers between an earlier cut-off and now (drift.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics import stats
from cxloop.analytics.periods import Period, parse_period
from cxloop.analytics.personas import assign, drift, model
from cxloop.analytics.personas.settings import PersonasSettings
from cxloop.analytics.personas.store import store_assignments

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _method(
    ws: Workspace, settings: PersonasSettings, run: assign.Run | None, period: Period
) -> dict[str, Any]:
    method: dict[str, Any] = {
        "features": "per customer (profile with a completed order): orders per year of tenure, "
        "average order value, Q4 share of orders, channel shares of orders and of events, "
        "touchpoint shares of events, events per order, mean text sentiment, mean NPS, "
        "has feedback; log1p for counts and amounts, shares shrunk towards the population, "
        "z-scores",
        "algorithm": "Gaussian mixture (diagonal covariance, k-means start) on the principal "
        f"components explaining {model.EXPLAINED_VARIANCE:.0%} of the standardised variance",
        "k_range": [settings.min_personas, settings.max_personas],
        "seed": settings.seed,
        "period": period.value,
        "drift_alpha": settings.drift_alpha,
        "model_path": str(model.model_path(ws.path)),
    }
    if run is None or run.model is None:
        method.update(model=run.status if run else "not fitted", k=None, criterion=None)
        return method
    m = run.model
    method.update(
        {
            "criterion": m.criterion,
            "criterion_detail": (
                "the k in the range with the lowest BIC of the mixture fitted on the sample"
                if m.criterion == "BIC"
                else f"k = {m.k} as asked (--k)"
            ),
            "model": run.status,
            "reason": run.reason,
            "fitted_at": m.fitted_at,
            "fitted_data_version": m.data_version,
            "data_version": ws.data_version,
            "k": m.k,
            "bic": {str(k): v for k, v in sorted(m.bic.items())},
            "customers_at_fit": m.customers,
            "fit_sample": m.fit_sample,
            "components": int(m.projection.components.shape[0]),
            "explained_variance": m.projection.explained,
            "reg_covar": model.REG_COVAR,
            "feature_names": list(m.spec.names),
            "k_range": list(m.k_range),
        }
    )
    return method


def build_personas(ws: Workspace, settings: PersonasSettings | None = None) -> dict[str, Any]:
    """Personas with size, value and plain-word labels, and their drift over periods."""
    settings = settings or PersonasSettings.from_config(ws)
    settings.validate()
    period = parse_period(settings.period)
    version = ws.data_version  # before the data is read (see store.stamp)
    run = assign.prepare(ws, settings)
    doc: dict[str, Any] = {
        "customers": 0,
        "personas": [],
        "drift": [],
        "drift_tests": {},
        "method": _method(ws, settings, run, period),
        "notes": [],
    }
    if run is None:
        doc["notes"].append("no customers (profiles with a completed order): no personas")
        return doc
    doc["notes"] += run.notes
    doc["customers"] = run.now.counts.n
    if run.model is None:
        return doc
    m = run.model
    store_assignments(ws, m, run.now, version)
    as_of = datetime.fromtimestamp(run.now.counts.as_of or 0.0, UTC)
    doc["as_of"] = as_of.isoformat()
    doc["personas"] = _personas(m, run.now)
    periods, tests = drift.acquisition_mix(
        run.now.counts.acquired,
        run.now.persona,
        m.k,
        period,
        settings.drift_alpha,
        as_of=as_of.date(),
    )
    doc["drift"] = periods
    tests.update(_snapshot_drift(m, run))
    tests["flagged"] = _flags(periods, tests, m.labels)
    doc["drift_tests"] = tests
    if len(periods) < 2:
        doc["notes"].append("customers were acquired in one period only: no drift tests")
    return doc


def _personas(m: model.PersonaModel, now: assign.Snapshot) -> list[dict[str, Any]]:
    k, n = m.k, now.counts.n
    names = list(m.spec.names)
    revenue = now.counts.columns["revenue"]
    total_revenue = float(revenue.sum())
    sizes = np.bincount(now.persona, minlength=k)
    share = stats.proportion(sizes, np.full(k, n))
    cz, cr = assign.centroids(now.z, now.raw, now.persona, k)
    overall_z = now.z.mean(axis=0)
    out = []
    for j in range(k):
        mask = now.persona == j
        rev = revenue[mask]
        value = stats.mean(
            [len(rev)],
            [rev.mean() if len(rev) else np.nan],
            [rev.var(ddof=1) if len(rev) > 1 else np.nan],
        )
        out.append(
            {
                "persona": j + 1,
                "label": m.labels[j],
                "size": int(sizes[j]),
                "share": stats.pick(share, j),
                "revenue_per_customer": stats.pick(value, 0),
                "revenue_share": float(rev.sum() / total_revenue) if total_revenue else None,
                "mean_probability": float(now.probability[mask].mean()) if mask.any() else None,
                "distinguishing": m.distinguishing[j],
                "features": {
                    name: {
                        "mean": float(cr[j, i]) if sizes[j] else None,
                        "z": float(cz[j, i] - overall_z[i]) if sizes[j] else None,
                    }
                    for i, name in enumerate(names)
                },
            }
        )
    return out


def _snapshot_drift(m: model.PersonaModel, run: assign.Run) -> dict[str, Any]:
    """Centroid shift and movers between the cut-off and now (same model, same
    standardisation: only the customers' data differ)."""
    before, now = run.before, run.now
    if before is None or run.cutoff is None or before.counts.n == 0:
        return {"cutoff": None, "centroid_shift": [], "movers": None}
    return {
        "cutoff": run.cutoff.date().isoformat(),
        "centroid_shift": drift.centroid_shift(
            list(m.spec.names),
            now.z,
            now.persona,
            now.raw,
            before.z,
            before.persona,
            before.raw,
            m.centroids_z,
            m.k,
        ),
        "movers": drift.movers(
            now.counts.profile_ids, now.persona, before.counts.profile_ids, before.persona, m.labels
        ),
    }


def _flags(
    periods: list[dict[str, Any]], tests: dict[str, Any], names: list[str]
) -> list[dict[str, Any]]:
    """Every significant or large drift, newest first: what a reader should look at."""
    flags: list[dict[str, Any]] = []
    for p in reversed(periods):
        for row in p["personas"]:
            if row["significant"]:
                flags.append(
                    {
                        "persona": row["persona"],
                        "label": names[row["persona"] - 1],
                        "kind": "acquisition share",
                        "period": p["period"],
                        "direction": row["direction"],
                        "share": row["share"]["value"],
                        "earlier_share": row["earlier_share"],
                        "q_value": row["q_value"],
                    }
                )
    for row in tests.get("trend", []):
        if row["significant"]:
            flags.append(
                {
                    "persona": row["persona"],
                    "label": names[row["persona"] - 1],
                    "kind": "trend in acquisition share",
                    "direction": row["direction"],
                    "slope_per_period": row["slope_per_period"],
                    "q_value": row["q_value"],
                }
            )
    for row in tests.get("centroid_shift", []):
        if row.get("flagged"):
            flags.append(
                {
                    "persona": row["persona"],
                    "label": names[row["persona"] - 1],
                    "kind": "centroid shift",
                    "distance": row["distance"],
                    "relative_shift": row["relative_shift"],
                }
            )
    return flags
