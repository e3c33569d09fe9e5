"""Rendering helpers shared by CLI commands: JSON documents and readable tables."""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Markup is off: file names and messages are printed as they are ("customers [v2].csv").
out = Console(highlight=False, markup=False)
if not out.is_terminal:  # files and pipes: wide tables instead of wrapped cells
    out.width = max(out.width, 160)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def print_error(prefix: str, message: str) -> None:
    """One line on stderr: a red prefix, then the message exactly as written."""
    err.print(Text.assemble((prefix, "bold red"), " ", message))


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | tuple):
        return list(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null (no figure), never a broken file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def print_json(document: Any) -> None:
    """A machine-readable document on stdout (nothing else goes to stdout with --json)."""
    text = json.dumps(_finite(document), default=_default, indent=2, allow_nan=False)
    sys.stdout.write(text + "\n")


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
