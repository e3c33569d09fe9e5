"""Readable rendering of the personas document (the JSON is the source of truth)."""

from __future__ import annotations

from typing import Any

from cxloop.cli.render import out, table


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _share(s: dict[str, Any]) -> str:
    if s.get("value") is None:
        return ""
    return f"{_pct(s['value'])} [{_pct(s['ci_low'])}, {_pct(s['ci_high'])}]"


def _method_line(doc: dict[str, Any]) -> str:
    m = doc["method"]
    if m.get("k") is None:
        return f"Personas: {doc['customers']:,} customers; no model ({m.get('model')})"
    how = (
        f"model fitted now ({m.get('reason')})"
        if m["model"] == "fitted"
        else f"saved model (fitted {m['fitted_at']} on data version {m['fitted_data_version']})"
    )
    chosen = "k chosen by BIC" if m["criterion"] == "BIC" else "k fixed"
    return f"Personas: {doc['customers']:,} customers in {m['k']} personas ({chosen}); {how}"


MAX_FLAGS = 12
"""Flags printed; the JSON document has them all."""


def render_personas(doc: dict[str, Any]) -> None:
    out.print(_method_line(doc))
    for note in doc["notes"]:
        out.print(f"note: {note}")
    if not doc["personas"]:
        return
    rows = [
        [
            p["persona"],
            p["label"],
            p["size"],
            _share(p["share"]),
            p["revenue_per_customer"]["value"],
            _pct(p["revenue_share"]),
        ]
        for p in doc["personas"]
    ]
    out.print(
        table(
            "Personas, largest first (label: the features that set each apart)",
            ["#", "label", "customers", "share, 95% CI", "revenue/customer", "revenue share"],
            rows,
            text_columns=2,
        )
    )
    m = doc["method"]
    if len(m.get("bic") or {}) > 1:
        out.print(
            "BIC by number of personas (lowest kept): "
            + ", ".join(f"{k}: {v:,.0f}" for k, v in m["bic"].items())
        )
    tests = doc.get("drift_tests") or {}
    flags = tests.get("flagged") or []
    if flags:
        out.print(
            table(
                f"Drift flagged (q < {doc['method']['drift_alpha']}, or a centroid that moved a "
                "quarter of the way to the nearest persona), newest first",
                ["#", "kind", "period", "direction", "detail"],
                [
                    [
                        f["persona"],
                        f["kind"],
                        f.get("period", ""),
                        f.get("direction") or "",
                        _flag_detail(f),
                    ]
                    for f in flags[:MAX_FLAGS]
                ],
                text_columns=4,
            )
        )
        if len(flags) > MAX_FLAGS:
            out.print(f"... and {len(flags) - MAX_FLAGS} more flags (--json lists them all)")
    else:
        out.print("No significant drift of persona shares among new customers.")
    movers = tests.get("movers")
    if movers:
        out.print(
            f"Since {tests['cutoff']}: {movers['moved']:,} of {movers['customers']:,} customers "
            f"({_pct(movers['share']['value'])}) moved to another persona; "
            f"{movers['new_customers']:,} new customers."
        )


def _flag_detail(f: dict[str, Any]) -> str:
    if f["kind"] == "acquisition share":
        return f"{_pct(f['share'])} of new customers vs {_pct(f['earlier_share'])} before"
    if f["kind"] == "centroid shift":
        return (
            f"moved {f['distance']:.2f} SD, {_pct(f['relative_shift'])} of the way to the "
            "nearest persona"
        )
    return f"{_pct(f['slope_per_period'])} per period"
