"""`cxloop keys`: create, list and revoke the API keys of `cxloop serve`.

These commands never open the warehouse: the running server holds its lock, and keys must
be manageable while it runs. They only touch `WS/access.sqlite` (see `cxloop.service.keys`).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from cxloop.cli.render import err, out, print_json, table
from cxloop.service.keys import ROLES, KeyInfo, KeyStore

keys_app = typer.Typer(
    help="API keys for `cxloop serve`: create, list, revoke (works while the server runs).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
WsArg = Annotated[Path, typer.Argument(help="Workspace folder.")]

ONCE = "This secret will not be shown again: store it now (cxloop keeps only its hash)."


@keys_app.command("create")
def create(
    workspace: WsArg,
    role: Annotated[str, typer.Option(help=f"Role of the key: {', '.join(ROLES)}.")],
    name: Annotated[str, typer.Option(help="A label: what or who uses the key.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Create a key and print its secret, once."""
    store = KeyStore(workspace)
    try:
        created = store.create(role, name)
    finally:
        store.close()
    if json_:
        print_json({**asdict(created.info), "secret": created.secret})
        err.print(ONCE)
        return
    info = created.info
    label = f", name {info.name!r}" if info.name else ""
    out.print(f"Created API key {info.key_id} (role {info.role}{label}).")
    # One unwrapped line, so that copying it from a narrow terminal gets the whole secret.
    sys.stdout.write(f"{created.secret}\n")
    out.print(ONCE)


@keys_app.command("list")
def list_keys(workspace: WsArg, json_: JsonOpt = False) -> None:
    """List keys: id, role, name, dates. Secrets and hashes are never shown."""
    store = KeyStore(workspace)
    try:
        keys = store.list()
    finally:
        store.close()
    if json_:
        print_json([asdict(k) for k in keys])
        return
    if not keys:
        out.print(f"No API keys yet (create one with `cxloop keys create {workspace} --role ...`).")
        return
    out.print(
        table(
            "API keys",
            ["key_id", "role", "name", "created_at", "last_used_at", "revoked_at"],
            [_row(k) for k in keys],
            text_columns=6,
        )
    )


def _row(key: KeyInfo) -> list[str | None]:
    return [key.key_id, key.role, key.name, key.created_at, key.last_used_at, key.revoked_at]


@keys_app.command("revoke")
def revoke(
    workspace: WsArg,
    key_id: Annotated[str, typer.Argument(help="The key's id, as `cxloop keys list` shows.")],
) -> None:
    """Revoke a key; the running server refuses it from its next request."""
    store = KeyStore(workspace)
    try:
        info = store.revoke(key_id)
    finally:
        store.close()
    out.print(
        f"Revoked API key {info.key_id} (role {info.role}) at {info.revoked_at}; "
        "requests with it are refused from now on, no restart needed."
    )
