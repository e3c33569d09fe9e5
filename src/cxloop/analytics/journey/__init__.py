"""Journeys through the Buy, Own, Advocate loop: paths, and attribution of conversions to the
touchpoints on them."""

from cxloop.analytics.journey.attribution import (
    Attribution,
    Journeys,
    MarkovChain,
    TouchpointAttribution,
    attribute_conversions,
    fit_markov_chain,
    journeys,
)
from cxloop.analytics.journey.build import JourneySettings, build_journey

__all__ = [
    "Attribution",
    "JourneySettings",
    "Journeys",
    "MarkovChain",
    "TouchpointAttribution",
    "attribute_conversions",
    "build_journey",
    "fit_markov_chain",
    "journeys",
]
