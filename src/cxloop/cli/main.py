"""`cxloop` commands. Each parses its input, calls one library function, renders the result."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cxloop.cli import architecture_cmd, loop_cmd
from cxloop.cli.advocacy_cmd import advocacy_app
from cxloop.cli.benchmarks_cmd import benchmarks_app
from cxloop.cli.cases_cmd import cases_app
from cxloop.cli.content_cmd import content_app
from cxloop.cli.keys_cmd import keys_app
from cxloop.cli.loyalty_cmd import loyalty_app
from cxloop.cli.privacy_cmd import privacy_app
from cxloop.cli.render import err, out, print_error, print_json, table
from cxloop.errors import CxloopError

app = typer.Typer(
    name="cxloop",
    help="Measure and run the customer-experience loop: Buy, Own, Advocate, Buy again.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(privacy_app, name="privacy")
app.add_typer(loyalty_app, name="loyalty")
app.add_typer(advocacy_app, name="advocacy")
app.command("architecture")(architecture_cmd.architecture)
app.add_typer(cases_app, name="cases")
app.add_typer(loop_cmd.triggers_app, name="triggers")
app.command("worker")(loop_cmd.worker)
app.command("outbox")(loop_cmd.outbox)
app.add_typer(content_app, name="content")
app.add_typer(benchmarks_app, name="benchmarks")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine", help="Where the analysis runs: duckdb or spark (default: [engine] name)."
    ),
]


@app.command()
def init(
    workspace: WsArg,
    brand: Annotated[str, typer.Option(help="Our brand's name.")] = "Our brand",
    competitor: Annotated[
        list[str] | None, typer.Option(help="A competitor brand (repeatable).")
    ] = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "USD",
    timezone: Annotated[str, typer.Option(help="IANA time zone of naive timestamps.")] = "UTC",
    country: Annotated[str, typer.Option(help="Default country for phone numbers.")] = "US",
) -> None:
    """Create a workspace: cxloop.toml and an embedded warehouse."""
    from cxloop.workspace import Workspace

    with Workspace.init(
        workspace,
        brand=brand,
        competitors=competitor or (),
        currency=currency,
        timezone=timezone,
        default_country=country,
    ) as ws:
        out.print(f"Created workspace {ws.path} (config: {ws.path / 'cxloop.toml'})")


@app.command()
def ingest(
    workspace: WsArg,
    files: Annotated[list[Path], typer.Argument(help="Data files (CSV, Parquet, JSON Lines).")],
    kind: Annotated[
        str | None, typer.Option(help="Kind of every file (default: from the file name).")
    ] = None,
    json_: JsonOpt = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for a busy workspace.")] = 30.0,
) -> None:
    """Validate and load files; bad rows are rejected with reasons and kept."""
    from cxloop.cli.progress import ingest_progress
    from cxloop.workspace import Workspace

    with Workspace.open(workspace, wait=wait) as ws:
        with ingest_progress(files, ws.config.ingest.progress_min_bytes, quiet=json_) as cb:
            report = ws.ingest(files, kind=kind, progress=cb)
        if json_:
            print_json(report.to_dict())
            return
        rows = [
            [Path(f.path).name, f.kind, f.rows, f.loaded, f.updated, f.duplicates, f.rejected]
            for f in report.files
        ]
        out.print(
            table(
                "Ingest",
                ["file", "kind", "rows", "loaded", "updated", "duplicates", "rejected"],
                rows,
            )
        )
        for f in report.files:
            if f.ignored_columns:
                err.print(
                    f"warning: {f.path}: columns not in the contract ignored: "
                    f"{', '.join(f.ignored_columns)}"
                )
            if f.rejected:
                err.print(
                    f"{f.path}: {f.rejected:,} row(s) rejected, first at {f.first_reject}; "
                    f"kept in {f.rejects_file}"
                )
        for reaction in report.reactions:
            if reaction.ok:
                out.print(f"{reaction.name}: {reaction.summary}")
            else:
                err.print(
                    f"warning: the data loaded, but {reaction.name} could not act on it "
                    f"({reaction.error}); it will be offered again on the next ingest"
                )


@app.command()
def profiles(
    workspace: WsArg,
    lookup: Annotated[
        str | None,
        typer.Option(
            help="Show one profile: profile id, customer id, source:customer_id, email or "
            "anonymous id."
        ),
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Recompute profiles first.")] = False,
    review: Annotated[
        bool, typer.Option(help="List borderline probabilistic matches for clerical review.")
    ] = False,
    train: Annotated[
        bool, typer.Option(help="Train the probabilistic matching model again, then rebuild.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Pairs shown by --review.", min=1)] = 50,
    json_: JsonOpt = False,
) -> None:
    """Unified customer profiles: counts, merges by rule, or one profile with its timeline."""
    from cxloop import analyses
    from cxloop.cli import identity_view
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws:
        if train:
            analyses.profiles_train(ws)
        summary = analyses.profiles_summary(ws, rebuild=rebuild)
        if review:
            pairs = analyses.profiles_review(ws, limit=limit)
            if json_:
                print_json({"review_pairs": summary["review_pairs"], "pairs": pairs})
                return
            identity_view.print_review(out, pairs, total=summary["review_pairs"])
            return
        if lookup is not None:
            profile = analyses.profile(ws, lookup)
            if profile is None:
                raise CxloopError(f"no profile matches {lookup!r}")
            if json_:
                print_json(profile)
                return
            _print_profile(profile)
            return
        if json_:
            print_json(summary)
            return
        rows = [
            ["profiles", summary["profiles"]],
            ["  known (a customer record, id or email)", summary["known_profiles"]],
            ["  anonymous only", summary["anonymous_profiles"]],
            ["source records", summary["source_records"]],
            ["merged records", summary["merged_records"]],
            *[[f"merged by {rule}", n] for rule, n in summary["by_rule"].items()],
            ["identifiers ignored (placeholders, shared devices)", summary["skipped_identifiers"]],
            ["pairs awaiting review (--review)", summary["review_pairs"]],
        ]
        out.print(table("Unified profiles", ["", "count"], rows))


def _print_profile(profile: dict) -> None:
    head = {
        k: v
        for k, v in profile.items()
        if k not in {"records", "links", "timeline", "identifiers", "matches"}
    }
    out.print(table(f"Profile {profile['profile_id']}", ["field", "value"], list(head.items())))
    out.print(
        table(
            "Source records",
            ["source", "customer_id", "email", "phone", "name"],
            [
                [
                    r["source"],
                    r["customer_id"],
                    r["email"],
                    r["phone"],
                    " ".join(x for x in (r["first_name"], r["last_name"]) if x),
                ]
                for r in profile["records"]
            ],
        )
    )
    out.print(
        table(
            "Why merged",
            ["rule", "from", "to"],
            [[x["rule"], x["from"], x["to"]] for x in profile["links"]],
        )
    )
    if profile.get("matches"):
        from cxloop.cli import identity_view

        identity_view.print_pairs(out, "Probabilistic matches", profile["matches"])
    out.print(
        table(
            "Timeline (latest first)",
            ["at", "what", "detail"],
            [[t["at"], t["what"], t["detail"]] for t in profile["timeline"]],
        )
    )


@app.command()
def scorecard(
    workspace: WsArg,
    period: Annotated[
        str | None, typer.Option(help="month, quarter or year (default from cxloop.toml).")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Breakdown: touchpoint, channel, stage, country, segment, membership "
            "(loyalty members vs non-members)."
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Start date, ISO 8601 (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="End date, ISO 8601 (exclusive).")] = None,
    json_: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """The composite scorecard with intervals, trends, breakdowns and goals."""
    from cxloop import analyses
    from cxloop.cli.scorecard_view import render
    from cxloop.engines.lake_workspace import analytics_workspace
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = analyses.scorecard(ws, period=period, by=by, since=since, until=until)
    if json_:
        print_json(doc)
        return
    render(doc, out)


@app.command()
def journey(
    workspace: WsArg,
    period: Annotated[
        str | None, typer.Option(help="Funnel periods: month, quarter or year.")
    ] = None,
    cart_window_hours: Annotated[
        float | None,
        typer.Option(help="A cart with no order within this many hours is abandoned."),
    ] = None,
    conversion_window_days: Annotated[
        float | None, typer.Option(help="Window after a touchpoint for its conversion.")
    ] = None,
    json_: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """Journeys: the Buy, Own, Advocate loop, touchpoints, funnel, top paths, attribution."""
    from cxloop import analyses
    from cxloop.cli.journey_view import render_journey
    from cxloop.engines.lake_workspace import analytics_workspace
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = analyses.journey(
            ws,
            period=period,
            cart_window_hours=cart_window_hours,
            conversion_window_days=conversion_window_days,
        )
    if json_:
        print_json(doc)
        return
    render_journey(doc)


@app.command()
def moments(
    workspace: WsArg,
    outcome: Annotated[str, typer.Option(help="nps, csat, rating or repurchase.")] = "nps",
    window_days: Annotated[
        int, typer.Option(help="Days of experiences before an answer (after an order).")
    ] = 180,
    json_: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """Pivotal moments: adjusted effects of touchpoint experiences on an outcome, ranked."""
    from cxloop import analyses
    from cxloop.cli.moments_view import render_moments
    from cxloop.engines.lake_workspace import analytics_workspace
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = analyses.moments(ws, outcome=outcome, window_days=window_days)
    if json_:
        print_json(doc)
        return
    render_moments(doc)


@app.command()
def voc(
    workspace: WsArg,
    period: Annotated[
        str | None, typer.Option(help="Trend period: month, quarter or year.")
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Write one row per text (.csv or .parquet): sentiment, themes, intent."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Voice of the customer: sentiment, themes, detractor reasons, advocacy, competitors."""
    from cxloop import analyses
    from cxloop.analytics.voc import export_voc
    from cxloop.cli.voc_view import render_voc
    from cxloop.workspace import Workspace

    if export is not None:
        _check_export(export)
    with Workspace.open(workspace) as ws:
        doc = analyses.voc(ws, period=period)
        if export is not None:
            rows = export_voc(ws, export)
            err.print(f"wrote {rows:,} texts to {export}")
    if json_:
        print_json(doc)
        return
    render_voc(doc)


