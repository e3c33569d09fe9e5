"""Shared helpers of the advocacy tests: a workspace with the program switched on."""

from __future__ import annotations

import dataclasses
from typing import Any

from cxloop.config import CONFIG_FILE, WorkspaceConfig


def enable_advocacy(ws: Any, **settings: Any) -> None:
    """Switch `[advocacy]` on, with `settings` overriding the defaults, in the workspace's file
    (what the CLI reads) and in the open workspace's config (what the library reads)."""
    path = ws.path / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    head = text.split("\n[advocacy]\n")[0]  # the template's last section
    lines = [f"{name} = {_toml(value)}" for name, value in {"enabled": True, **settings}.items()]
    path.write_text(head + "\n[advocacy]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    ws.config = WorkspaceConfig.load(path)
    assert ws.config.advocacy.enabled


def config_with(**settings: Any) -> Any:
    """`AdvocacySettings` enabled, with overrides, validated."""
    from cxloop.config import AdvocacySettings

    advocacy = dataclasses.replace(AdvocacySettings(enabled=True), **settings)
    advocacy.validate()
    return advocacy


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
