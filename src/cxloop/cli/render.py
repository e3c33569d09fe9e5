"""Rendering helpers shared by CLI commands: JSON documents and readable tables."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cxloop.documents import to_json

# Markup is off: file names and messages are printed as they are ("customers [v2].csv").
out = Console(highlight=False, markup=False)
if not out.is_terminal:  # files and pipes: wide tables instead of wrapped cells
    out.width = max(out.width, 160)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def print_error(prefix: str, message: str) -> None:
    """One line on stderr: a red prefix, then the message exactly as written."""
    err.print(Text.assemble((prefix, "bold red"), " ", message))


def print_json(document: Any) -> None:
    """A machine-readable document on stdout (nothing else goes to stdout with --json)."""
    sys.stdout.write(to_json(document) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]], *, text_columns: int = 1) -> Table:
    """A table whose first `text_columns` columns are text (left) and the rest figures."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i < text_columns else "right")
    for row in rows:
        t.add_row(*(fmt(v) for v in row))
    return t


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