@app.command()
def segments(
    workspace: WsArg,
    export: Annotated[
        Path | None,
        typer.Option(help="Write each profile's segment and its signals (.csv or .parquet)."),
    ] = None,
    json_: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """Loyalty x advocacy segments: loyal, captive, fans, others; loyads; transitions."""
    from cxloop import analyses
    from cxloop.cli.segments_view import render_segments
    from cxloop.engines.lake_workspace import analytics_workspace
    from cxloop.workspace import Workspace

    if export is not None:
        _check_export(export)
    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = analyses.segments(ws, export=export)
    if export is not None:
        err.print(f"wrote {doc['export']['rows']:,} profiles to {export}")
    if json_:
        print_json(doc)
        return
    render_segments(doc)


@app.command()
def personas(
    workspace: WsArg,
    k: Annotated[
        int | None, typer.Option(help="Number of personas (default: chosen by BIC).")
    ] = None,
    refit: Annotated[
        bool, typer.Option(help="Fit the personas again instead of assigning to the saved ones.")
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(help="Write each customer's persona and features (.csv or .parquet)."),
    ] = None,
    json_: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """Personas (need states) from behaviour and preferences, and their drift."""
    from cxloop import analyses
    from cxloop.analytics.personas import export_personas
    from cxloop.cli.personas_view import render_personas
    from cxloop.engines.lake_workspace import analytics_workspace
    from cxloop.workspace import Workspace

    if export is not None:
        _check_export(export)
    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = analyses.personas(ws, k=k, refit=refit)
        if export is not None:
            rows = export_personas(ws, export)
            err.print(f"wrote {rows:,} customers to {export}")
    if json_:
        print_json(doc)
        return
    render_personas(doc)


def _check_export(path: Path) -> None:
    """An export path we can write, checked before any work is done."""
    from cxloop.analytics.export import check_export_path

    check_export_path(path)


@app.command()
def clv(
    workspace: WsArg,
    model: Annotated[str, typer.Option(help="Purchase model: bgnbd or pareto_nbd.")] = "bgnbd",
    calibration_end: Annotated[
        str | None,
        typer.Option(help="Last day of the calibration period (default: the last order's day)."),
    ] = None,
    holdout_end: Annotated[
        str | None, typer.Option(help="Last day of the holdout period, for validation.")
    ] = None,
    horizon_weeks: Annotated[float, typer.Option(help="CLV and purchase horizon.")] = 52.0,
    discount_rate: Annotated[float, typer.Option(help="Monthly discount rate.")] = 0.01,
    time_unit: Annotated[str, typer.Option(help="weeks or days.")] = "weeks",
    export: Annotated[
        Path | None, typer.Option(help="Write per-profile predictions (.csv or .parquet).")
    ] = None,
    json_: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """Customer lifetime value: BG/NBD or Pareto/NBD with Gamma-Gamma spend, tiers, at risk."""
    from cxloop import analyses
    from cxloop.analytics.clv import build_clv
    from cxloop.cli.clv_view import render
    from cxloop.engines.lake_workspace import analytics_workspace
    from cxloop.workspace import Workspace

    settings = analyses.clv_settings(
        model=model,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        horizon_weeks=horizon_weeks,
        discount_rate=discount_rate,
        time_unit=time_unit,
        export=export,
    )
    with Workspace.open(workspace) as opened, analytics_workspace(opened, engine) as ws:
        doc = build_clv(ws, settings)
    if json_:
        print_json(doc)
        return
    render(doc, out)


@app.command()
def report(
    workspace: WsArg,
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "cxloop-report.html"
    ),
    period: Annotated[str | None, typer.Option(help="month, quarter or year.")] = None,
    by: Annotated[str, typer.Option(help="Breakdown shown in the report.")] = "touchpoint",
) -> None:
    """Write a self-contained HTML report (opens offline) with charts."""
    from cxloop.analytics.periods import parse_period
    from cxloop.report import build_report
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws:
        path = build_report(
            ws, out_file, period=parse_period(period).value if period else None, by=by
        )
    out.print(f"Report written to {path}")


@app.command()
def generate(
    people: Annotated[int, typer.Option(help="Number of people to simulate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 42,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("sample-data"),
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    dirty_rate: Annotated[
        float, typer.Option(help="Share of rows made invalid on purpose (0 for none).")
    ] = 0.002,
    json_: JsonOpt = False,
) -> None:
    """Write realistic sample data in the contract format, with its planted truths."""
    from cxloop.cli.progress import step_progress
    from cxloop.generate import generate as run_generate

    if file_format not in {"csv", "parquet"}:
        raise CxloopError(f"--format must be csv or parquet, not {file_format!r}")
    if people < 1:
        raise CxloopError("--people must be at least 1")
    with step_progress("Generating", quiet=json_) as cb:
        result = _generate_or_explain(
            run_generate,
            out_dir,
            people=people,
            seed=seed,
            file_format=file_format,  # type: ignore[arg-type]
            dirty_rate=dirty_rate,
            progress=cb,
        )
    doc = {
        "out_dir": str(result.out_dir),
        "files": {k: str(v) for k, v in result.files.items()},
        "rows": result.rows,
        "truth_dir": str(result.truth_dir),
    }
    if json_:
        print_json(doc)
        return
    out.print(
        table(
            f"Sample data in {result.out_dir}",
            ["kind", "rows"],
            [[k, n] for k, n in result.rows.items()],
        )
    )
    out.print(f"Planted truths: {result.truth_dir}")


def _generate_or_explain(run: Any, *args: Any, **kwargs: Any) -> Any:
    """Settings the generator refuses (ValueError) become a one-line user error."""
    try:
        return run(*args, **kwargs)
    except ValueError as exc:
        raise CxloopError(f"cannot generate: {exc}") from exc


@app.command()
def serve(
    workspace: WsArg,
    host: Annotated[str | None, typer.Option(help="Address (default from cxloop.toml).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from cxloop.toml).")] = None,
) -> None:
    """REST API (OpenAPI at /docs) and the web dashboard at /, until Ctrl-C."""
    from cxloop.config import CONFIG_FILE, WorkspaceConfig
    from cxloop.service.server import serve as run_server
    from cxloop.workspace import Workspace

    Workspace.open(workspace, wait=0).close()  # a clear error now, not from inside the server
    settings = WorkspaceConfig.load(workspace / CONFIG_FILE).serve
    host, port = host or settings.host, port or settings.port
    err.print(f"serving {workspace} on http://{host}:{port}/ (API docs: /docs); Ctrl-C stops")
    run_server(workspace, host, port)


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="Number of people to simulate.")] = 20_000,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for data and workspace.")] = Path(
        "cxloop-demo"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    json_: JsonOpt = False,
) -> None:
    """Generate sample data, load it, build profiles and print the headline figures."""
    from cxloop.cli.progress import step_progress
    from cxloop.demo import run_demo

    with step_progress("Demo", quiet=json_) as cb:
        result = run_demo(out_dir, people=people, seed=seed, progress=cb)
    if json_:
        print_json(result)
        return
    out.print(
        table(
            "Loaded",
            ["kind", "rows", "loaded", "rejected"],
            [[k, v["rows"], v["loaded"], v["rejected"]] for k, v in result["ingest"].items()],
        )
    )
    out.print(
        table(
            "Headline figures", ["figure", "value"], [[k, v] for k, v in result["headline"].items()]
        )
    )
    out.print(f"Report: {result['report']}")
    out.print(f"Workspace: {result['workspace']}  (try: cxloop scorecard {result['workspace']})")
    ws_path = result["workspace"]
    out.print(
        "Dashboard and REST API: create a key with "
        f"`cxloop keys create {ws_path} --role admin`, then run `cxloop serve {ws_path}` "
        "and open http://127.0.0.1:8040/ (API documentation at /docs)"
    )
    out.print(f"Rejected rows are kept in {result['rejects_path']}")


def main() -> None:
    """Entry point: user errors become one line on stderr, never a traceback."""
    debug = bool(os.environ.get("CXLOOP_DEBUG"))
    try:
        app(standalone_mode=False)
    except CxloopError as exc:
        print_error("error:", str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted: work in progress was rolled back; the workspace is intact")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # the last guard: a one-line report, details on request
        # Usage errors come from click (vendored by typer under a private name), so they are
        # recognised by their interface rather than imported.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            err.print("aborted")
            sys.exit(1)
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print_error(
            "internal error:", f"{type(exc).__name__}: {first} (set CXLOOP_DEBUG=1 for details)"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
