"""Where a key of a TOML document is written: its line, for error messages.

`tomllib` parses a document into plain dicts and lists, so a value that is well-formed TOML
but wrong for us (an unknown value level, a touchpoint not in the catalogue) has lost its
position. This module walks the text once, as a small recursive-descent reader of valid TOML
(it runs only after `tomllib` accepted the document), and records the line of every key, table
header and array element under its path, e.g. `("moments", 1, "experiences", 0, "value_level")`.
It understands everything TOML allows: comments, basic and literal strings (single and
multi-line, with escapes), dotted and quoted keys, `[table]` and `[[array of tables]]` headers,
multi-line arrays and inline tables, so a `#` or `=` inside a string never misleads it.
"""

from __future__ import annotations

from collections.abc import Sequence

Path = tuple[str | int, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.arrays: dict[Path, int] = {}  # array-of-tables path -> index of its last element

    # -- characters ------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.text[j] if j < len(self.text) else ""

    def advance(self, k: int = 1) -> None:
        for _ in range(k):
            if self.i < len(self.text):
                if self.text[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces, tabs and comments (and newlines when `newlines`)."""
        while self.i < len(self.text):
            c = self.peek()
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.text) and self.peek() != "\n":
                    self.advance()
            else:
                return

    # -- strings and keys --------------------------------------------------------------------
    def string(self) -> str:
        """Read a string of any of the four kinds; return its raw content (escapes kept)."""
        quote = self.peek()
        if self.text.startswith(quote * 3, self.i):
            self.advance(3)
            start = self.i
            while self.i < len(self.text):
                if quote == '"' and self.peek() == "\\":
                    self.advance(2)
                    continue
                if self.text.startswith(quote * 3, self.i):
                    # Up to two quotes may close the content right before the delimiter.
                    while self.peek(3) == quote:
                        self.advance()
                    raw = self.text[start : self.i]
                    self.advance(3)
                    return raw
                self.advance()
            return self.text[start:]
        self.advance()
        start = self.i
        while self.i < len(self.text) and self.peek() != quote:
            if quote == '"' and self.peek() == "\\":
                self.advance()
            self.advance()
        raw = self.text[start : self.i]
        self.advance()
        return raw

    def key(self) -> list[str]:
        """A (possibly dotted, possibly quoted) key."""
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            if self.peek() in "\"'":
                parts.append(self.string())
            else:
                start = self.i
                while self.peek() in _BARE and self.peek():
                    self.advance()
                parts.append(self.text[start : self.i])
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()

    # -- values ------------------------------------------------------------------------------
    def value(self, path: Path) -> None:
        self.skip_blank(newlines=False)
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            while self.peek() and self.peek() not in ",]}\n#":
                self.advance()

    def array(self, path: Path) -> None:
        self.advance()  # [
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() in ("]", ""):
                self.advance()
                return
            self.lines.setdefault((*path, index), self.line)
            self.value((*path, index))
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()
                index += 1

    def inline_table(self, path: Path) -> None:
        self.advance()  # {
        while True:
            self.skip_blank(newlines=True)
            if self.peek() in ("}", ""):
                self.advance()
                return
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()

    def key_value(self, table: Path) -> None:
        line = self.line
        parts = self.key()
        path = (*table, *parts)
        for k in range(len(table) + 1, len(path) + 1):
            self.lines.setdefault(path[:k], line)
        self.skip_blank(newlines=False)
        if self.peek() == "=":
            self.advance()
        self.value(path)

    # -- the document ------------------------------------------------------------------------
    def resolve(self, parts: list[str]) -> Path:
        """A header's dotted key with the current element of each array of tables on it."""
        path: Path = ()
        for part in parts:
            path = (*path, part)
            if path in self.arrays:
                path = (*path, self.arrays[path])
        return path

    def document(self) -> dict[Path, int]:
        table: Path = ()
        while self.i < len(self.text):
            self.skip_blank(newlines=True)
            if not self.peek():
                break
            line = self.line
            if self.text.startswith("[[", self.i):
                self.advance(2)
                parts = self.key()
                self.advance(2)  # ]]
                parent = self.resolve(parts[:-1])
                array = (*parent, parts[-1])
                self.arrays[array] = self.arrays.get(array, -1) + 1
                table = (*array, self.arrays[array])
                self.lines.setdefault(array, line)
                self.lines[table] = line
            elif self.peek() == "[":
                self.advance()
                parts = self.key()
                self.advance()  # ]
                table = (*self.resolve(parts[:-1]), parts[-1])
                self.lines.setdefault(table, line)
            else:
                self.key_value(table)
            self.skip_blank(newlines=False)
        return self.lines


def key_lines(text: str) -> dict[Path, int]:
    """Line (1-based) of every key, table and array element of a valid TOML document."""
    return _Reader(text).document()


def line_of(lines: dict[Path, int], path: Sequence[str | int]) -> int | None:
    """The line of `path`, or of its nearest written ancestor (a missing key's table)."""
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return None


def dotted(path: Sequence[str | int]) -> str:
    """`moments[1].experiences[0].value_level` for ("moments", 1, "experiences", 0, ...)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
