"""Pivotal moments: the effect of touchpoint conditions ("delivery failed", "support
unresolved") on an outcome, adjusted for confounding, with false-discovery-rate control."""

from cxloop.analytics.moments.build import OUTCOMES, MomentsSettings, build_moments
from cxloop.analytics.moments.effects import MomentEffect, estimate_effects, ranked

__all__ = [
    "OUTCOMES",
    "MomentEffect",
    "MomentsSettings",
    "build_moments",
    "estimate_effects",
    "ranked",
]
