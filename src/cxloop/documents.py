"""JSON documents: one encoding for the CLI's `--json` and the REST API.

Both layers print the same document for the same analysis, byte for byte apart from
indentation, because both encode it here.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np


def to_json(document: Any, *, indent: int | None = 2) -> str:
    """The document as JSON text; NaN and infinities become null, never invalid JSON."""
    return json.dumps(finite(document), default=_default, indent=indent, allow_nan=False)


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
        return finite(value.tolist())
    raise TypeError(f"cannot serialise {type(value).__name__}")


def finite(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null (no figure), never a broken file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
