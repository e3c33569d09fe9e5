"""Reading a content catalogue file (CSV or JSON) with errors that name file, line and column.

CSV: a header row, one asset per row (RFC 4180). JSON: an array of objects, or JSON Lines
(one object per line, `.jsonl`). Columns: `content_id`, `title`, `type`, `persona`,
`moment`, `value_level`, `status`, `owner` and, optionally, the dates the asset reached a
status (`planned_at`, `approved_at`, `published_at`, `retired_at`; ISO 8601) and
`created_at`. A catalogue is small and read as a whole: any bad row refuses the file, and
every bad value is listed (file, line, column, reason), so one fix-and-retry is enough.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxloop.content.assets import (
    MAX_TEXT,
    STATUS_DATES,
    STATUSES,
    TYPES,
    VALUE_LEVELS,
    ContentError,
)
from cxloop.errors import CxloopError

REQUIRED = ("content_id", "title", "type", "moment", "value_level", "status")
OPTIONAL = ("persona", "owner", "created_at", *STATUS_DATES.values())
MAX_ERRORS = 20


class ContentFileError(ContentError):
    """A catalogue file with bad rows; the message lists each with file, line and column."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        shown = problems[:MAX_ERRORS]
        more = len(problems) - len(shown)
        text = f"{path}: nothing loaded, {len(problems)} problem(s):\n  " + "\n  ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(text)
        self.problems = problems


@dataclass(frozen=True)
class AssetRow:
    """One valid row of a catalogue file, with the line it came from."""

    line: int
    content_id: str
    title: str
    type: str
    persona: str
    moment: str
    value_level: str
    status: str
    owner: str | None
    created_at: datetime | None
    status_dates: dict[str, datetime]


def read_catalogue(path: Path, *, timezone: str = "UTC") -> list[AssetRow]:
    """Every asset of the file, or `ContentFileError` listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise ContentError(f"{path}: no such file")
    name = path.name.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContentError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if name.endswith(".csv"):
        records = _csv_records(path, text)
    elif name.endswith((".jsonl", ".ndjson")):
        records = _jsonl_records(path, text)
    elif name.endswith(".json"):
        records = json_array_records(path, text)
    else:
        raise ContentError(f"{path}: unknown extension (expected .csv, .json or .jsonl)")
    problems: list[str] = []
    rows: list[AssetRow] = []
    seen: dict[str, int] = {}
    for line, record in records:
        row = _row(path, line, record, problems, timezone)
        if row is None:
            continue
        if row.content_id in seen:
            problems.append(
                f"{path}, line {line}, column content_id: {row.content_id!r} already on line "
                f"{seen[row.content_id]}"
            )
            continue
        seen[row.content_id] = line
        rows.append(row)
    if problems:
        raise ContentFileError(path, problems)
    return rows


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        raise ContentError(f"{path}: empty file (expected a header row)") from None
    except csv.Error as exc:
        raise ContentError(f"{path}, line 1: unreadable CSV ({exc})") from None
    names = [h.strip().lower() for h in header]
    _check_header(path, names)
    out = []
    try:
        while True:
            line = reader.line_num + 1  # a quoted field may span lines: report the first
            row = next(reader, None)
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                out.append((line, {"__width__": (len(row), len(names))}))
                continue
            out.append((line, dict(zip(names, row, strict=True))))
    except csv.Error as exc:
        raise ContentError(f"{path}, line {reader.line_num}: unreadable CSV ({exc})") from None
    return out


def _check_header(path: Path, names: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ContentError(f"{path}, line 1: missing column(s) {', '.join(missing)}")
    unknown = [c for c in names if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise ContentError(
            f"{path}, line 1, column {unknown[0]}: unknown column (expected "
            f"{', '.join(REQUIRED + OPTIONAL)})"
        )


def _jsonl_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            where = f"{path}, line {i}, column {exc.colno}"
            raise ContentError(f"{where}: bad JSON ({exc.msg})") from None
        out.append((i, value))
    return out


def json_array_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """The elements of a JSON array, each with the line it starts on (`raw_decode` gives
    offsets; `json.loads` would give none). Bad JSON is one error with its line and column."""
    decoder = json.JSONDecoder()
    i = _skip(text, 0)
    if i >= len(text) or text[i] != "[":
        raise CxloopError(f"{path}, line 1: expected a JSON array of objects")
    i = _skip(text, i + 1)
    out = []
    while i < len(text) and text[i] != "]":
        line = text.count("\n", 0, i) + 1
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise CxloopError(
                f"{path}, line {exc.lineno}, column {exc.colno}: bad JSON ({exc.msg})"
            ) from None
        out.append((line, value))
        i = _skip(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip(text, i + 1)
    return out


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _row(path: Path, line: int, record: Any, problems: list[str], timezone: str) -> AssetRow | None:
    def bad(column: str, reason: str) -> None:
        problems.append(f"{path}, line {line}, column {column}: {reason}")

    if not isinstance(record, dict):
        problems.append(f"{path}, line {line}: expected an object, not {type(record).__name__}")
        return None
    if "__width__" in record:
        got, want = record["__width__"]
        problems.append(f"{path}, line {line}: {got} fields, the header has {want}")
        return None
    record = {str(k).strip().lower(): v for k, v in record.items()}
    before = len(problems)
    for key in record:
        if key not in REQUIRED + OPTIONAL:
            bad(key, "unknown column")
    values: dict[str, str | None] = {}
    for key in REQUIRED + OPTIONAL:
        v = record.get(key)
        if v is not None and not isinstance(v, str):
            bad(key, f"must be text, not {type(v).__name__}")
            v = None
        v = v.strip() if isinstance(v, str) else None
        if v and len(v) > MAX_TEXT:
            bad(key, f"longer than {MAX_TEXT} characters")
        values[key] = v or None
    for key in REQUIRED:
        if values[key] is None:
            bad(key, "required value is missing")
    for key, choices in (("type", TYPES), ("value_level", VALUE_LEVELS), ("status", STATUSES)):
        v = values[key]
        if v is not None and v.lower() not in choices:
            bad(key, f"{v!r} is not one of {', '.join(choices)}")
    dates: dict[str, datetime] = {}
    created = None
    for status, column in (("idea", "created_at"), *STATUS_DATES.items()):
        v = values[column]
        if v is None:
            continue
        try:
            moment = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            bad(column, f"{v!r} is not an ISO 8601 date")
            continue
        if moment.tzinfo is None:
            from zoneinfo import ZoneInfo

            moment = moment.replace(tzinfo=ZoneInfo(timezone))
        moment = moment.astimezone(UTC)
        if status == "idea":
            created = moment
        else:
            dates[status] = moment
    status = (values["status"] or "").lower()
    if status in STATUSES:
        for s, column in STATUS_DATES.items():
            if s in dates and status != "retired" and STATUSES.index(s) > STATUSES.index(status):
                bad(column, f"a date for {s}, but the asset's status is {status}")
    if len(problems) > before:
        return None
    return AssetRow(
        line=line,
        content_id=values["content_id"] or "",
        title=values["title"] or "",
        type=(values["type"] or "").lower(),
        persona=values["persona"] or "all",
        moment=values["moment"] or "",
        value_level=(values["value_level"] or "").lower(),
        status=status,
        owner=values["owner"],
        created_at=created,
        status_dates=dates,
    )
