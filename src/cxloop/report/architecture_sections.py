"""Report sections of the experience architecture, the value framework, content at the
moments that matter, and external benchmarks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from cxloop.report import charts
from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _pct(x: dict[str, Any] | None) -> str:
    if not x or x.get("value") is None:
        return ""
    return f"{100 * x['value']:.1f}% [{100 * x['ci_low']:.1f}, {100 * x['ci_high']:.1f}]"


def _nps(x: dict[str, Any] | None) -> str:
    if not x or x.get("value") is None:
        return ""
    return f"{x['value']:+.1f} [{x['ci_low']:+.1f}, {x['ci_high']:+.1f}] (n={x['n']:,})"


def _effect(x: dict[str, Any] | None, scale: float = 1.0) -> str:
    if not x or x.get("effect") is None:
        return ""
    mark = " *" if x.get("significant") else ""
    return (
        f"{scale * x['effect']:+,.2f} [{scale * x['ci_low']:+,.2f}, "
        f"{scale * x['ci_high']:+,.2f}]{mark}"
    )


def _naive(x: dict[str, Any] | None, scale: float = 1.0) -> str:
    if not x or x.get("naive_effect") is None:
        return ""
    return f"{scale * x['naive_effect']:+,.2f}"


def _gap(g: dict[str, Any]) -> str:
    where = f" (architecture.toml line {g['line']})" if g.get("line") else ""
    return f"{g['kind'].replace('_', ' ')}: {g['detail']}{where}"


def architecture_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    """Experience architecture, content at the moments, and benchmarks."""
    return [
        _architecture(ws, context),
        _content(ws, context),
        *_benchmarks(ws, context),
    ]


def _architecture(ws: Workspace, context: dict[str, Any]) -> Section:
    from cxloop.experience import ARCHITECTURE_FILE, build_architecture

    title, anchor = "Experience architecture", "architecture"
    if not (ws.path / ARCHITECTURE_FILE).is_file():
        return Section(
            title,
            anchor,
            "No architecture.toml in this workspace: declare each moment's owner, experiences "
            f"and value levels (`cxloop architecture {ws.path} --example` writes one).",
        )
    doc = build_architecture(ws, pivotal=context.get("moments"))
    context["architecture"] = doc
    blocks: list[Markup] = []
    if doc["gaps"]:
        blocks.append(paragraph("Gaps to close first:"))
        blocks.append(bullet_list([_gap(g) for g in doc["gaps"]]))
    blocks.append(
        html_table(
            ["moment", "touchpoints", "owner", "experiences", "reach", "effectiveness",
             "NPS about it", "pivotal (significant effects)"],
            [
                [m["label"], ", ".join(m["touchpoints"]), m["owner"] or "(none)",
                 len(m["experiences"]), _pct(m["reach"]), _pct(m["effectiveness"]),
                 _nps(m["nps_about"]),
                 "; ".join(f"{e['touchpoint']} {e['condition']} {e['effect']:+.2f} "
                           f"[{e['ci_low']:+.2f}, {e['ci_high']:+.2f}]"
                           for e in m["pivotal_effects"] if e["significant"])]
                for m in doc["moments"]
            ],
            text_columns=3,
        )
    )  # fmt: skip
    blocks.append(
        html_table(
            ["moment", "experience", "kind", "persona", "outcome sought", "value level",
             "measured by"],
            [[m["label"], x["name"], x["kind"], x["persona"], x["outcome"], x["value_level"],
              ", ".join(x["measured_by"]) or "(none)"]
             for m in doc["moments"] for x in m["experiences"]],
            text_columns=7,
        )
    )  # fmt: skip
    vf = doc.get("value_framework")
    if vf and vf["levels"]:
        blocks.append(
            paragraph(
                "The value framework: customers exposed to each level of value, via content "
                "or via the moments that plan it, against those who were not (adjusted for "
                "orders, tenure and activity; associations, not effects; * = q < 0.05). "
                + " ".join(vf["notes"])
            )
        )
        blocks.append(
            html_table(
                ["value level", "via", "exposed", "order value", "naive", "referral rate (pp)",
                 "naive", "note"],
                [[lv["value_level"], lv["via"], lv["exposed"], _effect(lv["order_value"]),
                  _naive(lv["order_value"]), _effect(lv["referred"], 100),
                  _naive(lv["referred"], 100),
                  lv["order_value"]["note"] if lv["order_value"]["effect"] is None else ""]
                 for lv in vf["levels"]],
                text_columns=2,
            )
        )  # fmt: skip
    return Section(
        title,
        anchor,
        f"Personas x moments x experiences from {ws.path.name}/architecture.toml, joined "
        "with what the data says about each moment (docs/architecture.md).",
        blocks,
    )


def _content(ws: Workspace, context: dict[str, Any]) -> Section:
    from cxloop.content import build_content

    doc = build_content(ws)
    context["content"] = doc
    title, anchor = "Content at the moments that matter", "content"
    if not doc["assets"]:
        return Section(title, anchor, " ".join(doc["notes"]) or "No content assets.")
    measured = [a for a in doc["assets"] if a["lift"] and a["lift"]["effect"] is not None]
    blocks: list[Markup] = []
    if measured:
        blocks.append(
            charts.render_svg(
                charts.groups_with_interval(
                    [{"group": f"{a['content_id']} {a['title']}", "value": a["lift"]["effect"],
                      "ci_low": a["lift"]["ci_low"], "ci_high": a["lift"]["ci_high"]}
                     for a in measured],
                    title=f"Adjusted lift on {doc['outcome']} at the asset's moment",
                    x_title="points, 95% CI",
                )
            )
        )  # fmt: skip
    blocks.append(
        html_table(
            ["asset", "type", "moment", "value level", "status", "reach", "views",
             "adjusted lift", "naive", "exposed"],
            [[f"{a['content_id']} {a['title']}", a["type"], a["moment"], a["value_level"],
              a["status"], _pct(a["reach"]), a["engagement"]["views"], _effect(a["lift"]),
              _naive(a["lift"]), (a["lift"] or {}).get("n_exposed", "")]
             for a in doc["assets"]],
            text_columns=5,
        )
    )  # fmt: skip
    blocks.append(
        html_table(
            ["moment", "assets", "reach", "units", "lift of any asset", "naive", "note"],
            [[m["moment"], ", ".join(m["assets"]), _pct(m["reach"]), m["units"],
              _effect(m["lift_any"]), _naive(m["lift_any"]), m["note"]]
             for m in doc["moments"]],
            text_columns=2,
        )
    )  # fmt: skip
    return Section(
        title,
        anchor,
        f"Customers who opened each asset against comparable customers who did not, on "
        f"{doc['outcome']} answers about the asset's moment, adjusted as pivotal moments are "
        "(customer value, orders, tenure, touchpoint experiences), with the naive number "
        "beside it; * = significant after false-discovery control across assets.",
        blocks,
    )


def _benchmarks(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    from cxloop.analytics.benchmarks import compare, load_benchmarks, verdict_text

    benchmarks = load_benchmarks(ws.path)
    if not benchmarks:
        return []
    rows = []
    for granularity in sorted({b.granularity for b in benchmarks}):
        scorecard = _scorecard(ws, context, granularity)
        rows += compare([b for b in benchmarks if b.granularity == granularity], scorecard)

    def interval(v: dict[str, Any] | None) -> str:
        if not v or v.get("value") is None:
            return ""
        ci = (f" [{v['ci_low']:,.3g}, {v['ci_high']:,.3g}]" if v.get("ci_low") is not None
              else " (no interval)")  # fmt: skip
        return f"{v['value']:,.3g}{ci}"

    table = html_table(
        ["metric", "industry", "period", "source", "benchmark", "ours", "difference",
         "verdict", "note"],
        [[r["label"], r["industry"], r["period"], r["source"], interval(r["benchmark"]),
          interval(r["ours"]), interval(r["difference"]), verdict_text(r), r["note"]]
         for r in rows],
        text_columns=4,
    )  # fmt: skip
    return [
        Section(
            "External benchmarks",
            "benchmarks",
            "Our scorecard against published industry figures for the same period: the "
            "difference with its 95% interval, which combines both uncertainties when the "
            "benchmark publishes one and is ours alone (too narrow) when it does not.",
            [table],
        )
    ]


def _scorecard(ws: Workspace, context: dict[str, Any], granularity: str) -> dict[str, Any]:
    doc = context.get("scorecard")
    if doc is not None and doc.get("period") == granularity and not doc.get("by"):
        return doc
    from cxloop.analytics.periods import Period
    from cxloop.analytics.scorecard import Scope, build_scorecard

    return build_scorecard(ws, Scope(period=Period(granularity)))
