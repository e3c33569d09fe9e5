"""The scorecard's metrics as data: name, family, how it is estimated, how to read it.

`docs/metrics.md` defines each one (a test checks that every name here is documented).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Estimator(StrEnum):
    NPS = "nps"  # points, adjusted-Wald interval
    PROPORTION = "proportion"  # share 0..1, Wilson interval
    MEAN = "mean"  # Student-t interval
    TOTAL = "total"  # an exact count or sum over the data: no interval
    DESCRIPTIVE = "descriptive"  # a summary of the data without a sampling model


@dataclass(frozen=True)
class MetricSpec:
    name: str
    family: str
    estimator: Estimator
    label: str
    unit: str = ""
    higher_is_better: bool = True


F_ADV, F_EASE, F_SAT, F_ECON, F_SOC, F_ACTS = (
    "advocacy",
    "ease",
    "satisfaction",
    "economic value",
    "social value",
    "advocacy acts",
)
E = Estimator

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("nps", F_ADV, E.NPS, "NPS, all answers", "points"),
    MetricSpec("nps_relational", F_ADV, E.NPS, "NPS, relationship", "points"),
    MetricSpec("nps_transactional", F_ADV, E.NPS, "NPS, touchpoints", "points"),
    MetricSpec("ces", F_EASE, E.MEAN, "CES mean (1-7)"),
    MetricSpec("ces_easy_share", F_EASE, E.PROPORTION, "CES % easy (5-7)", "share"),
    MetricSpec(
        "duration_median",
        F_EASE,
        E.DESCRIPTIVE,
        "median time at a touchpoint",
        "s",
        higher_is_better=False,
    ),
    MetricSpec("steps_per_journey", F_EASE, E.MEAN, "steps per journey", higher_is_better=False),
    MetricSpec(
        "support_contact_rate",
        F_EASE,
        E.PROPORTION,
        "customers needing support",
        "share",
        higher_is_better=False,
    ),
    MetricSpec("csat", F_SAT, E.PROPORTION, "CSAT (% 4-5)", "share"),
    MetricSpec("rating", F_SAT, E.MEAN, "star rating mean (1-5)"),
    MetricSpec("revenue", F_ECON, E.TOTAL, "revenue (completed orders)", "currency"),
    MetricSpec("orders", F_ECON, E.TOTAL, "completed orders"),
    MetricSpec("customers", F_ECON, E.TOTAL, "customers who bought"),
    MetricSpec("aov", F_ECON, E.MEAN, "average order value", "currency"),
    MetricSpec("purchase_frequency", F_ECON, E.MEAN, "orders per customer"),
    MetricSpec("revenue_per_customer", F_ECON, E.MEAN, "revenue per customer", "currency"),
    MetricSpec(
        "historical_customer_value", F_ECON, E.MEAN, "historical customer value", "currency"
    ),
    MetricSpec("retention_rate", F_ECON, E.PROPORTION, "retention rate", "share"),
    MetricSpec("repeat_purchase_rate", F_ECON, E.PROPORTION, "repeat-purchase rate", "share"),
    MetricSpec(
        "top20_revenue_share",
        F_ECON,
        E.DESCRIPTIVE,
        "revenue share of top 20%",
        "share",
        higher_is_better=False,
    ),
    MetricSpec("mentions_genuine", F_SOC, E.TOTAL, "genuine advocacy mentions"),
    MetricSpec("mentions_genuine_reach", F_SOC, E.TOTAL, "reach of genuine advocacy"),
    MetricSpec("mentions_amplification", F_SOC, E.TOTAL, "amplification (likes, shares)"),
    MetricSpec("mentions_amplification_reach", F_SOC, E.TOTAL, "reach of amplification"),
    MetricSpec("share_of_voice", F_SOC, E.PROPORTION, "share of voice (mentions)", "share"),
    MetricSpec("share_of_voice_reach", F_SOC, E.DESCRIPTIVE, "share of voice (reach)", "share"),
    MetricSpec("referrals", F_ACTS, E.TOTAL, "referrals made"),
    MetricSpec("referrals_converted", F_ACTS, E.TOTAL, "referrals converted"),
    MetricSpec(
        "referral_conversion_rate", F_ACTS, E.PROPORTION, "referral conversion rate", "share"
    ),
    MetricSpec("public_reviews", F_ACTS, E.TOTAL, "public reviews"),
    MetricSpec("positive_public_reviews", F_ACTS, E.TOTAL, "positive public reviews"),
)

BY_NAME = {m.name: m for m in METRICS}
