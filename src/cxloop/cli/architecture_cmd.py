"""`cxloop architecture WS`: the experience architecture joined with the data, and its gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxloop.cli.render import out, print_json, table

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine", help="Where the analysis runs: duckdb or spark (default: [engine] name)."
    ),
]


def architecture(
    workspace: WsArg,
    example: Annotated[
        bool,
        typer.Option(
            "--example", help="Write a documented example architecture.toml (never overwrites)."
        ),
    ] = False,
    outcome: Annotated[
        str, typer.Option(help="Outcome of the pivotal-moment effects: nps, csat, rating...")
    ] = "nps",
    engine: EngineOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Personas x moments x experiences: each moment's reach, effectiveness, pivotal effect
    and NPS, and the gaps (pivotal moments unplanned, experiences unmeasured, no owner)."""
    from cxloop import analyses
    from cxloop.workspace import Workspace

    if example:
        from cxloop.experience.example import write_example

        with Workspace.open(workspace):  # a workspace, and nobody else writing it
            path = write_example(workspace)
        out.print(f"Wrote {path}: edit it, then run `cxloop architecture {workspace}`")
        return
    from cxloop.engines.lake_workspace import analytics_workspace

    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = analyses.architecture(ws, outcome=outcome)
    if json_:
        print_json(doc)
        return
    render_architecture(doc)


def _share(x: dict[str, Any] | None) -> str:
    if not x or x.get("value") is None:
        return ""
    return f"{100 * x['value']:.1f}% [{100 * x['ci_low']:.1f}, {100 * x['ci_high']:.1f}]"


def _nps(x: dict[str, Any] | None) -> str:
    if not x or x.get("value") is None:
        return ""
    return f"{x['value']:+.1f} [{x['ci_low']:+.1f}, {x['ci_high']:+.1f}] n={x['n']:,}"


def _effects(effects: list[dict[str, Any]]) -> str:
    """The significant effects only (the JSON holds them all)."""
    parts = [
        f"{e['touchpoint']} {e['condition']} {e['effect']:+.2f} "
        f"[{e['ci_low']:+.2f}, {e['ci_high']:+.2f}]"
        for e in effects
        if e["significant"] and e["effect"] is not None
    ]
    return "; ".join(parts) or "none significant"


def render_architecture(doc: dict[str, Any]) -> None:
    out.print(f"Experience architecture from {doc['file']}")
    rows = [
        [
            m["name"],
            ", ".join(m["touchpoints"]),
            m["owner"] or "(none)",
            len(m["experiences"]),
            _share(m["reach"]),
            _share(m["effectiveness"]),
            _nps(m["nps_about"]),
            _effects(m["pivotal_effects"]),
        ]
        for m in doc["moments"]
    ]
    out.print(
        table(
            f"Moments (pivotal effects on {doc['outcome']}, significant ones, adjusted, 95% CI)",
            ["moment", "touchpoints", "owner", "experiences", "reach", "effectiveness",
             "NPS about it", "pivotal effects"],
            rows,
            text_columns=3,
        )
    )  # fmt: skip
    rows = [
        [m["name"], x["name"], x["kind"], x["persona"], x["outcome"], x["value_level"],
         ", ".join(x["measured_by"]) or "(none)"]
        for m in doc["moments"] for x in m["experiences"]
    ]  # fmt: skip
    out.print(
        table(
            "Experiences, stories and services",
            ["moment", "experience", "kind", "persona", "outcome sought", "value", "measured by"],
            rows,
            text_columns=7,
        )
    )
    if doc["gaps"]:
        out.print(
            table(
                "Gaps",
                ["gap", "moment", "line", "detail"],
                [
                    [g["kind"], g.get("moment") or "", g.get("line") or "", g["detail"]]
                    for g in doc["gaps"]
                ],
                text_columns=4,
            )
        )
    else:
        out.print("No gaps.")
    for note in doc["notes"]:
        out.print(f"note: {note}")
    if doc.get("value_framework"):
        render_value_framework(doc["value_framework"])


def _assoc(x: dict[str, Any], scale: float = 1.0, unit: str = "") -> str:
    if x["effect"] is None:
        return ""
    mark = " *" if x["significant"] else ""
    return (
        f"{scale * x['effect']:+,.2f}{unit} [{scale * x['ci_low']:+,.2f}, "
        f"{scale * x['ci_high']:+,.2f}]{mark} (naive {scale * x['naive_effect']:+,.2f})"
    )


def render_value_framework(vf: dict[str, Any]) -> None:
    rows = [
        [lv["value_level"], lv["via"], lv["exposed"], _assoc(lv["order_value"]),
         _assoc(lv["referred"], 100, " pp")]
        for lv in vf["levels"]
    ]  # fmt: skip
    out.print(
        table(
            f"The value framework ({vf['customers']:,} customers who bought; adjusted for "
            "orders, tenure and activity; * = q < 0.05)",
            ["value level", "via", "exposed", "order value difference", "referral rate"],
            rows,
            text_columns=2,
        )
    )
    for note in vf["notes"]:
        out.print(f"note: {note}")
