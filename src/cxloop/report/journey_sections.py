"""Report section of the Buy, Own, Advocate journey: the loop as flows, touchpoints, paths."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph
from cxloop.report.sankey import journey_sankey

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _pct(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "n/a"
    return f"{100 * m['value']:.1f}%"


def _flows(transitions: list[dict[str, Any]]) -> dict[str, Any]:
    """The loop as a from × to grid: each cell's colour and label is the transition rate."""
    rows = [
        {
            "from": t["from"],
            "to": t["to"],
            "rate": t["rate"]["value"] or 0.0,
            "label": _pct(t["rate"]),
            "transitions": t["transitions"],
        }
        for t in transitions
    ]
    order = ["buy", "own", "advocate"]
    return {
        "$schema": charts.SCHEMA,
        "title": "The loop: where customers go next (share of visits)",
        "width": 300,
        "height": 220,
        "data": {"values": rows},
        "encoding": {
            "x": {"field": "to", "type": "nominal", "sort": order, "title": "next stage"},
            "y": {"field": "from", "type": "nominal", "sort": order, "title": "stage"},
        },
        "layer": [
            {
                "mark": "rect",
                "encoding": {
                    "color": {
                        "field": "rate",
                        "type": "quantitative",
                        "title": "rate",
                        "scale": {"domain": [0, 1]},
                    }
                },
            },
            {
                "mark": {"type": "text", "fontSize": 13},
                "encoding": {"text": {"field": "label", "type": "nominal"}},
            },
        ],
    }


def _attribution_table(rows: list[dict[str, Any]], name: str) -> Markup:
    """Markov removal effects beside first, last and linear touch, strongest first (top 10)."""
    rows = sorted(rows, key=lambda r: -(r["removal_effect"] or 0))
    return html_table(
        [name, "Markov removal effect", "Markov", "first touch", "last touch", "linear"],
        [
            [
                r[name],
                f"{r['removal_effect']:.2f}",
                f"{r['markov_conversions']:,.0f}",
                f"{r['first_touch']:,.0f}",
                f"{r['last_touch']:,.0f}",
                f"{r['linear']:,.0f}",
            ]
            for r in rows[:10]
        ],
    )


def journey_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    from cxloop.analytics.journey import JourneySettings, build_journey

    doc = build_journey(ws, JourneySettings.from_config(ws.config))
    context["journey"] = doc
    loop = doc["loop"]
    items = [
        f"{loop['customers']:,} customers; {_pct(loop['completion_rate'])} completed the loop "
        "(bought, owned, advocated and bought again).",
        *(
            f"{s['stage'].capitalize()}: {_pct(s['stalled'])} of profiles stopped here."
            for s in doc["stages"]
        ),
    ]
    blocks: list[Markup] = [bullet_list(items)]
    sankey = journey_sankey(doc["stages"], doc["transitions"])
    if sankey is not None:
        blocks.append(
            paragraph(
                "Where each stage's visits go next: a ribbon's width is the number of visits "
                "of a stage (left) followed next by a visit of another stage (right), and "
                '"Ended" counts visits with no next stage in the data.'
            )
        )
        blocks.append(sankey)
    if doc["transitions"]:
        blocks.append(charts.render_svg(_flows(doc["transitions"])))
    touch_rows = [
        [
            t["touchpoint"],
            t["stage"] or "",
            t["reach"]["profiles"],
            _pct(t["effectiveness"].get("success_rate")),
            _pct(t["effectiveness"].get("conversion")),
        ]
        for t in doc["touchpoints"]
    ]
    if touch_rows:
        blocks.append(
            html_table(
                ["touchpoint", "stage", "profiles", "success", "next step"],
                touch_rows,
                text_columns=2,
            )
        )
    purchase = next((a for a in doc["attribution"] if a["target"] == "purchase"), None)
    if purchase and purchase["touchpoints"]:
        blocks.append(
            paragraph(
                "Who gets the credit for first purchases: the Markov removal effect is the share "
                "of purchases lost if the touchpoint were removed from every journey; first, "
                "last and linear touch are shown beside it (top 10)."
            )
        )
        blocks.append(_attribution_table(purchase["touchpoints"], "touchpoint"))
    if purchase and purchase.get("channels"):
        blocks.append(paragraph("The same credit by channel (paths made of channels)."))
        blocks.append(_attribution_table(purchase["channels"], "channel"))
    return [
        Section(
            "Journey",
            "journey",
            "Buy, Own, Advocate, Buy again: how customers move through the loop, how each "
            "touchpoint performs, and which touchpoints drive purchases (see docs/journey.md).",
            blocks,
        )
    ]
