"""Report section of loyalty x advocacy segments: who is loyal, who only looks loyal, who
loves us without buying, the loyal advocates, and how customers moved last period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from cxloop.analytics.segments.transitions import matrix_rows
from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

LABELS = {
    "loyal": "loyal (buy and love us)",
    "captive": "captive (buy, no affinity)",
    "fan": "fan (affinity, no recent buying)",
    "other": "other",
}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def _nps(nps: dict[str, Any]) -> str:
    if nps["value"] is None:
        return "n/a"
    return f"{nps['value']:+.0f} [{nps['ci_low']:+.0f}, {nps['ci_high']:+.0f}]"


def _findings(doc: dict[str, Any]) -> list[str]:
    seg = {s["segment"]: s for s in doc["segments"]}
    loyal, captive, fan, other = (seg[k] for k in ("loyal", "captive", "fan", "other"))
    loyads = doc["loyads"]
    items = [
        f"Loyal customers are {_pct(loyal['share']['value'])} of profiles and bring "
        f"{_pct(loyal['revenue_share'])} of revenue (NPS {_nps(loyal['nps'])}).",
        f"Captives — repeat buyers without affinity, who stay out of habit or lock-in and leave "
        f"for a better offer — are {captive['profiles']:,} profiles with "
        f"{_pct(captive['revenue_share'])} of revenue: the revenue at risk.",
        f"Fans without recent purchases: {fan['profiles']:,} profiles who like us but do not "
        "(or no longer) buy: latent loyalty to convert.",
        f"Loyads (loyal advocates): {loyads['profiles']:,} profiles, "
        f"{_pct(loyads['share_of_loyal']['value'])} of the loyal, "
        f"{_pct(loyads['revenue_share'])} of revenue and "
        f"{_money(loyads['referral_revenue'])} of referral revenue.",
    ]
    if other.get("behavioural_attitude_unknown"):
        items.append(
            f"{other['behavioural_attitude_unknown']:,} repeat buyers have no answer and no "
            "scored text: their attitude is unknown, so they are counted in 'other', not as "
            "captives; asking them would tell."
        )
    return items


def _grid_table(doc: dict[str, Any]) -> Markup:
    rows = [
        [
            LABELS[c["segment"]],
            "advocate" if c["advocate"] else "not an advocate",
            c["profiles"],
            _pct(c["share"]["value"]),
            _pct(c["revenue_share"]),
            _money(c["avg_value"]["value"]),
            _money(c["avg_clv"]["value"]),
            _nps(c["nps"]),
            _money(c["referral_revenue"]),
            "★ loyads" if c["loyad"] else "",
        ]
        for c in doc["grid"]
    ]
    return html_table(
        [
            "segment",
            "advocacy",
            "profiles",
            "share",
            "revenue share",
            "avg value",
            "avg CLV",
            "NPS [95% CI]",
            "referral revenue",
            "",
        ],
        rows,
        text_columns=2,
    )


def _transition_table(doc: dict[str, Any]) -> Markup | None:
    if not doc["transitions"]:
        return None
    last = doc["transitions"][-1]
    targets, rows = matrix_rows(last)
    return Markup("").join(
        [
            paragraph(
                f"Transitions from {last['from_period']} (as of {last['from_as_of']}) to "
                f"{last['to_period']} (as of {last['to_as_of']}): profiles and share of the "
                "row; 'new' are customers not yet seen at the earlier date."
            ),
            html_table(["from \\ to", *targets], rows),
        ]
    )


def segments_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    from cxloop.analytics.segments import build_segments
    from cxloop.errors import CxloopError

    try:
        doc = build_segments(ws)
    except CxloopError as exc:
        return [Section("Loyalty segments", "segments", f"Not available: {exc}.")]
    context["segments"] = doc
    if not doc["profiles"]:
        return [Section("Loyalty segments", "segments", " ".join(doc["notes"]))]
    blocks: list[Markup] = [bullet_list(_findings(doc)), _grid_table(doc)]
    nps_rows = [
        {
            "group": s["segment"],
            "value": s["nps"]["value"],
            "ci_low": s["nps"]["ci_low"],
            "ci_high": s["nps"]["ci_high"],
        }
        for s in doc["segments"]
        if s["nps"]["value"] is not None
    ]
    if nps_rows:
        blocks.append(
            charts.render_svg(
                charts.groups_with_interval(
                    nps_rows, title="NPS by loyalty segment", x_title="NPS, 95% CI"
                )
            )
        )
    transitions = _transition_table(doc)
    if transitions is not None:
        blocks.append(transitions)
    if doc["notes"]:
        blocks.append(bullet_list([f"Note: {n}" for n in doc["notes"]]))
    return [
        Section(
            "Loyalty segments",
            "segments",
            f"Loyalty is repeat buying and affinity together (Dick & Basu 1994): "
            f"{doc['profiles']:,} customer profiles as of {doc['as_of']}, crossed with advocacy "
            "(referrals, positive public reviews, genuine recommendations; likes and shares do "
            "not count). Definitions in docs/metrics.md.",
            blocks,
        )
    ]
