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

__all__ = [
    "Attribution",
    "Journeys",
    "MarkovChain",
    "TouchpointAttribution",
    "attribute_conversions",
    "fit_markov_chain",
    "journeys",
]
