"""Small helpers for composing SQL safely.

Values are always bound as parameters. Identifiers that come from files (column names) are
quoted here, so a header like `a"; DROP TABLE x; --` is just an odd column name.
"""

from __future__ import annotations


def ident(name: str) -> str:
    """Quote an identifier (SQL standard double quotes, embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote a constant string that is part of the program (never user data)."""
    return "'" + text.replace("'", "''") + "'"
