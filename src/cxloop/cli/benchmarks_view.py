"""Readable rendering of the benchmark comparison (the scorecard's `benchmarks`)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from cxloop.analytics.benchmarks import verdict_text
from cxloop.cli.render import table


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:,.3g}" if abs(x) < 1 else f"{x:,.1f}"


def _interval(v: dict[str, Any] | None) -> str:
    if not v or v.get("value") is None:
        return ""
    ci = (
        f" [{_num(v['ci_low'])}, {_num(v['ci_high'])}]"
        if v.get("ci_low") is not None
        else " (no interval)"
    )
    return _num(v["value"]) + ci


def benchmarks_table(rows: list[dict[str, Any]]) -> Table:
    return table(
        "External benchmarks (difference = ours - benchmark, 95% CI)",
        ["metric", "industry", "period", "source", "benchmark", "ours", "difference", "verdict",
         "note"],
        [
            [r["label"], r["industry"], r["period"], r["source"], _interval(r["benchmark"]),
             _interval(r["ours"]), _interval(r["difference"]), verdict_text(r), r["note"]]
            for r in rows
        ],
        text_columns=4,
    )  # fmt: skip
