"""`build_clv`: the whole CLV analysis of a workspace as one JSON-ready document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics.clv.predict import Predictions, months_in, predict
from cxloop.analytics.clv.summary import UNITS, RFMSummary, order_range, rfm_summary
from cxloop.analytics.clv.validation import holdout_table, value_tiers
from cxloop.errors import CxloopError
from cxloop.models.clv import BGNBDFitter, GammaGammaFitter, ParetoNBDFitter
from cxloop.models.clv.gamma_gamma import independence_check

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

MODELS = {"bgnbd": BGNBDFitter, "pareto_nbd": ParetoNBDFitter}
EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
_EXPORT_TABLE = "__clv_export"


@dataclass(frozen=True)
class ClvSettings:
    """What `build_clv` computes. Dates are calendar days (UTC), both ends inclusive."""

    model: str = "bgnbd"
    calibration_end: date | None = None  # default: the last completed order's day
    holdout_end: date | None = None
    horizon_weeks: float = 52.0
    discount_rate: float = 0.01  # monthly
    time_unit: str = "weeks"
    at_risk_below: float = 0.5  # probability alive under which a valuable customer is at risk
    top_n: int = 20
    at_risk_limit: int = 100
    compare_models: bool = True
    export: Path | None = None

    def validate(self) -> None:
        if self.model not in MODELS:
            raise CxloopError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        if self.time_unit not in UNITS:
            raise CxloopError(f"time unit must be one of {', '.join(UNITS)}")
        if not (self.horizon_weeks > 0 and np.isfinite(self.horizon_weeks)):
            raise CxloopError(
                f"horizon must be a positive number of weeks, not {self.horizon_weeks}"
            )
        if not (0 <= self.discount_rate < 1):
            raise CxloopError(f"monthly discount rate must be in [0, 1), not {self.discount_rate}")
        if not (0 < self.at_risk_below <= 1):
            raise CxloopError("the at-risk threshold must be a probability in (0, 1]")
        if self.holdout_end is not None and self.calibration_end is None:
            raise CxloopError("a holdout end needs a calibration end (--calibration-end)")
        if self.export is not None and self.export.suffix.lower() not in EXPORT_FORMATS:
            suffix = self.export.suffix or "no extension"
            raise CxloopError(f"{self.export}: export to .csv or .parquet, not {suffix!r}")


def _fit_purchases(name: str, s: RFMSummary) -> Any:
    return MODELS[name]().fit(s.frequency, s.recency, s.age)


def _param_doc(fitter: Any) -> dict[str, Any]:
    return {
        "params": fitter.params_,
        "standard_errors": fitter.standard_errors_,
        "summary": fitter.summary,
    }


def build_clv(ws: Workspace, settings: ClvSettings | None = None) -> dict[str, Any]:
    """Fit the purchase and spend models on the workspace's profiles and predict their value."""
    settings = settings or ClvSettings()
    settings.validate()
    first, last, n_orders = order_range(ws)
    if not n_orders or first is None or last is None:
        raise CxloopError("no completed orders linked to profiles: nothing to model")
    cal = settings.calibration_end or last
    if cal < first:
        raise CxloopError(f"calibration end {cal} is before the first completed order ({first})")
    s = rfm_summary(
        ws, calibration_end=cal, holdout_end=settings.holdout_end, time_unit=settings.time_unit
    )
    warnings: list[str] = []
    if settings.holdout_end is not None and settings.holdout_end > last:
        warnings.append(
            f"the holdout runs to {settings.holdout_end} but the last order is on {last}: "
            "actual holdout purchases are undercounted"
        )
    if s.n < 2:
        raise CxloopError(f"only {s.n} customer(s) bought by {cal}: the models need many customers")
    if not np.any(s.frequency > 0):
        raise CxloopError(
            f"none of the {s.n} customers made a repeat purchase by {cal}: purchase models "
            "cannot be fitted (choose a later calibration end or load more history)"
        )
    model = _fit_purchases(settings.model, s)

    repeat = s.frequency > 0
    spend_ok = repeat & (s.monetary_value > 0)
    dropped = int((repeat & ~spend_ok).sum())
    if dropped:
        warnings.append(
            f"{dropped} repeat buyer(s) with zero mean repeat spend left out of the spend model"
        )
    if int(spend_ok.sum()) < 2:
        raise CxloopError(
            f"only {int(spend_ok.sum())} repeat buyer(s) with positive spend: the spend model "
            "needs at least 2"
        )
    spend = GammaGammaFitter().fit(s.frequency[spend_ok], s.monetary_value[spend_ok])
    check = independence_check(s.frequency[spend_ok], s.monetary_value[spend_ok])
    if check.warning:
        warnings.append(check.warning)
    monetary = np.where(spend_ok, s.monetary_value, np.nan)
    pred = predict(
        model,
        spend,
        s.frequency,
        s.recency,
        s.age,
        np.where(spend_ok, monetary, 0.0),
        horizon_weeks=settings.horizon_weeks,
        discount_rate=settings.discount_rate,
        unit_days=UNITS[settings.time_unit],
        holdout_length=s.holdout_length,
    )
    # Repeat buyers left out of the spend model get the population mean spend.
    pred = _with_population_spend(pred, spend_ok | ~repeat, spend)
    for name, values in (("CLV", pred.clv), ("probability alive", pred.probability_alive)):
        if not np.all(np.isfinite(values)):
            raise CxloopError(
                f"{name} could not be computed for {int((~np.isfinite(values)).sum())} "
                "customers (the fitted model is degenerate on these data)"
            )

    comparison = _compare(settings, s, model)
    tiers, tier_of = value_tiers(pred.clv)
    doc: dict[str, Any] = {
        "model": settings.model,
        "time_unit": settings.time_unit,
        "calibration_end": cal.isoformat(),
        "holdout_end": settings.holdout_end.isoformat() if settings.holdout_end else None,
        "horizon_weeks": settings.horizon_weeks,
        "horizon_months": months_in(settings.horizon_weeks),
        "discount_rate": settings.discount_rate,
        **_param_doc(model),
        "spend_params": spend.params_,
        "spend_standard_errors": spend.standard_errors_,
        "spend_summary": spend.summary,
        "log_likelihood": model.log_likelihood_,
        "bic": model.bic_,
        "spend_log_likelihood": spend.log_likelihood_,
        "n_customers": s.n,
        "n_repeat_buyers": int(repeat.sum()),
        "n_spend_customers": spend.n_customers_,
        "independence": check.to_dict(),
        "comparison": comparison,
        "holdout": _holdout(s, pred),
        "totals": {
            "expected_purchases": float(pred.expected_purchases.sum()),
            "clv": float(pred.clv.sum()),
            "mean_clv": float(pred.clv.mean()),
            "population_mean_spend": spend.population_mean_spend,
        },
        "tiers": tiers,
        "at_risk": _at_risk(settings, s, pred, tier_of),
        "top_customers": _rows(s, pred, np.argsort(-pred.clv, kind="stable")[: settings.top_n]),
        "warnings": warnings,
        "export": None,
    }
    if settings.export is not None:
        doc["export"] = str(_export(ws, settings.export, s, pred, tier_of))
    return doc


