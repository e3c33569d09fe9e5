"""Report section of the voice of the customer: what customers say, how they feel, why
detractors are detractors, how much genuine advocacy we get, and how we stand against
competitors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _num(e: dict[str, Any] | None, digits: int = 2) -> str:
    if not e or e.get("value") is None:
        return "n/a"
    if e.get("ci_low") is None:
        return f"{e['value']:+.{digits}f}"
    return f"{e['value']:+.{digits}f} [{e['ci_low']:+.{digits}f}, {e['ci_high']:+.{digits}f}]"


def _pct(e: dict[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return "n/a"
    return f"{100 * e['value']:.1f}%"


def voc_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    from cxloop.analytics.voc import VocSettings, build_voc

    doc = build_voc(ws, VocSettings.from_config(ws))
    context["voc"] = doc
    overall = doc["sentiment"]["overall"]
    if not overall["texts"] and not doc["competitive"]:
        return [Section("Voice of the customer", "voc", "No customer texts are loaded yet.")]
    agreement = {a["metric"]: a["spearman"] for a in doc["sentiment"]["agreement"]}
    items = [
        f"{overall['texts']:,} texts about us (surveys, reviews, our brand's mentions); net "
        f"sentiment {_num(overall['net'])} (share positive minus share negative).",
    ]
    if agreement.get("nps", {}).get("value") is not None:
        items.append(
            "Text sentiment agrees with the NPS given with it: Spearman "
            f"{_num(agreement['nps'])} over {agreement['nps']['n']:,} answers."
        )
    reasons = doc["reasons"].get("overall", {})
    if reasons.get("detractor"):
        items.append(
            "What sets detractors apart: "
            + "; ".join(r["item"] for r in reasons["detractor"][:3])
            + "."
        )
    if reasons.get("promoter"):
        items.append(
            "What promoters talk about: "
            + "; ".join(r["item"] for r in reasons["promoter"][:3])
            + "."
        )
    adv = doc["advocacy"]
    items.append(
        f"Our mentions: {adv['genuine']['mentions']:,} genuine advocacy "
        f"({_pct(adv['genuine']['share'])}), {adv['amplification']['mentions']:,} amplification, "
        f"{adv['complaint']['mentions']:,} complaints."
    )
    blocks: list[Markup] = [bullet_list(items + [f"Note: {n}" for n in doc["notes"]])]
    themes = doc["themes"][:12]
    if themes:
        blocks.append(
            charts.render_svg(
                charts.groups_with_interval(
                    [
                        {
                            "group": t["theme"],
                            "value": t["sentiment"]["mean"]["value"],
                            "ci_low": t["sentiment"]["mean"]["ci_low"],
                            "ci_high": t["sentiment"]["mean"]["ci_high"],
                        }
                        for t in themes
                        if t["sentiment"]["mean"]["value"] is not None
                        and t["sentiment"]["mean"]["ci_low"] is not None
                    ],
                    title="Mean sentiment per theme (-1 to 1)",
                    x_title="sentiment, 95% CI",
                )
            )
        )
        blocks.append(
            html_table(
                ["theme", "texts", "sentiment", "NPS of mentioners", "touchpoints"],
                [
                    [
                        t["theme"] + (" (pinned)" if t["pinned"] else ""),
                        f"{t['volume']:,}",
                        _num(t["sentiment"]["mean"]),
                        _num(t["nps"], 0),
                        ", ".join(x["touchpoint"] for x in t["touchpoints"][:3]),
                    ]
                    for t in themes
                ],
            )
        )
    if doc["competitive"]:
        blocks.append(paragraph("Competitive benchmark from social mentions:"))
        blocks.append(
            html_table(
                ["brand", "mentions", "share of voice", "net sentiment (95% CI)"],
                [
                    [
                        c["brand"],
                        f"{c['mentions']:,}",
                        _pct(c["share_of_voice"]),
                        _num(c["net_sentiment"]),
                    ]
                    for c in doc["competitive"]
                ],
            )
        )
    return [
        Section(
            "Voice of the customer",
            "voc",
            "Sentiment (VADER) of every verbatim, review and mention, the themes discovered in "
            "them, and advocacy intent (docs/voc.md).",
            blocks,
        )
    ]
