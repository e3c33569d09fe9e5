"""Customer lifetime value: RFM summary in the engine, BG/NBD or Pareto/NBD purchases,
Gamma-Gamma spend, holdout validation, value tiers and valuable customers at risk.

`build_clv(workspace, settings)` returns the JSON document of `cxloop clv --json`.
"""

from cxloop.analytics.clv.build import MODELS, ClvSettings, build_clv
from cxloop.analytics.clv.summary import RFMSummary, rfm_summary

__all__ = ["MODELS", "ClvSettings", "RFMSummary", "build_clv", "rfm_summary"]