def _with_population_spend(
    pred: Predictions, keep: np.ndarray, spend: GammaGammaFitter
) -> Predictions:
    if np.all(keep):
        return pred
    mean = spend.population_mean_spend
    expected_spend = np.where(keep, pred.expected_spend, mean)
    clv = np.where(
        keep, pred.clv, pred.clv / np.where(pred.expected_spend > 0, pred.expected_spend, 1) * mean
    )
    return Predictions(
        pred.expected_purchases, pred.probability_alive, expected_spend, clv, pred.holdout_expected
    )


def _compare(settings: ClvSettings, s: RFMSummary, model: Any) -> list[dict[str, Any]]:
    """Both purchase models side by side by log-likelihood and BIC (lower BIC is better)."""
    fitted = {settings.model: model}
    if settings.compare_models:
        for name in MODELS:
            if name not in fitted:
                try:
                    fitted[name] = _fit_purchases(name, s)
                except CxloopError:
                    continue
    return [
        {
            "model": name,
            "log_likelihood": f.log_likelihood_,
            "bic": f.bic_,
            "n_params": len(f.param_names),
            "params": f.params_,
        }
        for name, f in sorted(fitted.items(), key=lambda kv: kv[1].bic_)
    ]


def _holdout(s: RFMSummary, pred: Predictions) -> dict[str, Any] | None:
    if s.holdout_frequency is None or pred.holdout_expected is None:
        return None
    actual = s.holdout_frequency
    return {
        "start_after": s.calibration_end.isoformat(),
        "end": s.holdout_end.isoformat() if s.holdout_end else None,
        "length": s.holdout_length,
        "actual_repeat_purchases": float(actual.sum()),
        "predicted_repeat_purchases": float(pred.holdout_expected.sum()),
        "by_frequency": holdout_table(s.frequency, actual, pred.holdout_expected),
    }


