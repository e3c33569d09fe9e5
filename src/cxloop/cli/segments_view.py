"""Readable rendering of the segments document (the JSON is the source of truth)."""

from __future__ import annotations

from typing import Any

from cxloop.analytics.segments.transitions import matrix_rows
from cxloop.cli.render import out, table

FIGURE_COLUMNS = ["profiles", "share", "revenue share", "avg value", "avg CLV", "NPS", "95% CI"]


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _money(x: float | None) -> str:
    return "" if x is None else f"{x:,.2f}"


def _nps_ci(nps: dict[str, Any]) -> str:
    if nps["value"] is None:
        return ""
    return f"[{nps['ci_low']:+.0f}, {nps['ci_high']:+.0f}] n={nps['n']:,}"


def _figures(row: dict[str, Any]) -> list[Any]:
    nps = row["nps"]
    return [
        row["profiles"],
        _pct(row["share"]["value"]),
        _pct(row["revenue_share"]),
        _money(row["avg_value"]["value"]),
        _money(row["avg_clv"]["value"]),
        "" if nps["value"] is None else f"{nps['value']:+.1f}",
        _nps_ci(nps),
    ]


def render_segments(doc: dict[str, Any]) -> None:
    """Segments, the loyalty x advocacy grid with the loyads, and the latest transitions."""
    out.print(
        f"Loyalty x advocacy segments as of {doc['as_of'] or 'n/a'}: {doc['profiles']:,} "
        f"profiles, completed revenue {doc['revenue']:,.2f} (loyalty = repeat patronage x "
        "relative attitude, Dick & Basu 1994; definitions in docs/metrics.md)"
    )
    for note in doc["notes"]:
        out.print(f"note: {note}")
    rows = [
        [s["segment"], *_figures(s), _money(s["referral_revenue"]), s["advocates"]]
        for s in doc["segments"]
    ]
    out.print(
        table(
            "Segments",
            ["segment", *FIGURE_COLUMNS, "referral revenue", "advocates"],
            rows,
        )
    )
    other = next((s for s in doc["segments"] if s["segment"] == "other"), None)
    if other and (other["behavioural_attitude_unknown"] or other["behavioural_attitude_neutral"]):
        out.print(
            f"In 'other': {other['behavioural_attitude_unknown']:,} repeat buyers with unknown "
            f"attitude and {other['behavioural_attitude_neutral']:,} with a neutral one (not "
            "captives: nothing says they lack affinity)."
        )
    grid = [
        [
            c["segment"],
            "yes" if c["advocate"] else "no",
            *_figures(c),
            _money(c["referral_revenue"]),
            "LOYADS" if c["loyad"] else "",
        ]
        for c in doc["grid"]
    ]
    out.print(
        table(
            "Grid: loyalty segment x advocate (an intentional act; likes and shares do not count)",
            ["segment", "advocate", *FIGURE_COLUMNS, "referral revenue", ""],
            grid,
            text_columns=2,
        )
    )
    loyads = doc["loyads"]

    def pct(x: float | None) -> str:
        return _pct(x) or "n/a"

    out.print(
        f"Loyads (loyal advocates): {loyads['profiles']:,} profiles, "
        f"{pct(loyads['share']['value'])} of profiles, {pct(loyads['revenue_share'])} of "
        f"revenue, {pct(loyads['share_of_loyal']['value'])} of the loyal, "
        f"{pct(loyads['share_of_advocates']['value'])} of advocates; referral revenue "
        f"{_money(loyads['referral_revenue'])}. Amplifiers only (likes/shares, no act): "
        f"{doc['advocacy']['amplifiers_only']:,}."
    )
    _render_membership(doc.get("membership"))
    _render_transitions(doc)


def _render_membership(membership: dict[str, Any] | None) -> None:
    """Loyalty members vs non-members per segment (who the points program reaches)."""
    if not membership:
        return
    rows = [
        [
            r["segment"],
            r["members"],
            r["non_members"],
            _pct(r["member_share"]["value"]),
            _pct(r["share_of_members"]["value"]),
            _pct(r["share_of_non_members"]["value"]),
        ]
        for r in membership["segments"]
    ]
    out.print(
        table(
            "Loyalty program members by segment",
            ["segment", "members", "non-members", "members' share", "of members", "of others"],
            rows,
        )
    )
    for note in membership["notes"]:
        out.print(f"note: {note}")


def _render_transitions(doc: dict[str, Any]) -> None:
    periods = doc["periods"]
    if periods:
        segments = list(periods[0]["segments"])
        out.print(
            table(
                f"Segments at the end of each {doc['settings']['period']} (as of that day)",
                ["period", "as of", *segments, "loyads"],
                [
                    [
                        p["period"] + ("" if p["complete"] else " (partial)"),
                        p["as_of"],
                        *(p["segments"][s] for s in segments),
                        p["loyads"],
                    ]
                    for p in periods
                ],
                text_columns=2,
            )
        )
    if not doc["transitions"]:
        return
    last = doc["transitions"][-1]
    targets, rows = matrix_rows(last)
    out.print(
        table(
            f"Transitions {last['from_period']} -> {last['to_period']} (profiles, row share)",
            ["from \\ to", *targets],
            rows,
        )
    )
