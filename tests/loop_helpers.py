"""Helpers of the closed-loop tests: workspaces with [cases] and [triggers] settings."""

from __future__ import annotations

import json
from pathlib import Path

import cxloop

DEFAULT_HOOK = "default http://127.0.0.1:9/hook"


def set_settings(path: Path, section: str, values: dict[str, object]) -> None:
    """Set keys of one section of a workspace's cxloop.toml (values written as JSON, which is
    valid TOML for strings, numbers, booleans and lists of strings)."""
    config = path / "cxloop.toml"
    lines = config.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"[{section}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    body = lines[start + 1 : end]
    kept, skipping = [], False
    for line in body:  # drop the keys being set (a list may span several lines)
        key = line.split("=", 1)[0].strip()
        if not line.startswith((" ", "#")) and "=" in line and key in values:
            skipping = line.rstrip().endswith("[")
            continue
        if skipping:
            skipping = line.strip() != "]"
            continue
        kept.append(line)
    added = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    lines[start + 1 : end] = added + kept
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def loop_workspace(path: Path, *, cases: dict | None = None, triggers: dict | None = None):
    """A new workspace with the closed loop switched on, and optional settings. Messages go
    to a "default" webhook nobody listens on (port 9, discard) unless `triggers` names one."""
    cxloop.Workspace.init(path, brand="Northwind").close()
    set_settings(path, "cases", {"enabled": True, **(cases or {})})
    set_settings(
        path, "triggers", {"enabled": True, "webhooks": [DEFAULT_HOOK], **(triggers or {})}
    )
    return cxloop.Workspace.open(path)
