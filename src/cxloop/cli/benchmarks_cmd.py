"""`cxloop benchmarks`: import external industry benchmarks; list them beside our figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxloop.cli.render import out, print_json

benchmarks_app = typer.Typer(
    help="External industry benchmarks: import them; the scorecard compares our figures.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]


@benchmarks_app.command("import")
def import_(
    workspace: WsArg,
    file: Annotated[Path, typer.Argument(help="Benchmark file: .csv, .json or .jsonl.")],
    json_: JsonOpt = False,
) -> None:
    """Validate a benchmark file and merge it into WS/benchmarks.csv."""
    from cxloop.analytics.benchmarks import import_benchmarks
    from cxloop.workspace import Workspace

    with Workspace.open(workspace):  # a workspace, and nobody else writing it
        result = import_benchmarks(workspace, file)
    if json_:
        print_json(result)
        return
    out.print(
        f"{file}: {result['read']} benchmarks ({result['added']} new, {result['replaced']} "
        f"replaced); {result['total']} in {workspace / 'benchmarks.csv'}"
    )


@benchmarks_app.command("list")
def list_(
    workspace: WsArg,
    period: Annotated[
        str | None, typer.Option(help="Scorecard period: month, quarter or year.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Every benchmark beside our figure for its period (difference with its 95% CI)."""
    from cxloop import analyses
    from cxloop.cli.benchmarks_view import benchmarks_table
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws:
        doc = analyses.scorecard(ws, period=period)
    if json_:
        print_json({"period": doc["period"], "benchmarks": doc["benchmarks"]})
        return
    if not doc["benchmarks"]:
        out.print("No benchmarks (import some with `cxloop benchmarks import WS FILE`).")
        return
    out.print(benchmarks_table(doc["benchmarks"]))
