"""Ingest bodies become exact JSON Lines: the loader sees the text the client sent."""

from __future__ import annotations

import pytest

from cxloop.errors import CxloopError
from cxloop.service.bodies import read_body


def lines(body) -> list[str]:
    return body.payload.decode().splitlines()


def test_one_record_an_array_and_json_lines():
    one = read_body(b'{"a": 1}', "application/json")
    assert (one.count, lines(one), one.records) == (1, ['{"a": 1}'], [{"a": 1}])
    array = read_body(b' [ {"a": 1} ,\n {"b": [1, 2]} ] ', "application/json")
    assert lines(array) == ['{"a": 1}', '{"b": [1, 2]}']
    assert array.records == [{"a": 1}, {"b": [1, 2]}]
    jsonl = read_body(b'{"a": 1}\n\n  {"a": 2}\n', "application/x-ndjson")
    assert (jsonl.count, jsonl.records) == (2, [{"a": 1}, {"a": 2}])
    assert read_body(b"[]", "application/json").count == 0
    assert read_body(b"  ", "application/json").count == 0


def test_numbers_reach_the_loader_as_sent():
    body = read_body(b'[{"amount": 19.99999999999999999}, {"amount": 1.50}]', "")
    assert lines(body) == ['{"amount": 19.99999999999999999}', '{"amount": 1.50}']
    assert body.records is None  # not exact as floats: the validated path judges the text


@pytest.mark.parametrize(
    "text",
    [b'{"a": NaN}', b'{"a": 1, "a": 2}', b'{"a": 1}\n{broken', b'{"a": 1e400}'],
)
def test_bodies_the_fast_check_cannot_judge_exactly(text):
    body = read_body(text, "")
    assert body.records is None and body.count >= 1


def test_pretty_printed_records_become_one_line_each():
    body = read_body(b'[\n  {\n    "a": "x y"\n  }\n]', "application/json")
    assert lines(body) == ['{     "a": "x y"   }']


def test_not_json_is_a_clear_error():
    with pytest.raises(CxloopError, match="not JSON"):
        read_body(b"{nope", "application/json")
    with pytest.raises(CxloopError, match="UTF-8"):
        read_body(b'{"a": "\xff"}', "application/json")
    with pytest.raises(CxloopError, match="not JSON"):
        read_body(b"[1, 2", "application/json")


def test_a_very_long_record_is_left_to_the_loader():
    padded = b'{"a": 1' + b" " * 1_000_001 + b"}"
    body = read_body(padded, "application/json")
    assert body.count == 1 and body.records is None


def test_carriage_returns_never_reach_the_line_reader():
    good = b'{"event_id": "E1",\r "customer_id": "C1"}\n'
    body = read_body(good, "application/x-ndjson")
    assert lines(body) == ['{"event_id": "E1",  "customer_id": "C1"}']
    assert body.records == [{"event_id": "E1", "customer_id": "C1"}]
    bad = read_body(b'{"text": "a\rb"}\n{"ok": 1}\n', "application/x-ndjson")
    assert "\r" not in bad.payload.decode() and bad.records is None
    assert lines(bad)[0] == '"{\\"text\\": \\"a\\rb\\"}"'


def test_deep_nesting_is_a_clear_error():
    with pytest.raises(CxloopError, match="deeply"):
        read_body(b"[" * 200_000, "application/json")
