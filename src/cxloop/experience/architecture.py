"""The customer-experience architecture as data: `WS/architecture.toml` (docs/architecture.md).

For each journey *moment* (a touchpoint of the catalogue, or a named group of them) the file
declares who owns it, the systems and data behind it, and the experiences, stories and
services offered to each persona, with the customer outcome each one seeks and the level of
customer value it aims at (functional, personal, catalytic). `cxloop architecture` joins it
with what the data says about each moment (`inventory.py`).

A file that is valid TOML but wrong for us is refused with one line naming the file, the line
and the key (`toml_lines.py` finds the line, since `tomllib` keeps none); an invalid TOML
document with the line and column `tomllib` reports.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxloop.errors import CxloopError
from cxloop.experience.toml_lines import dotted, key_lines, line_of

ARCHITECTURE_FILE = "architecture.toml"
VALUE_LEVELS = ("functional", "personal", "catalytic")
KINDS = ("experience", "story", "service")
ALL_PERSONAS = "all"
MEASURES = ("nps", "csat", "ces", "rating", "success", "repurchase", "referral", "content")
"""What can measure an experience: a feedback metric about the moment's touchpoints, the
success of its events, repurchase or referrals after it, or the content assets it uses."""

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\- ]*$")


class ArchitectureError(CxloopError):
    """The architecture file is malformed; the message names file, line and key."""


@dataclass(frozen=True)
class Experience:
    """An experience, story or service offered at a moment to a persona."""

    name: str
    kind: str
    persona: str
    outcome: str
    value_level: str
    owner: str | None
    measured_by: tuple[str, ...]
    content: tuple[str, ...]
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "persona": self.persona,
            "outcome": self.outcome,
            "value_level": self.value_level,
            "owner": self.owner,
            "measured_by": list(self.measured_by),
            "content": list(self.content),
            "line": self.line,
        }


@dataclass(frozen=True)
class Moment:
    """A journey moment: one touchpoint or a named group of touchpoints."""

    name: str
    label: str
    touchpoints: tuple[str, ...]
    owner: str | None
    systems: tuple[str, ...]
    data: tuple[str, ...]
    experiences: tuple[Experience, ...]
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "touchpoints": list(self.touchpoints),
            "owner": self.owner,
            "systems": list(self.systems),
            "data": list(self.data),
            "experiences": [e.to_dict() for e in self.experiences],
            "line": self.line,
        }


@dataclass(frozen=True)
class Architecture:
    """The parsed file: its moments in the order written."""

    path: Path
    moments: tuple[Moment, ...] = field(default_factory=tuple)

    def moment_of(self, touchpoint: str) -> list[Moment]:
        """The moments a touchpoint belongs to."""
        return [m for m in self.moments if touchpoint in m.touchpoints]

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "moments": [m.to_dict() for m in self.moments]}


class _Checker:
    """Reads values out of the parsed document and raises with file, line and key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = key_lines(text)

    def fail(self, key: tuple[str | int, ...], reason: str) -> ArchitectureError:
        line = line_of(self.lines, key)
        where = f"line {line}, " if line is not None else ""
        return ArchitectureError(f"{self.path}: {where}key {dotted(key)}: {reason}")

    def line(self, key: tuple[str | int, ...]) -> int:
        return line_of(self.lines, key) or 0

    def table(self, value: Any, key: tuple[str | int, ...], allowed: Iterable[str]) -> None:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_type(value)}")
        allowed = tuple(allowed)
        for k in value:
            if k not in allowed:
                raise self.fail((*key, k), f"unknown key (expected one of {', '.join(allowed)})")

    def text(
        self, table: dict[str, Any], key: tuple[str | int, ...], *, required: bool = False
    ) -> str | None:
        name = key[-1]
        assert isinstance(name, str)
        if name not in table:
            if required:
                raise self.fail(key, "required key is missing")
            return None
        value = table[name]
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_type(value)}")
        value = value.strip()
        if required and not value:
            raise self.fail(key, "must not be empty")
        return value or None

    def strings(self, table: dict[str, Any], key: tuple[str | int, ...]) -> tuple[str, ...]:
        name = key[-1]
        assert isinstance(name, str)
        value = table.get(name, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of strings, not {_type(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail((*key, i), "must be a non-empty string")
            out.append(item.strip())
        return tuple(out)

    def choice(
        self,
        table: dict[str, Any],
        key: tuple[str | int, ...],
        choices: tuple[str, ...],
        default: str | None = None,
    ) -> str:
        value = self.text(table, key, required=default is None)
        if value is None:
            assert default is not None
            return default
        if value.lower() not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value.lower()


def _type(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_architecture(
    text: str, path: Path, *, touchpoints: Iterable[str] | None = None
) -> Architecture:
    """Parse and validate an architecture document.

    `touchpoints`: the known touchpoints (catalogue and events); when given and not empty, a
    moment naming another touchpoint is an error (a typo would otherwise measure nothing).
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        where = f"line {m.group(1)}, column {m.group(2)}: " if m else ""
        reason = _TOML_POSITION.sub("", message).strip()
        raise ArchitectureError(f"{path}: {where}invalid TOML: {reason}") from None
    c = _Checker(path, text)
    c.table(doc, (), ("version", "moments"))
    version = doc.get("version", 1)
    if version != 1:
        raise c.fail(("version",), f"unsupported version {version!r} (this cxloop reads 1)")
    raw_moments = doc.get("moments", [])
    if not isinstance(raw_moments, list):
        raise c.fail(("moments",), "must be an array of tables: write each as [[moments]]")
    known = {t for t in touchpoints or ()}
    moments: list[Moment] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_moments):
        key: tuple[str | int, ...] = ("moments", i)
        c.table(
            raw,
            key,
            ("name", "label", "touchpoints", "owner", "systems", "data", "experiences"),
        )
        name = c.text(raw, (*key, "name"), required=True)
        assert name is not None
        if not _NAME.match(name):
            raise c.fail((*key, "name"), "use letters, digits, spaces, '_' or '-'")
        if name in names:
            raise c.fail((*key, "name"), f"moment {name!r} is declared twice")
        names.add(name)
        tps = c.strings(raw, (*key, "touchpoints"))
        if not tps:
            raise c.fail((*key, "touchpoints"), "name at least one touchpoint of the catalogue")
        for j, tp in enumerate(tps):
            if known and tp not in known:
                raise c.fail(
                    (*key, "touchpoints", j),
                    f"touchpoint {tp!r} is not in the catalogue or the events "
                    f"(known: {', '.join(sorted(known))})",
                )
        experiences = _experiences(c, raw, key)
        moments.append(
            Moment(
                name=name,
                label=c.text(raw, (*key, "label")) or name,
                touchpoints=tps,
                owner=c.text(raw, (*key, "owner")),
                systems=c.strings(raw, (*key, "systems")),
                data=c.strings(raw, (*key, "data")),
                experiences=experiences,
                line=c.line(key),
            )
        )
    return Architecture(path=path, moments=tuple(moments))


def _experiences(
    c: _Checker, raw: dict[str, Any], key: tuple[str | int, ...]
) -> tuple[Experience, ...]:
    items = raw.get("experiences", [])
    if not isinstance(items, list):
        raise c.fail((*key, "experiences"), "must be an array of tables: [[moments.experiences]]")
    out = []
    for j, item in enumerate(items):
        ek: tuple[str | int, ...] = (*key, "experiences", j)
        c.table(
            item,
            ek,
            ("name", "kind", "persona", "outcome", "value_level", "owner", "measured_by",
             "content"),
        )  # fmt: skip
        name = c.text(item, (*ek, "name"), required=True)
        assert name is not None
        measured = c.strings(item, (*ek, "measured_by"))
        for m, measure in enumerate(measured):
            if measure.lower() not in MEASURES:
                raise c.fail(
                    (*ek, "measured_by", m),
                    f"{measure!r} is not one of {', '.join(MEASURES)}",
                )
        out.append(
            Experience(
                name=name,
                kind=c.choice(item, (*ek, "kind"), KINDS, "experience"),
                persona=c.text(item, (*ek, "persona")) or ALL_PERSONAS,
                outcome=c.text(item, (*ek, "outcome"), required=True) or "",
                value_level=c.choice(item, (*ek, "value_level"), VALUE_LEVELS),
                owner=c.text(item, (*ek, "owner")),
                measured_by=tuple(m.lower() for m in measured),
                content=c.strings(item, (*ek, "content")),
                line=c.line(ek),
            )
        )
    return tuple(out)


def load_architecture(
    workspace: Path, *, touchpoints: Iterable[str] | None = None
) -> Architecture | None:
    """`WS/architecture.toml` parsed and validated, or None when the workspace has none."""
    path = Path(workspace) / ARCHITECTURE_FILE
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ArchitectureError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ArchitectureError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_architecture(text, path, touchpoints=touchpoints)
