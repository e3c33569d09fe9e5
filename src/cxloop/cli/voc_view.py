"""Readable rendering of the voice-of-the-customer document (the JSON is the source of truth)."""

from __future__ import annotations

from typing import Any

from cxloop.cli.render import out, table


def _est(e: dict[str, Any] | None, *, pct: bool = False, digits: int = 2) -> str:
    if not e or e.get("value") is None:
        return "n/a"
    scale, unit = (100.0, "%") if pct else (1.0, "")
    v = f"{scale * e['value']:.{digits if not pct else 1}f}{unit}"
    if e.get("ci_low") is None:
        return v
    low, high = scale * e["ci_low"], scale * e["ci_high"]
    return f"{v} [{low:.{digits if not pct else 1}f}, {high:.{digits if not pct else 1}f}]"


def render_voc(doc: dict[str, Any]) -> None:
    s = doc["sentiment"]
    o = s["overall"]
    out.print(
        f"Voice of the customer: {doc['texts']:,} texts; about us {o['texts']:,}, "
        f"scored {o['scored']:,}"
    )
    out.print(
        f"Sentiment (VADER compound, -1..1): mean {_est(o['mean'])}; "
        f"net {_est(o['net'])} (positive share - negative share)"
    )
    for note in doc["notes"]:
        out.print(f"note: {note}")
    rows = [
        [r["source"], r["scored"], _est(r["mean"]), _est(r["net"]), _est(r["negative"], pct=True)]
        for r in s["by_source"]
    ]
    out.print(table("By source", ["source", "scored", "mean", "net", "negative"], rows))
    rows = [[a["metric"], a["spearman"]["n"], _est(a["spearman"])] for a in s.get("agreement", [])]
    if rows:
        out.print(
            table("Does text sentiment agree with the score given? (Spearman)",
                  ["metric", "n", "rho [95% CI]"], rows)
        )  # fmt: skip
    rows = [
        [
            t["theme"],
            "pinned" if t["pinned"] else "",
            t["volume"],
            _est(t["sentiment"]["mean"]),
            _est(t["nps"], digits=0),
            ", ".join(x["touchpoint"] for x in t["touchpoints"][:3]),
        ]
        for t in doc["themes"]
    ]
    out.print(
        table(
            f"Themes ({doc['theme_model'].get('k')} discovered)",
            ["theme", "", "texts", "sentiment", "NPS of mentioners", "touchpoints"],
            rows,
            text_columns=2,
        )
    )
    overall = doc["reasons"].get("overall", {})
    for side in ("detractor", "promoter"):
        items = overall.get(side, [])
        if items:
            out.print(
                f"{side.capitalize()} reasons: "
                + "; ".join(f"{i['item']} (z {i['z']:+.1f})" for i in items[:5])
            )
    rows = [
        [k, v["mentions"], _est(v["share"], pct=True), f"{v['reach']:,}"]
        for k, v in doc["advocacy"].items()
    ]
    out.print(table("Our mentions by advocacy intent", ["intent", "mentions", "share", "reach"],
                    rows))  # fmt: skip
    rows = [
        [
            c["brand"],
            c["mentions"],
            _est(c["share_of_voice"], pct=True),
            _est(c["net_sentiment"]),
        ]
        for c in doc["competitive"]
    ]
    if rows:
        out.print(
            table("Competitive benchmark", ["brand", "mentions", "share of voice", "net sentiment"],
                  rows)
        )  # fmt: skip
