"""Report sections of the composite scorecard."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from cxloop.analytics.scorecard.metrics import BY_NAME, METRICS
from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph


def fmt(name: str, value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    unit = BY_NAME[name].unit if name in BY_NAME else ""
    if unit == "share":
        return f"{100 * value:{'+' if signed else ''}.1f}%"
    if unit == "points":
        return f"{value:+.1f}"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return f"{value:{'+' if signed else ''},.0f}"
    return f"{value:{'+' if signed else ''},.2f}"


def fmt_ci(name: str, m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "n/a (no data)"
    text = fmt(name, m["value"])
    if m.get("ci_low") is not None:
        text += f" [{fmt(name, m['ci_low'])}, {fmt(name, m['ci_high'])}]"
    return text


def summary_section(doc: dict[str, Any]) -> Section:
    m = doc["metrics"]
    items = []
    for name, phrase in (
        ("nps", "Net Promoter Score"),
        ("nps_relational", "Relationship NPS"),
        ("ces", "Customer effort (CES, 7 = very easy)"),
        ("csat", "Satisfied customers (CSAT 4-5)"),
        ("retention_rate", "Retention from one period to the next"),
        ("revenue", "Revenue from completed orders"),
        ("share_of_voice", "Share of voice against competitors"),
    ):
        x = m.get(name)
        if x and x.get("value") is not None:
            items.append(f"{phrase}: {fmt_ci(name, x)} (n = {x['n']:,}).")
    changes = []
    if len(doc["trend"]) >= 2:
        last, prev = doc["trend"][-1], doc["trend"][-2]
        for name, c in last.get("changes", {}).items():
            if c.get("significant"):
                before = prev["metrics"][name]["value"]
                after = last["metrics"][name]["value"]
                verb = "rose" if c["change"] > 0 else "fell"
                good = (c["change"] > 0) == BY_NAME[name].higher_is_better
                changes.append(
                    f"{BY_NAME[name].label} {verb} from {fmt(name, before)} to "
                    f"{fmt(name, after)} in {last['period']} (q = {c['q_value']:.3f}; "
                    f"{'good news' if good else 'needs attention'})."
                )
    blocks = [bullet_list(items)]
    partial = [t["period"] for t in doc["trend"] if not t.get("complete", True)]
    if partial:
        blocks.append(
            paragraph(
                f"Incomplete period{'s' if len(partial) > 1 else ''}: {', '.join(partial)} "
                "(the data does not reach its end); its totals are not comparable yet."
            )
        )
    if len(doc["trend"]) >= 2:
        blocks.append(
            paragraph(
                f"Changes in {doc['trend'][-1]['period']} against {doc['trend'][-2]['period']} "
                "that are statistically significant after controlling the false discovery rate "
                "(Benjamini-Hochberg, q < 0.05):"
            )
        )
        blocks.append(
            bullet_list(changes or ["No change is larger than the noise of the samples."])
        )
    for g in doc["goals"]:
        blocks.append(
            paragraph(f"Goal {g['goal']}: {g['status']} (latest {fmt(g['metric'], g['value'])}).")
        )
    return Section(
        "What changed",
        "summary",
        "The headline figures with their 95% confidence intervals, and the changes that are "
        "real rather than noise.",
        blocks,
    )


def scorecard_table_section(doc: dict[str, Any]) -> Section:
    last = doc["trend"][-1] if doc["trend"] else {"changes": {}}
    rows = []
    for spec in METRICS:
        x = doc["metrics"].get(spec.name)
        c = last.get("changes", {}).get(spec.name)
        change = ""
        if c:
            change = fmt(spec.name, c["change"], signed=True)
            if c.get("significant"):
                change += " *"
        rows.append([spec.family, spec.label, fmt_ci(spec.name, x), (x or {}).get("n", 0), change])
    return Section(
        "Composite scorecard",
        "scorecard",
        "No single beacon metric: advocacy, ease, satisfaction, economic and social value side "
        "by side. * marks a significant change in the latest period.",
        [
            html_table(
                ["family", "metric", "value [95% CI]", "n", "latest change"], rows, text_columns=2
            )
        ],
    )


def _series(doc: dict[str, Any], names: list[str], *, scale: float = 1.0) -> list[dict[str, Any]]:
    points = []
    for t in doc["trend"]:
        for name in names:
            x = t["metrics"].get(name)
            if not x or x.get("value") is None:
                continue
            points.append(
                {
                    "start": t["start"],
                    "series": BY_NAME[name].label,
                    "value": x["value"] * scale,
                    "ci_low": (x["ci_low"] if x["ci_low"] is not None else x["value"]) * scale,
                    "ci_high": (x["ci_high"] if x["ci_high"] is not None else x["value"]) * scale,
                }
            )
    return points


def _totals(doc: dict[str, Any], names: list[str]) -> list[dict[str, Any]]:
    """Per-period totals of several metrics, as bar-chart points (no data counts as 0)."""
    return [
        {
            "start": t["start"],
            "series": BY_NAME[n].label,
            "value": t["metrics"].get(n, {}).get("value") or 0,
        }
        for t in doc["trend"]
        for n in names
    ]


def trend_sections(doc: dict[str, Any]) -> list[Section]:
    if not doc["trend"]:
        return []
    c = charts
    advocacy = [
        c.render_svg(
            c.trend_with_interval(
                _series(doc, ["nps", "nps_relational", "nps_transactional"]),
                title="Net Promoter Score",
                y_title="NPS (points)",
            )
        ),
    ]
    ease = [
        c.render_svg(
            c.trend_with_interval(
                _series(doc, ["ces"]), title="Customer effort (CES)", y_title="mean, 1-7"
            )
        ),
        c.render_svg(
            c.trend_with_interval(
                _series(doc, ["csat", "ces_easy_share", "support_contact_rate"], scale=100),
                title="Satisfaction and ease",
                y_title="%",
            )
        ),
    ]
    economic = [
        c.render_svg(
            c.bars_over_time(
                [
                    {
                        "start": t["start"],
                        "series": "revenue",
                        "value": t["metrics"].get("revenue", {}).get("value") or 0,
                    }
                    for t in doc["trend"]
                ],
                title="Revenue (completed orders)",
                y_title="revenue",
            )
        ),
        c.render_svg(
            c.trend_with_interval(
                _series(doc, ["retention_rate", "repeat_purchase_rate"], scale=100),
                title="Retention and repeat purchase",
                y_title="%",
            )
        ),
        c.render_svg(
            c.trend_with_interval(
                _series(doc, ["aov"]), title="Average order value", y_title="per order"
            )
        ),
    ]
    social = [
        c.render_svg(
            c.bars_over_time(
                _totals(doc, ["mentions_genuine", "mentions_amplification"]),
                title="Genuine advocacy vs amplification",
                y_title="mentions",
                stack=True,
            )
        ),
        c.render_svg(
            c.trend_with_interval(
                _series(doc, ["share_of_voice"], scale=100),
                title="Share of voice",
                y_title="% of tracked mentions",
            )
        ),
        c.render_svg(
            c.bars_over_time(
                _totals(doc, ["referrals", "referrals_converted"]),
                title="Referrals",
                y_title="referrals",
            )
        ),
    ]
    period = doc["period"]
    return [
        Section("Advocacy", "advocacy", f"NPS by {period}, with 95% intervals (bands).", advocacy),
        Section("Ease and satisfaction", "ease", f"Effort and satisfaction by {period}.", ease),
        Section(
            "Economic value",
            "economic",
            f"Revenue, retention and order value by {period}.",
            economic,
        ),
        Section(
            "Social value and advocacy acts",
            "social",
            "Genuine advocacy (posts, replies, reviews) is counted apart from amplification "
            "(likes, shares).",
            social,
        ),
    ]


def breakdown_section(doc: dict[str, Any]) -> list[Section]:
    if not doc["breakdown"]:
        return []
    by = doc["by"]
    metric = "nps_transactional" if by in ("touchpoint", "stage") else "nps"
    rows = [
        {
            "group": b["group"] or "(none)",
            **{k: b["metrics"][metric][k] for k in ("value", "ci_low", "ci_high")},
        }
        for b in doc["breakdown"]
        if b["metrics"].get(metric, {}).get("value") is not None
    ]
    blocks: list[Markup] = []
    if rows:
        blocks.append(
            charts.render_svg(
                charts.groups_with_interval(
                    rows, title=f"{BY_NAME[metric].label} by {by}", x_title="NPS (points)"
                )
            )
        )
    shown = ["nps", "nps_transactional", "ces", "csat", "revenue", "retention_rate"]
    blocks.append(
        html_table(
            [by, *(BY_NAME[n].label for n in shown)],
            [
                [b["group"] or "(none)", *(fmt_ci(n, b["metrics"].get(n)) for n in shown)]
                for b in doc["breakdown"]
            ],
        )
    )
    return [Section(f"By {by}", "breakdown", f"The scorecard by {by}, with 95% intervals.", blocks)]


def goals_section(doc: dict[str, Any]) -> list[Section]:
    if not doc["goals"]:
        return []
    rows = [
        [
            g["goal"],
            g["period"] or "",
            fmt(g["metric"], g["value"]),
            fmt(g["metric"], g["gap"], signed=True) if g["gap"] is not None else "",
            Markup(f'<span class="status-{g["status"].split()[0]}">{g["status"]}</span>'),
        ]
        for g in doc["goals"]
    ]
    return [
        Section(
            "Goals",
            "goals",
            "Targets from cxloop.toml, against the latest period.",
            [html_table(["goal", "latest period", "value", "gap", "status"], rows)],
        )
    ]


def scorecard_sections(doc: dict[str, Any]) -> list[Section]:
    return [
        summary_section(doc),
        scorecard_table_section(doc),
        *goals_section(doc),
        *trend_sections(doc),
        *breakdown_section(doc),
    ]