def _rows(s: RFMSummary, pred: Predictions, idx: np.ndarray) -> list[dict[str, Any]]:
    return [
        {
            "profile_id": str(s.profile_id[i]),
            "frequency": int(s.frequency[i]),
            "recency": float(s.recency[i]),
            "T": float(s.age[i]),
            "monetary_value": None if np.isnan(s.monetary_value[i]) else float(s.monetary_value[i]),
            "probability_alive": float(pred.probability_alive[i]),
            "expected_purchases": float(pred.expected_purchases[i]),
            "expected_spend": float(pred.expected_spend[i]),
            "clv": float(pred.clv[i]),
        }
        for i in idx
    ]


def _at_risk(
    settings: ClvSettings, s: RFMSummary, pred: Predictions, tier_of: np.ndarray
) -> dict[str, Any]:
    """High-value (top 20%) customers whose probability of being alive is below the threshold:
    the win-back list for the programs, most valuable first."""
    high = (tier_of == "top_1pct") | (tier_of == "next_19pct")
    idx = np.flatnonzero(high & (pred.probability_alive < settings.at_risk_below))
    idx = idx[np.argsort(-pred.clv[idx], kind="stable")]
    return {
        "probability_alive_below": settings.at_risk_below,
        "count": len(idx),
        "clv_at_risk": float(pred.clv[idx].sum()),
        "customers": _rows(s, pred, idx[: settings.at_risk_limit]),
    }


def _export(
    ws: Workspace, path: Path, s: RFMSummary, pred: Predictions, tier_of: np.ndarray
) -> Path:
    """Write every profile's prediction through the engine (CSV or Parquet by extension)."""
    import pyarrow as pa

    table = pa.table(
        {
            "profile_id": pa.array(s.profile_id.astype(str)),
            "frequency": s.frequency.astype(np.int64),
            "recency": s.recency,
            "T": s.age,
            "monetary_value": pa.array(s.monetary_value, from_pandas=True),
            "probability_alive": pred.probability_alive,
            "expected_purchases": pred.expected_purchases,
            "expected_spend": pred.expected_spend,
            "clv": pred.clv,
            "tier": pa.array(tier_of.astype(str)),
        }
    )
    path = Path(path)
    if not path.parent.exists():
        raise CxloopError(f"{path.parent}: no such folder for the export")
    ws.engine.register(_EXPORT_TABLE, table)
    try:
        ws.engine.write(f"SELECT * FROM {_EXPORT_TABLE} ORDER BY clv DESC, profile_id", path)
    finally:
        ws.engine.unregister(_EXPORT_TABLE)
    return path
