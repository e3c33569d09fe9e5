"""Ingest request bodies: one record, a JSON array or JSON Lines, as exact JSON Lines.

The loader validates text, so each record reaches it as the exact text the client sent (no
re-serialisation: a number like 19.99999999999999999 must be refused as an amount, not
rounded to 20.0 by a float on the way). Arrays are split into their elements' text with the
standard decoder's `raw_decode`. Each record is also parsed, for the fast check; a record
whose parsed value could differ from its text as the engine reads it (a float that does not
round-trip, NaN, a key given twice) marks the body as not exact, and it takes the
validated path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cxloop.errors import CxloopError

JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
_SPACE = " \t\r\n"
MAX_FAST_LINE = 1_000_000  # characters; DuckDB's JSON reader refuses lines over 10 MB


@dataclass
class Body:
    """Records as JSON Lines (one per line), their count, and their parsed values."""

    payload: bytes
    count: int
    # Parsed records when every one was read exactly; None otherwise (validated path).
    records: list[Any] | None


class _Reader:
    """A JSON decoder that notes anything its parsed values would not say exactly."""

    def __init__(self) -> None:
        self.exact = True
        self.decoder = json.JSONDecoder(
            parse_float=self._float,
            parse_constant=self._constant,
            object_pairs_hook=self._object,
        )

    def _float(self, text: str) -> float:
        value = float(text)
        if repr(value) != text:
            self.exact = False
        return value

    def _constant(self, text: str) -> float:
        self.exact = False
        return float(text)

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            self.exact = False
        return result


def read_body(body: bytes, content_type: str) -> Body:
    """Split a request body into records; a body that is no JSON at all is a user error."""
    try:
        text = body.decode("utf-8").strip(_SPACE)
    except UnicodeDecodeError:
        raise CxloopError("the request body is not UTF-8") from None
    if not text:
        return Body(b"", 0, [])
    reader = _Reader()
    lines_type = any(t in content_type.lower() for t in JSON_LINES_TYPES)
    try:
        if not lines_type:
            try:
                return _document(text, reader)
            except ValueError:
                if "\n" not in text:
                    raise CxloopError("the request body is not JSON (nor JSON Lines)") from None
        return _lines(text, reader)
    except RecursionError:
        raise CxloopError("the request body nests JSON too deeply") from None


def _document(text: str, reader: _Reader) -> Body:
    """One JSON document: an array of records, or one record."""
    if not text.startswith("["):
        value, end = reader.decoder.raw_decode(text)
        if text[end:].strip(_SPACE):
            raise ValueError("extra data after the document")
        return _body([_one_line(text)], [value], reader)
    raw: list[str] = []
    values: list[Any] = []
    pos = _skip(text, 1)
    if text[pos : pos + 1] == "]":
        pos = _skip(text, pos + 1)
    else:
        while True:
            value, end = reader.decoder.raw_decode(text, pos)
            raw.append(_one_line(text[pos:end]))
            values.append(value)
            pos = _skip(text, end)
            if text[pos : pos + 1] == ",":
                pos = _skip(text, pos + 1)
                continue
            if text[pos : pos + 1] == "]":
                pos = _skip(text, pos + 1)
                break
            raise ValueError("expected ',' or ']' in the array")
    if pos != len(text):
        raise ValueError("extra data after the array")
    return _body(raw, values, reader)


def _lines(text: str, reader: _Reader) -> Body:
    """JSON Lines: each non-blank line is a record, passed on as it is."""
    raw = [line.strip(_SPACE) for line in text.split("\n")]
    raw = [line for line in raw if line]
    values: list[Any] = []
    for i, line in enumerate(raw):
        try:
            values.append(reader.decoder.decode(line))
        except ValueError:
            reader.exact = False  # the loader rejects that line with its reason
            if "\r" in line:
                # The loader's line reader would take a carriage return for a line break
                # and refuse the whole batch: sent as a JSON string, the line is rejected
                # on its own ("not a JSON object") and its text kept, escaped.
                raw[i] = json.dumps(line)
        else:
            # Valid JSON: a carriage return can only be whitespace between tokens.
            raw[i] = line.replace("\r", " ")
    return _body(raw, values, reader)


def _body(raw: list[str], values: list[Any], reader: _Reader) -> Body:
    payload = "".join(line + "\n" for line in raw).encode("utf-8", "surrogatepass")
    # The fast check sees parsed values, not the text's length: a record padded past the
    # reader's line limit must be judged by the loader.
    exact = reader.exact and all(len(line) <= MAX_FAST_LINE for line in raw)
    return Body(payload, len(raw), values if exact else None)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _one_line(raw: str) -> str:
    # Outside strings a line break is only whitespace; inside a string it cannot appear
    # unescaped in valid JSON. So a pretty-printed record becomes one line, unchanged.
    return raw.replace("\r", " ").replace("\n", " ")
