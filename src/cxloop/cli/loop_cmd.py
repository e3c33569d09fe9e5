"""`cxloop worker`, `cxloop outbox`, `cxloop triggers`: delivery and triggered actions
(docs/triggers.md). The worker and the outbox open only the programs store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cxloop.cli.loyalty_cmd import workspace_config
from cxloop.cli.render import err, out, print_json, table

triggers_app = typer.Typer(
    help="Triggered actions: run segment and schedule triggers, measure against holdouts.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]


def _store(workspace: Path):  # noqa: ANN202 - a ProgramStore, imported lazily
    from cxloop.programs.store import ProgramStore

    config = workspace_config(workspace)
    return ProgramStore.open(workspace, config.programs.database_url or None, pool_size=2), config


def worker(
    workspace: WsArg,
    once: Annotated[bool, typer.Option(help="Deliver what is due now, then stop.")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between looks at an empty outbox.")] = 1.0,
    batch: Annotated[int, typer.Option(help="Messages claimed at a time.")] = 50,
    lease: Annotated[
        float, typer.Option(help="Seconds a claim lasts (a crashed worker's claims expire).")
    ] = 60.0,
    json_: JsonOpt = False,
) -> None:
    """Deliver the outbox to the configured webhooks (retries, backoff, dead letters)."""
    from cxloop.programs.triggers.worker import run

    store, config = _store(workspace)
    try:
        if not config.triggers.webhooks:
            err.print("warning: [triggers] webhooks is empty: every message will fail")

        def progress(report) -> None:  # noqa: ANN001
            if not json_:
                err.print(
                    f"delivered {report.delivered:,}, failed attempts "
                    f"{report.failed_attempts:,}, dead {report.dead:,}"
                )

        try:
            report = run(
                store,
                config.triggers,
                once=once,
                poll_seconds=poll,
                batch=batch,
                lease_seconds=lease,
                on_batch=progress,
            )
        except KeyboardInterrupt:
            return
    finally:
        store.close()
    if json_:
        print_json(report.to_dict())
    else:
        out.print(
            f"Delivered {report.delivered:,}; failed attempts {report.failed_attempts:,}; "
            f"dead {report.dead:,}"
        )


def outbox(
    workspace: WsArg,
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or dead (the dead letters).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many messages.")] = 20,
    retry_dead: Annotated[
        bool, typer.Option("--retry-dead", help="Queue every dead message again.")
    ] = False,
    retry: Annotated[
        list[int] | None, typer.Option("--retry", help="Queue this dead message again (id).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Inspect the outbox (counts, messages) and retry dead letters."""
    from cxloop.programs import outbox as box

    store, _ = _store(workspace)
    try:
        retried = None
        if retry_dead or retry:
            retried = box.retry_dead(
                store, now=datetime.now(UTC), ids=None if retry_dead else retry
            )
        counts = box.counts(store)
        found = box.messages(store, status=status, limit=limit)
    finally:
        store.close()
    if json_:
        print_json({"counts": counts, "retried": retried, "messages": [m.to_dict() for m in found]})
        return
    if retried is not None:
        out.print(f"{retried:,} dead message(s) queued again")
    out.print(", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    out.print(
        table(
            "Outbox",
            ["id", "status", "topic", "webhook", "attempts", "next attempt (UTC)", "last error"],
            [
                [
                    m.id,
                    m.status,
                    m.topic,
                    m.webhook,
                    m.attempts,
                    f"{m.next_attempt_at:%Y-%m-%d %H:%M:%S}",
                    m.last_error or "",
                ]
                for m in found
            ],
        )
    )


@triggers_app.command("run")
def run_triggers(workspace: WsArg, json_: JsonOpt = False) -> None:
    """Evaluate segment and schedule triggers now (run it from cron)."""
    from cxloop.programs.triggers.segments import run_scheduled
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws:
        store, _ = _store(workspace)
        try:
            summary = run_scheduled(ws, store)
        finally:
            store.close()
    if json_:
        print_json(summary)
        return
    out.print(", ".join(f"{k}: {v}" for k, v in summary.items()))


@triggers_app.command("report")
def report(workspace: WsArg, json_: JsonOpt = False) -> None:
    """Per action type: outcome of those sent vs the holdout group, with 95% intervals."""
    from cxloop.programs.triggers.measure import holdout_report
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws:
        store, _ = _store(workspace)
        try:
            doc = holdout_report(ws, store)
        finally:
            store.close()
    if json_:
        print_json(doc)
        return
    rows = []
    for a in doc["actions"]:
        lift = a["lift"]
        rows.append(
            [
                a["action"],
                a["sent"]["n"],
                _rate(a["sent"]),
                a["holdout"]["n"],
                _rate(a["holdout"]),
                _lift(lift),
                a["window_open"],
            ]
        )
    out.print(
        table(
            f"Outcome: {doc['outcome']}",
            [
                "action",
                "sent (profiles)",
                "rate",
                "holdout (profiles)",
                "rate",
                "lift (95% CI)",
                "window open",
            ],
            rows,
        )
    )


def _lift(lift: dict | None) -> str:
    if lift is None:
        return "n/a"
    low, high = 100 * lift["ci_low"], 100 * lift["ci_high"]
    return f"{100 * lift['value']:+.1f} pts [{low:.1f}, {high:.1f}]"


def _rate(e: dict) -> str:
    return "n/a" if e["value"] is None else f"{100 * e['value']:.1f}%"
