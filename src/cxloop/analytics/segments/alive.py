"""P(alive) and predicted CLV per profile, from the CLV analysis (analytics/clv).

Why reuse `build_clv` rather than fit here: the segment must use the same model, the same
data preparation and the same warnings as `cxloop clv`, so a customer's P(alive) is one figure
across the product. `build_clv` exports every profile's prediction; that file is read into
the temporary table `seg_clv`, and the fitted BG/NBD parameters let the state query evaluate
P(alive) as of earlier dates in SQL (transitions) without refitting.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

_PREDICTIONS = "__seg_clv_predictions"


@dataclass(frozen=True)
class AliveModel:
    """The fitted purchase model's parameters (None when it could not be fitted, and why)."""

    params: dict[str, float] | None
    reason: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def fitted(self) -> bool:
        return self.params is not None

    def to_dict(self) -> dict[str, Any]:
        return {"fitted": self.fitted, "reason": self.reason, "params": self.params, **self.info}


def fit_alive(ws: Workspace, end: date) -> AliveModel:
    """Fit BG/NBD + Gamma-Gamma calibrated to `end` and load per-profile predictions into
    `seg_clv(profile_id, clv, probability_alive)`; a workspace the models cannot support
    (too few customers, no repeat purchases) yields an unfitted model with the reason."""
    from cxloop.analytics.clv import ClvSettings, build_clv

    with tempfile.TemporaryDirectory(prefix="cxloop-segments-") as tmp:
        path = Path(tmp) / "clv.parquet"
        settings = ClvSettings(calibration_end=end, compare_models=False, export=path)
        try:
            with warnings.catch_warnings():  # numerical warnings of the optimiser
                warnings.simplefilter("ignore", RuntimeWarning)
                doc = build_clv(ws, settings)
        except CxloopError as exc:
            return AliveModel(None, str(exc))
        # Handed to the engine from here (not read from the path by the engine, whose
        # workers may run on other machines).
        import pyarrow.parquet as pq

        ws.engine.register(_PREDICTIONS, pq.read_table(path))
        try:
            ws.engine.execute(
                "CREATE OR REPLACE TEMP TABLE seg_clv AS "
                f"SELECT profile_id, clv, probability_alive FROM {_PREDICTIONS}"
            )
        finally:
            ws.engine.unregister(_PREDICTIONS)
    params = {k: float(v) for k, v in doc["params"].items()}
    info = {
        "model": doc["model"],
        "time_unit": doc["time_unit"],
        "calibration_end": doc["calibration_end"],
        "horizon_months": doc["horizon_months"],
        "discount_rate": doc["discount_rate"],
        "customers": doc["n_customers"],
        "warnings": doc["warnings"],
    }
    return AliveModel(params, None, info)
