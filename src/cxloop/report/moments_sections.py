"""Report section of pivotal moments: the ranking with intervals and what to do first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _recommendation(m: dict[str, Any], outcome: str) -> str:
    what = f"{m['touchpoint']} ({m['condition']})"
    direction = "lowers" if m["effect"] < 0 else "raises"
    owner = f"; owner: {m['owner']}" if m.get("owner") else ""
    if m["condition"] == "failed":
        action = "cut the failure rate here first"
    elif m["effect"] < 0:
        action = "review what customers go through at this touchpoint"
    else:
        action = "make this experience reach more customers"
    return (
        f"{what} {direction} {outcome} by {abs(m['effect']):.2f} points "
        f"[95% CI {m['ci_low']:+.2f} to {m['ci_high']:+.2f}] after adjustment (naive "
        f"{m['naive_effect']:+.2f}); it reaches {100 * m['reach']:.1f}% of answers: "
        f"{action}{owner}."
    )


def moments_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    from cxloop.analytics.moments import MomentsSettings, build_moments

    doc = build_moments(ws, MomentsSettings(outcome="nps"))
    context["moments"] = doc
    significant = [m for m in doc["moments"] if m["significant"] and m["effect"] is not None]
    if not significant:
        return [
            Section(
                "Pivotal moments",
                "moments",
                "No touchpoint experience has an effect on NPS answers that is distinguishable "
                "from noise after adjustment. " + " ".join(doc["notes"]),
            )
        ]
    blocks: list[Markup] = [
        paragraph("Where to invest first (the top three by priority):"),
        bullet_list([_recommendation(m, "likelihood to recommend") for m in significant[:3]]),
    ]
    rows = [
        {
            "group": f"{m['touchpoint']} {m['condition']}",
            "value": m["effect"],
            "ci_low": m["ci_low"],
            "ci_high": m["ci_high"],
        }
        for m in significant[:12]
    ]
    blocks.append(
        charts.render_svg(
            charts.groups_with_interval(
                rows,
                title="Adjusted effect on likelihood to recommend (0-10)",
                x_title="points, 95% CI",
            )
        )
    )
    blocks.append(
        html_table(
            [
                "touchpoint",
                "condition",
                "adjusted",
                "95% CI",
                "naive",
                "reach",
                "priority",
                "owner",
            ],
            [
                [
                    m["touchpoint"],
                    m["condition"],
                    f"{m['effect']:+.2f}",
                    f"[{m['ci_low']:+.2f}, {m['ci_high']:+.2f}]",
                    "" if m["naive_effect"] is None else f"{m['naive_effect']:+.2f}",
                    f"{100 * m['reach']:.1f}%",
                    f"{m['priority']:.3f}",
                    m["owner"] or "",
                ]
                for m in significant
            ],
            text_columns=2,
        )
    )
    return [
        Section(
            "Pivotal moments",
            "moments",
            f"Effects of touchpoint experiences on {doc['n']:,} NPS answers, adjusted for "
            "customer value, orders, tenure and the other moments; only moments that stay "
            "significant after false-discovery control are shown (docs/metrics.md).",
            blocks,
        )
    ]
