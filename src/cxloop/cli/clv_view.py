"""Readable tables for `cxloop clv` (the JSON document is the source; this only lays it out)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from cxloop.cli.render import err, table


def render(doc: dict[str, Any], out: Console) -> None:
    """Parameters, model comparison, holdout check, tiers, customers at risk and warnings."""
    unit = doc["time_unit"]
    out.print(
        f"CLV model {doc['model']} + Gamma-Gamma, calibration to {doc['calibration_end']} "
        f"({unit}), {doc['n_customers']:,} customers, {doc['n_repeat_buyers']:,} repeat buyers; "
        f"horizon {doc['horizon_weeks']:g} weeks, monthly discount {doc['discount_rate']:g}"
    )
    rows = [
        [r["name"], r["estimate"], r["se"], r["ci_low"], r["ci_high"]]
        for r in [*doc["summary"], *doc["spend_summary"]]
    ]
    out.print(table("Parameters", ["parameter", "estimate", "se", "95% low", "95% high"], rows))
    out.print(
        table(
            "Model comparison (lower BIC is better)",
            ["model", "log-likelihood", "BIC"],
            [[c["model"], c["log_likelihood"], c["bic"]] for c in doc["comparison"]],
        )
    )
    hold = doc["holdout"]
    if hold:
        out.print(
            table(
                f"Holdout to {hold['end']}: repeat purchases, actual "
                f"{hold['actual_repeat_purchases']:,.0f} vs predicted "
                f"{hold['predicted_repeat_purchases']:,.1f}",
                ["calibration repeats", "customers", "actual mean", "predicted mean"],
                [
                    [b["frequency"], b["customers"], b["actual_mean"], b["predicted_mean"]]
                    for b in hold["by_frequency"]
                ],
            )
        )
    out.print(
        table(
            "Value tiers by predicted CLV",
            ["tier", "customers", "share of CLV", "mean CLV"],
            [
                [
                    t["tier"],
                    t["customers"],
                    None if t["clv_share"] is None else f"{t['clv_share']:.1%}",
                    t["mean_clv"],
                ]
                for t in doc["tiers"]
            ],
        )
    )
    risk = doc["at_risk"]
    out.print(
        table(
            f"Valuable customers at risk (top 20%, P(alive) < {risk['probability_alive_below']:g})"
            f": {risk['count']:,}",
            ["profile", "CLV", "P(alive)", "repeats", "recency", "T"],
            [
                [
                    c["profile_id"],
                    c["clv"],
                    c["probability_alive"],
                    c["frequency"],
                    c["recency"],
                    c["T"],
                ]
                for c in risk["customers"][:10]
            ],
        )
    )
    if doc.get("export"):
        out.print(f"Predictions written to {doc['export']}")
    for w in doc["warnings"]:
        err.print(f"warning: {w}")
