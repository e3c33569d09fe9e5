"""Report section of personas: who the customers are, what each group is worth, what drifts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _flag_sentence(f: dict[str, Any]) -> str:
    who = f"Persona {f['persona']} ({f['label']})"
    if f["kind"] == "acquisition share":
        return (
            f"{who}: {_pct(f['share'])} of the customers acquired in {f['period']} against "
            f"{_pct(f['earlier_share'])} of those acquired before ({f['direction']}, "
            f"q = {f['q_value']:.3g})."
        )
    if f["kind"] == "trend in acquisition share":
        return (
            f"{who}: its share of new customers is {f['direction']} by "
            f"{_pct(f['slope_per_period'])} per period (q = {f['q_value']:.3g})."
        )
    return (
        f"{who}: its centroid moved {f['distance']:.2f} standard deviations, "
        f"{_pct(f['relative_shift'])} of the way to the nearest other persona."
    )


def personas_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    from cxloop.analytics.personas import PersonasSettings, build_personas

    doc = build_personas(ws, PersonasSettings.from_config(ws))
    context["personas"] = doc
    if not doc["personas"]:
        return [
            Section(
                "Personas",
                "personas",
                "No personas: " + (" ".join(doc["notes"]) or "no customers."),
            )
        ]
    m = doc["method"]
    how = (
        "fitted on this data"
        if m["model"] == "fitted"
        else f"saved on {m['fitted_at'][:10]} and applied to today's customers"
    )
    blocks: list[Markup] = [
        html_table(
            ["#", "persona", "customers", "share", "95% CI", "revenue per customer", "of revenue"],
            [
                [
                    p["persona"],
                    p["label"],
                    p["size"],
                    _pct(p["share"]["value"]),
                    f"{_pct(p['share']['ci_low'])} to {_pct(p['share']['ci_high'])}",
                    "n/a"
                    if p["revenue_per_customer"]["value"] is None
                    else f"{p['revenue_per_customer']['value']:,.2f}",
                    _pct(p["revenue_share"]),
                ]
                for p in doc["personas"]
            ],
            text_columns=2,
        ),
        charts.render_svg(
            charts.groups_with_interval(
                [
                    {
                        "group": f"{p['persona']}: {p['label'][:40]}",
                        "value": p["share"]["value"],
                        "ci_low": p["share"]["ci_low"],
                        "ci_high": p["share"]["ci_high"],
                    }
                    for p in doc["personas"]
                ],
                title="Share of customers per persona",
                x_title="share, 95% CI",
            )
        ),
    ]
    flags = doc["drift_tests"].get("flagged") or []
    if flags:
        blocks.append(paragraph("Drift to look at (newest first):"))
        blocks.append(bullet_list([_flag_sentence(f) for f in flags[:10]]))
    else:
        blocks.append(paragraph("No significant drift of persona shares among new customers."))
    movers = doc["drift_tests"].get("movers")
    if movers:
        blocks.append(
            paragraph(
                f"Since {doc['drift_tests']['cutoff']}, {movers['moved']:,} of "
                f"{movers['customers']:,} customers ({_pct(movers['share']['value'])}) moved to "
                "another persona as their behaviour changed."
            )
        )
    if doc["notes"]:
        blocks.append(bullet_list(doc["notes"]))
    return [
        Section(
            "Personas",
            "personas",
            f"{doc['customers']:,} customers grouped into {m['k']} personas by behaviour and "
            f"preferences (a Gaussian mixture; {m['criterion_detail']}); model {how}. Labels "
            "name the features that set each persona apart (docs/metrics.md).",
            blocks,
        )
    ]
