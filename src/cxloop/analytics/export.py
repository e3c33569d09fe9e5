"""Per-row exports of analyses (`--export FILE`): one check and one writer for every command.

The path is checked before any work is done, so a typo in a file name costs nothing, and
the query result is written by the engine straight to CSV or Parquet (no copy in Python).
"""

from __future__ import annotations

from pathlib import Path

from cxloop.errors import CxloopError

EXPORT_SUFFIXES = (".csv", ".parquet")


def check_export_path(path: Path | str) -> Path:
    """The export path, refused with a clear message when its format or folder is wrong."""
    path = Path(path)
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        suffix = path.suffix or "no extension"
        raise CxloopError(f"{path}: export to .csv or .parquet, not {suffix!r}")
    if not path.parent.is_dir():
        raise CxloopError(f"{path.parent}: no such folder for the export (it does not exist)")
    return path
