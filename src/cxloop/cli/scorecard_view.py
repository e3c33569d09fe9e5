"""Readable rendering of the scorecard document (the JSON is the source of truth)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from cxloop.cli.render import table


def format_value(name: str, m: dict[str, Any] | None, unit: str) -> str:
    if not m or m.get("value") is None:
        return "n/a"
    v = m["value"]
    if unit == "share":
        text = f"{100 * v:.1f}%"
        ci = (
            f" [{100 * m['ci_low']:.1f}, {100 * m['ci_high']:.1f}]"
            if m.get("ci_low") is not None
            else ""
        )
        return text + ci
    if unit == "points":
        return f"{v:+.1f} [{m['ci_low']:+.1f}, {m['ci_high']:+.1f}]"
    if isinstance(v, int):
        return f"{v:,}"
    ci = f" [{m['ci_low']:,.2f}, {m['ci_high']:,.2f}]" if m.get("ci_low") is not None else ""
    return f"{v:,.2f}{ci}"


def render(doc: dict[str, Any], console: Console) -> None:
    from cxloop.analytics.scorecard.metrics import METRICS

    last = doc["trend"][-1] if doc["trend"] else None
    rows = []
    for spec in METRICS:
        m = doc["metrics"].get(spec.name)
        change = ""
        if last and spec.name in last.get("changes", {}):
            c = last["changes"][spec.name]
            mark = " *" if c.get("significant") else ""
            scale = 100 if spec.unit == "share" else 1
            change = f"{c['change'] * scale:+,.2f}{mark}"
        rows.append(
            [
                spec.family,
                spec.label,
                format_value(spec.name, m, spec.unit),
                (m or {}).get("n", 0),
                change,
            ]
        )
    window = f"{doc['since'] or 'start'} to {doc['until'] or 'end'}"
    latest = f"vs previous {doc['period']}" if last else ""
    console.print(
        table(
            f"Scorecard ({window}; 95% intervals in brackets)",
            ["family", "metric", "value", "n", f"latest change {latest}"],
            rows,
            text_columns=2,
        )
    )
    console.print("* = significant after false-discovery control (Benjamini-Hochberg, q < 0.05)")
    if doc["goals"]:
        console.print(
            table(
                "Goals",
                ["goal", "latest", "value", "gap", "status"],
                [[g["goal"], g["period"], g["value"], g["gap"], g["status"]] for g in doc["goals"]],
            )
        )
    if doc.get("benchmarks"):
        from cxloop.cli.benchmarks_view import benchmarks_table

        console.print(benchmarks_table(doc["benchmarks"]))
    if doc["breakdown"]:
        shown = ["nps", "nps_transactional", "ces", "csat", "revenue", "retention_rate"]
        from cxloop.analytics.scorecard.metrics import BY_NAME

        console.print(
            table(
                f"By {doc['by']}",
                [doc["by"], *shown],
                [
                    [
                        b["group"] if b["group"] is not None else "(none)",
                        *(
                            format_value(n, b["metrics"].get(n), BY_NAME[n].unit).split(" [")[0]
                            for n in shown
                        ),
                    ]
                    for b in doc["breakdown"]
                ],
            )
        )
    for note in doc.get("notes", []):
        console.print(f"note: {note}")
