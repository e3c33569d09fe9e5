"""`cxloop privacy`: a person's right of access (export) and right to erasure (erase).

Each command opens the workspace, calls one function of `cxloop.privacy` and renders what it
returns (docs/privacy.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cxloop.cli.render import err, out, print_json, table

privacy_app = typer.Typer(
    help="Personal data rights: export or erase everything held about one person.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]
KeyArg = Annotated[
    str,
    typer.Argument(
        help="The person: profile id, customer id, source:customer_id, email or anonymous id."
    ),
]


@privacy_app.command("export")
def export(
    workspace: WsArg,
    key: KeyArg,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the JSON document to this file instead of stdout."),
    ] = None,
) -> None:
    """Everything held about one person, as a JSON document (right of access)."""
    from cxloop.privacy import export_person
    from cxloop.workspace import Workspace

    with Workspace.open(workspace) as ws:
        doc = export_person(ws, key)
    if out_file is None:
        print_json(doc)
        return
    _write_private(out_file, doc)
    err.print(f"wrote the export of {doc['profile_id']} to {out_file}")


def _write_private(path: Path, doc: dict[str, Any]) -> None:
    """Write the document readable by its owner only (it is personal data), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@privacy_app.command("erase")
def erase(
    workspace: WsArg,
    key: KeyArg,
    reason: Annotated[
        str,
        typer.Option(help="Why (a ticket number): kept in the erasure log, must not name them."),
    ] = "",
    actor: Annotated[str, typer.Option(help="Who asked for it, for the erasure log.")] = "cli",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Erase one person from every table and rejects file (right to erasure); no undo."""
    from cxloop.privacy import erase_person
    from cxloop.workspace import Workspace

    if not yes:
        typer.confirm(
            f"Erase everything {workspace} holds about {key!r}? This cannot be undone.",
            abort=True,
            err=True,
        )
    with Workspace.open(workspace) as ws:
        audit = erase_person(ws, key, actor=actor, reason=reason)
    if json_:
        print_json(audit)
        return
    rows = [[name, n] for name, n in audit["rows_deleted"].items() if n]
    rows.append(["lines of rejects files", audit["reject_file_lines"]])
    out.print(table(f"Erasure {audit['erasure_id']}", ["table", "rows deleted"], rows))
    at, version = audit["erased_at"], audit["data_version"]
    out.print(f"Recorded in erasure_log at {at}; data version now {version}")
