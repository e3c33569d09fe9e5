"""Readable rendering of the pivotal-moments document (the JSON is the source of truth)."""

from __future__ import annotations

from typing import Any

from cxloop.cli.render import out, table


def _num(x: float | None, digits: int = 2) -> str:
    return "" if x is None else f"{x:+.{digits}f}"


def render_moments(doc: dict[str, Any]) -> None:
    out.print(
        f"Pivotal moments for {doc['outcome']} ({doc['n']:,} outcomes; {doc.get('model') or ''}"
        "; effects adjusted for value, orders, tenure and the other moments)"
    )
    for note in doc["notes"]:
        out.print(f"note: {note}")
    rows = [
        [
            m["touchpoint"],
            m["condition"],
            _num(m["effect"]),
            f"[{_num(m['ci_low'])}, {_num(m['ci_high'])}]" if m["ci_low"] is not None else "",
            _num(m["naive_effect"]),
            m["n_exposed"],
            f"{100 * m['reach']:.1f}%",
            "" if m["priority"] is None else f"{m['priority']:.3f}",
            "yes" if m["significant"] else "",
            m["owner"] or "",
        ]
        for m in doc["moments"]
    ]
    out.print(
        table(
            "Ranked: significant first, then by priority (|effect| x reach x value at stake)",
            [
                "touchpoint",
                "condition",
                "effect",
                "95% CI",
                "naive",
                "exposed",
                "reach",
                "priority",
                "significant",
                "owner",
            ],
            rows,
            text_columns=2,
        )
    )
