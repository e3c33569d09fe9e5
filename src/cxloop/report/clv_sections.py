"""Report sections of customer lifetime value: the model, its validation, value tiers."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def clv_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    """Fit on all history for values and tiers; refit with the last part held out to show
    how well the model predicts purchases it has not seen."""
    from cxloop.analytics.clv import ClvSettings, build_clv
    from cxloop.analytics.clv.summary import order_range
    from cxloop.errors import CxloopError

    try:
        doc = build_clv(ws, ClvSettings())
    except CxloopError as exc:
        return [Section("Customer lifetime value", "clv", f"Not available: {exc}.")]
    context["clv"] = doc
    sections = [_value_section(doc)]
    first, last, _ = order_range(ws)
    if first is not None and last is not None and (last - first).days >= 120:
        holdout_days = min(182, (last - first).days // 3)
        try:
            validation = build_clv(
                ws,
                ClvSettings(
                    calibration_end=last - timedelta(days=holdout_days),
                    holdout_end=last,
                    compare_models=True,
                ),
            )
            sections.append(_validation_section(validation))
        except CxloopError as exc:
            sections.append(Section("CLV validation", "clv-validation", f"Not available: {exc}."))
    return sections


def _value_section(doc: dict[str, Any]) -> Section:
    totals = doc["totals"]
    items = [
        f"Model: {doc['model']} on {doc['n_customers']:,} customers "
        f"({doc['n_repeat_buyers']:,} repeat buyers), calibrated to {doc['calibration_end']}.",
        f"Predicted value over the next {doc['horizon_months']} months "
        f"(monthly discount rate {doc['discount_rate']:.1%}): {_money(totals['clv'])} in all, "
        f"{_money(totals['mean_clv'])} per customer.",
    ]
    if doc["at_risk"]["count"]:
        items.append(
            f"{doc['at_risk']['count']:,} valuable customers are at risk (probability alive "
            f"below {doc['at_risk']['probability_alive_below']:.0%}), holding "
            f"{_money(doc['at_risk']['clv_at_risk'])} of predicted value."
        )
    items += list(doc.get("warnings") or [])
    params = [
        [
            p["name"],
            f"{p['estimate']:.4g}",
            f"{p['se']:.3g}" if p["se"] is not None else "",
            f"[{p['ci_low']:.4g}, {p['ci_high']:.4g}]" if p["ci_low"] is not None else "",
        ]
        for p in doc["summary"] + doc["spend_summary"]
    ]
    comparison = [
        [c["model"], f"{c['log_likelihood']:,.2f}", f"{c['bic']:,.1f}"]
        for c in doc.get("comparison") or []
    ]
    tiers = [
        [
            t["tier"].replace("_", " "),
            t["customers"],
            f"{t['clv_share']:.1%}",
            _money(t["mean_clv"]),
        ]
        for t in doc["tiers"]
    ]
    at_risk = [
        [c["profile_id"], _money(c["clv"]), f"{c['probability_alive']:.0%}", c["frequency"]]
        for c in doc["at_risk"]["customers"][:10]
    ]
    blocks: list[Markup] = [bullet_list(items)]
    blocks.append(html_table(["parameter", "estimate", "se", "95% CI"], params))
    if comparison:
        blocks.append(html_table(["model", "log-likelihood", "BIC (lower is better)"], comparison))
    blocks.append(html_table(["value tier", "customers", "share of CLV", "mean CLV"], tiers))
    if at_risk:
        blocks.append(paragraph("Valuable customers at risk (top 10 by CLV):"))
        blocks.append(
            html_table(["profile", "CLV", "probability alive", "repeat purchases"], at_risk)
        )
    return Section(
        "Customer lifetime value",
        "clv",
        "Purchases from the buy-till-you-die model, spend from Gamma-Gamma; see docs/clv.md.",
        blocks,
    )


def _validation_section(doc: dict[str, Any]) -> Section:
    holdout = doc["holdout"]
    points = [
        {"start": b["frequency"], "series": series, "value": b[key]}
        for b in holdout["by_frequency"]
        for series, key in (("actual", "actual_mean"), ("predicted", "predicted_mean"))
    ]
    spec = charts.bars_over_time(
        points, title="Repeat purchases in the holdout, per customer", y_title="mean"
    )
    spec["encoding"]["x"] = {
        "field": "start",
        "type": "ordinal",
        "title": "repeat purchases in calibration",
        "sort": None,
    }
    lead = (
        f"Fitted on orders up to {doc['calibration_end']}, then asked to predict the "
        f"repeat purchases after that day, up to {holdout['end']}: "
        f"{holdout['predicted_repeat_purchases']:,.0f} repeat purchases predicted, "
        f"{holdout['actual_repeat_purchases']:,.0f} made."
    )
    return Section(
        "CLV validation",
        "clv-validation",
        lead,
        [charts.render_svg(spec)],
    )
