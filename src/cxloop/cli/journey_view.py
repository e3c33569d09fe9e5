"""Readable rendering of the journey document (the JSON is the source of truth)."""

from __future__ import annotations

from typing import Any

from cxloop.cli.render import out, table


def render_journey(doc: dict[str, Any]) -> None:
    def v(x: dict[str, Any] | None) -> Any:
        return None if x is None else x["value"]

    loop = doc["loop"]
    out.print(
        f"Loop: {loop['customers']:,} customers, {loop['completed']:,} completed the loop "
        f"(rate {_share_text(v(loop['completion_rate']))})"
    )
    stages = [
        [s["stage"], s["profiles"], s["acts"], s["visits"], v(s["stalled"])] for s in doc["stages"]
    ]
    out.print(table("Stages", ["stage", "profiles", "acts", "visits", "stalled"], stages))
    rows = [
        [t["from"], t["to"], t["transitions"], v(t["rate"]), t["rate"]["n"], v(t["median_days"])]
        for t in doc["transitions"]
    ]
    columns = ["from", "to", "transitions", "rate", "n", "median days"]
    out.print(table("Transitions", columns, rows, text_columns=2))
    rows = [
        [
            t["touchpoint"],
            t["stage"],
            t["reach"]["profiles"],
            t["reach"]["events"],
            v(t["efficiency"]["duration_median"]),
            v(t["efficiency"]["ces"]),
            v(t["efficiency"]["repeats"]),
            v(t["effectiveness"]["success_rate"]),
            v(t["effectiveness"]["conversion"]),
        ]
        for t in doc["touchpoints"]
    ]
    columns = [
        "touchpoint",
        "stage",
        "profiles",
        "events",
        "median s",
        "CES",
        "repeats",
        "success",
        "next step",
    ]
    out.print(table("Touchpoints", columns, rows, text_columns=2))
    rows = [
        [
            f["channel"],
            f["period"] or "(all)",
            *(s["profiles"] for s in f["steps"]),
            v(f["view_to_order"]),
            v(f["cart_abandonment"]),
            v(f["bounce_rate"]),
        ]
        for f in doc["funnel"]
    ]
    columns = [
        "channel",
        "period",
        "views",
        "carts",
        "checkouts",
        "orders",
        "view→order",
        "abandoned",
        "bounce",
    ]
    out.print(table("Funnel", columns, rows, text_columns=2))
    rows = [
        [
            p["target"],
            " > ".join(p["path"]),
            p["journeys"],
            p["conversions"],
            v(p["conversion_rate"]),
        ]
        for p in doc["paths"]
    ]
    out.print(
        table("Top paths", ["to", "path", "journeys", "conversions", "rate"], rows, text_columns=2)
    )
    for a in doc["attribution"]:
        rows = [
            [
                r["touchpoint"],
                r["removal_effect"],
                r["markov_conversions"],
                r["first_touch"],
                r["last_touch"],
                r["linear"],
            ]
            for r in a["touchpoints"]
        ]
        columns = ["touchpoint", "removal effect", "markov", "first touch", "last touch", "linear"]
        out.print(table(f"Attribution to {a['target']}", columns, rows))
        rows = [
            [
                r["channel"],
                r["removal_effect"],
                r["markov_conversions"],
                r["first_touch"],
                r["last_touch"],
                r["linear"],
            ]
            for r in a.get("channels", [])
        ]
        if rows:
            columns[0] = "channel"
            out.print(table(f"Attribution to {a['target']} by channel", columns, rows))


def _share_text(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
