"""Buy-till-you-die purchase models and the Gamma-Gamma spend model, in the lifelines shape.

Settings go to the constructor, data to `fit`, fitted values end in `_`, and `summary` gives
the estimates with standard errors and 95% intervals.
"""

from cxloop.models.clv.base import ModelFitError
from cxloop.models.clv.bgnbd import BGNBDFitter
from cxloop.models.clv.gamma_gamma import GammaGammaFitter
from cxloop.models.clv.pareto_nbd import ParetoNBDFitter

__all__ = ["BGNBDFitter", "GammaGammaFitter", "ModelFitError", "ParetoNBDFitter"]
