"""Input files: their format, their kind, and the checks that refuse a file as a whole.

A file is refused (one clear line, nothing loaded) only when no row of it could be read:
missing, a directory, an unknown extension, empty, or a header without a required column.
Everything else is judged row by row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cxloop.contract.schema import KINDS, Kind, kind_named
from cxloop.errors import InputFileError


class FileFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


_EXTENSIONS: dict[str, tuple[FileFormat, bool]] = {
    ".csv": (FileFormat.CSV, False),
    ".csv.gz": (FileFormat.CSV, True),
    ".parquet": (FileFormat.PARQUET, False),
    ".jsonl": (FileFormat.JSONL, False),
    ".jsonl.gz": (FileFormat.JSONL, True),
    ".ndjson": (FileFormat.JSONL, False),
    ".ndjson.gz": (FileFormat.JSONL, True),
}

# Columns a rejects file adds; the loader ignores them so a fixed rejects file loads again.
REJECT_PREFIX = "_reject_"


@dataclass(frozen=True)
class InputFile:
    """A file accepted for loading: where it is, how to read it, what it holds."""

    path: Path
    format: FileFormat
    gzipped: bool
    kind: Kind

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def detect_format(path: Path) -> tuple[FileFormat, bool]:
    """Format and compression from the file name's extension (the contract's rule)."""
    name = path.name.lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return _EXTENSIONS[ext]
    known = ", ".join(sorted(_EXTENSIONS))
    raise InputFileError(f"{path}: unknown file extension (expected one of {known})")


def kind_from_name(path: Path) -> Kind:
    """The kind a file holds, from its name: `orders.csv`, `shop_orders_2024.parquet`, ...

    The stem is split on `_`, `-`, `.` and spaces; exactly one word must name a kind
    (plural or singular). Anything else asks the user for `--kind`.
    """
    stem = path.name.split(".")[0].lower()
    words = [w for w in re.split(r"[_\-.\s]+", stem) if w]
    found: set[str] = set()
    for word in words:
        try:
            found.add(kind_named(word).name)
        except KeyError:
            continue
    if len(found) == 1:
        return KINDS[found.pop()]
    kinds = ", ".join(KINDS)
    if not found:
        raise InputFileError(
            f"{path}: cannot tell the kind from the file name; name it after a kind "
            f"({kinds}) or pass --kind"
        )
    raise InputFileError(
        f"{path}: the file name names several kinds ({', '.join(sorted(found))}); pass --kind"
    )


def open_input(path: Path | str, kind: str | None = None) -> InputFile:
    """Check that `path` can be loaded and describe it; raise `InputFileError` if not."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not a data file")
    fmt, gzipped = detect_format(path)
    if kind is not None:
        try:
            resolved = kind_named(kind)
        except KeyError as exc:
            raise InputFileError(
                f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})"
            ) from exc
    else:
        resolved = kind_from_name(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    if size == 0:
        raise InputFileError(f"{path}: the file is empty (expected a header row and data)")
    return InputFile(path=path, format=fmt, gzipped=gzipped, kind=resolved)


def map_header(input_file: InputFile, header: list[str]) -> dict[str, str]:
    """Map the contract's column names to the file's (case-insensitive); check required ones.

    Returns {contract name: file column name}. Unknown columns are not in the map; the caller
    keeps them as extras. Raises when a required column is missing or a name repeats.
    """
    lowered: dict[str, str] = {}
    for name in header:
        key = name.strip().lower()
        if key in lowered:
            raise InputFileError(
                f"{input_file.path}: column {name!r} appears twice (names are case-insensitive)"
            )
        lowered[key] = name
    mapping = {c: lowered[c] for c in input_file.kind.column_names if c in lowered}
    missing = [c for c in input_file.kind.required if c not in mapping]
    one_of = input_file.kind.one_of
    if one_of and not any(c in mapping for c in one_of):
        missing.append(f"one of {'/'.join(one_of)}")
    if missing:
        raise InputFileError(
            f"{input_file.path}: header lacks required column(s) {', '.join(missing)} "
            f"for kind {input_file.kind.name}"
        )
    return mapping


def extra_columns(input_file: InputFile, header: list[str]) -> list[str]:
    """File columns that are not in the contract (kept under attributes/properties)."""
    known = set(input_file.kind.column_names)
    return [
        h
        for h in header
        if h.strip().lower() not in known and not h.strip().lower().startswith(REJECT_PREFIX)
    ]
