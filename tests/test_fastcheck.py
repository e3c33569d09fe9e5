"""The fast check (`cxloop.contract.fastcheck.surely_valid`) against the real SQL validation.

The fast check is only allowed to be cautious: a record it calls surely valid must load
without a reject. The parity test loads thousands of mixed records (valid ones, and every
kind of wrong, odd and borderline value) through `Workspace.ingest` as JSON Lines and checks
that subset relation. The coverage test checks the other direction on realistic data: the
generator's records are nearly all judged surely valid, so the API's fast path is used.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cxloop
from cxloop.contract.fastcheck import surely_valid
from cxloop.contract.schema import (
    EVENTS,
    FEEDBACK,
    KINDS,
    ORDERS,
    Column,
    ColumnType,
    Kind,
)
from cxloop.errors import InputFileError
from cxloop.generate import generate

_files = itertools.count()


def _sql_valid(
    ws: cxloop.Workspace, folder: Path, kind: Kind, records: list[Any], *, ascii_only: bool
) -> list[bool]:
    """Per record: does it load without a reject, as one line of a JSON Lines file?"""
    path = folder / f"batch{next(_files)}.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in records)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        report = ws.ingest([path], kind=kind.name).files[0]
    except InputFileError:
        return [False] * len(records)
    rejected = {
        line
        for (line,) in ws.engine.fetchall(
            "SELECT line FROM ingest_rejects WHERE path = ?", [str(path)]
        )
    }
    assert report.rejected == len(rejected)
    return [i + 1 not in rejected for i in range(len(records))]


# -- generated records: valid-looking values mixed with wrong and odd ones ---------------------

_SPACES = ["", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u200b", "\ufeff", "\x0b", "\x85"]
_WORDS = ["web", "App", "shop", "c1", "x@example.com", "Ünïcode", "東京", "😀", "a b", "NW-1"]
_ODD = [
    None, True, False, 0, 1, -1, 2, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, 1.5, 0.1,
    1e-5, 1e16, -0.0, 5.0, math.nan, math.inf, -math.inf, [], [1, "a"], {}, {"a": 1},
    "", " ", "\u00a0", "\x00", "\ud800", "null", "NaN", "{}", '{"a": 1}',
]  # fmt: skip
_TIMES_ODD = [
    "yesterday", "now", "epoch", "infinity", "-infinity", "20240501", "2024-5-1",
    "2024-02-30", "2023-02-29", "2024-05-01 10:00", "2024-05-01T10:00", "2024-05-01Z",
    "2024-05-01T10:00:00z", "2024-05-01T24:00:00", "2024-05-01T23:59:60", " 2024-05-01",
    "2024-05-01 ", "2024-05-01T10:00:00 Z", "2024-05-01 10:00:00 Europe/Paris",
    "2024-05-01T10:00:00+0200", "1714560000", 1714560000, 1714560000.5, "2024-W18-3",
    "２０２４-05-01", "2024-05-01T10:00:00.Z", "0001-01-01", "9999-12-31T23:59:59",
]  # fmt: skip
_BOOLS = [
    True, False, 0, 1, 2, -1, 1.0, "true", "T", "YES", "y", "No", "0", "1", " true",
    "maybe", "ja", "True ", "ｙｅｓ", "on",
]  # fmt: skip
_INT_TEXT = [
    "5", "+5", "-5", "007", "1e3", "1_000", "5.0", " 5", "٣", "9223372036854775807",
    "9223372036854775808", "-0", "99999999999999999999", "0x10",
]  # fmt: skip
_AMOUNT_TEXT = [
    "5.", ".5", "1,5", "-1", "1e3", "12.34567", "12.3456", "99999999999999.9999",
    "100000000000000", " 5", "+5", "٥", "0.0000", "-0", "1_0.5", "00000000000000001.5",
]  # fmt: skip
_NUMBER_TEXT = [
    "1e5", "-0", "abc", "inf", "NaN", "5.", "1_0", ".5", " 5", "-2.5", "1E-3", "0x1p3",
    "12345678901234567890123456789012345",
]  # fmt: skip
_EXTRA_KEYS = [
    "sku", "plan", "Plan", "utm-source", "a.b", "_reject_line", "_Reject_x", "", " ",
    "x y", "ключ", 'a"b', "a\\b", "-x", ".x", "line", "__json_ok", "rowid", "_row",
    "properties ", "attributes", "a" * 65, "EVENT_ID", "Email", "$.a", "a'b",
]  # fmt: skip


def _padded(rnd: random.Random, text: str) -> str:
    return rnd.choice(_SPACES) + text + rnd.choice(_SPACES)


def _date(rnd: random.Random, good: bool) -> str:
    year = rnd.choice([2024, 2023, 2025, 1900, 2200, 1970, 2000, 2100, 1904, 2196])
    month, day = rnd.randint(1, 12), rnd.randint(1, 28)
    if rnd.random() < 0.3:
        day = rnd.choice([29, 30, 31]) if good else rnd.choice([0, 29, 30, 31, 32])
        if good:
            leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
            month = rnd.choice([m for m in range(1, 13) if m != 2 or (leap and day == 29)])
            if day == 31:
                month = rnd.choice([1, 3, 5, 7, 8, 10, 12])
    if not good and rnd.random() < 0.3:
        year = rnd.choice([1899, 2201, 1, 9999, 1800])
    if not good and rnd.random() < 0.2:
        month = rnd.choice([0, 13])
    return f"{year:04d}-{month:02d}-{day:02d}"


def _timestamp(rnd: random.Random, good: bool) -> str:
    """Good: every shape the fast check accepts. Otherwise a near miss in one part."""
    date = _date(rnd, good or rnd.random() < 0.6)
    if rnd.random() < 0.15:
        return date
    clock = [rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)]
    sep = rnd.choice(["T", "T", " "])
    fraction = rnd.choice(["", "", ".5", ".123", ".123456", ".000000"])
    zone = rnd.choice(["", "Z", "Z", "+00:00", "+02:00", "-05:30", "+14:00", "-23:59", "-00:00"])
    if not good:
        part = rnd.randint(0, 3)
        if part == 0:
            clock[rnd.randint(0, 2)] = rnd.choice([24, 60, 61, 99])
        elif part == 1:
            sep = rnd.choice(["t", "_", "  ", "T "])
        elif part == 2:
            fraction = rnd.choice([".", ".1234567", ".123456789", ",5", ".5.5"])
        else:
            zone = rnd.choice(
                ["z", "+0200", "+02", "+24:00", "+25:00", " UTC", "+02:00:00", "+2:00",
                 " Z", " Europe/Paris", "UTC", "+02:60"]
            )  # fmt: skip
    hour, minute, second = clock
    return f"{date}{sep}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"


def _cased(rnd: random.Random, word: str) -> str:
    return rnd.choice([word, word, word.upper(), word.capitalize()])


class _Values:
    """Draws column values; `pool` holds values hypothesis generated for this batch."""

    def __init__(self, rnd: random.Random, pool: dict[str, list[Any]]) -> None:
        self.rnd = rnd
        self.pool = pool

    def odd(self) -> Any:
        rnd = self.rnd
        source = rnd.choice(["odd", "odd", "text", "ints", "floats", "json", "times"])
        if source == "odd":
            return rnd.choice(_ODD)
        if source == "times":
            return rnd.choice(_TIMES_ODD)
        values = self.pool[source]
        return rnd.choice(values) if values else None

    def value(self, column: Column, odd_rate: float, near_rate: float) -> Any:
        """A wrong or odd value (`odd_rate`), a near miss or borderline one (`near_rate`),
        else a good one."""
        rnd = self.rnd
        roll = rnd.random()
        if roll < odd_rate:
            return self.odd()
        good = roll >= odd_rate + near_rate
        if column.name == "score":
            if good:
                return rnd.choice(
                    [rnd.randint(1, 5), str(rnd.randint(1, 5)), float(rnd.randint(1, 5))]
                )
            return rnd.choice(
                [rnd.randint(-1, 12), rnd.randint(0, 24) / 2, str(rnd.randint(0, 11)),
                 rnd.uniform(0, 11), str(rnd.randint(0, 20) / 2), "7 ", "", None]
            )  # fmt: skip
        if column.name == "currency":
            if good:
                return rnd.choice(["USD", "usd", "Eur", "GBP"])
            return rnd.choice(
                ["US", "USDD", "U$D", "€€€", "123", "ＵＳＤ", " eur", "usd\u00a0", "\u200bUSD"]
            )
        if column.choices:
            if good:
                return _cased(rnd, rnd.choice(column.choices))
            if rnd.random() < 0.5:
                return _padded(rnd, rnd.choice(column.choices))
            return rnd.choice(["other", "Buy!", "ınvalid", "posts", "ｂｕｙ", "bü", ""])
        match column.type:
            case ColumnType.STRING:
                if good:
                    if rnd.random() < 0.1:
                        return rnd.randint(-(10**6), 10**6)
                    return rnd.choice([*_WORDS, f"{column.name}-{rnd.randint(1, 99)}"])
                if rnd.random() < 0.5:
                    return _padded(rnd, rnd.choice(_WORDS))
                return rnd.choice([*_SPACES, True, 2.5, 2**63, "\x00", "a\x00", "\ud83d"])
            case ColumnType.TIMESTAMP:
                text = _timestamp(rnd, good)
                return text if good or rnd.random() < 0.8 else _padded(rnd, text)
            case ColumnType.DATE:
                if good:
                    return _date(rnd, True)
                return rnd.choice(
                    [_date(rnd, False), _timestamp(rnd, True), _padded(rnd, _date(rnd, True))]
                )
            case ColumnType.BOOL:
                if good:
                    return rnd.choice(
                        [True, False, 0, 1, "true", "T", "YES", "y", "No", "0", "1", "F"]
                    )
                return rnd.choice(
                    [2, -1, 1.0, 0.0, " true", "maybe", "ja", "True ", "ｙｅｓ", "on"]
                )
            case ColumnType.INTEGER:
                if good:
                    return rnd.choice(
                        [rnd.randint(0, 10**6), str(rnd.randint(0, 999)), 2**63 - 1, "0",
                         str(10**18 - 1), 0]
                    )  # fmt: skip
                return rnd.choice([*_INT_TEXT, 2.5, 4.0, 2**63, -(2**63), -1, str(10**18)])
            case ColumnType.DECIMAL:
                cents = rnd.randint(0, 10**8)
                if good:
                    digits = rnd.randint(0, 4)
                    return rnd.choice(
                        [cents / 100, f"{cents / 100:.2f}", cents, "99999999999999.9999",
                         rnd.randint(0, 10**18 - 1) / 10**digits, 10**14 - 1, 0.5, "0.0001",
                         str(rnd.randint(0, 10**18 - 1) / 10**digits)]
                    )  # fmt: skip
                return rnd.choice(
                    [*_AMOUNT_TEXT, rnd.uniform(0, 1e6), 10**14, -cents / 100, 1e-5, 1e14,
                     rnd.randint(0, 10**16) / 10 ** rnd.randint(5, 8), -0.0]
                )  # fmt: skip
            case ColumnType.NUMBER:
                if good:
                    return rnd.choice(
                        [rnd.randint(0, 3600), rnd.uniform(0, 1e4), str(rnd.randint(0, 99)),
                         f"{rnd.uniform(0, 1e3):.3f}", 5e-324, 1.7976931348623157e308, 0.0]
                    )  # fmt: skip
                return rnd.choice(
                    [*_NUMBER_TEXT, -rnd.uniform(0, 10), rnd.randint(-5, -1), -1e-300]
                )
            case ColumnType.JSON:
                if good:
                    return {"sku": f"NW-{rnd.randint(1, 99999)}", "n": [rnd.randint(0, 9), None]}
                return rnd.choice(self.pool["json"] or [None])
        raise AssertionError(column.type)

    def record(self, kind: Kind) -> dict[Any, Any]:
        """Half the records hold good values with a few near misses; half mix in wrong and
        odd values, renamed keys and odd extra keys."""
        rnd = self.rnd
        clean = rnd.random() < 0.5
        odd_rate, near_rate = (0.0, 0.04) if clean else (0.15, 0.15)
        record: dict[Any, Any] = {}
        for column in kind.columns:
            keep = 0.98 if column.required or column.name in kind.one_of else 0.55
            if rnd.random() > keep:
                continue
            key = column.name
            if not clean and rnd.random() < 0.05:
                key = rnd.choice([key.upper(), key.capitalize(), f" {key}", f"{key} "])
            record[key] = self.value(column, odd_rate, near_rate)
        while rnd.random() < 0.15:
            keys = _EXTRA_KEYS[:5] if clean else _EXTRA_KEYS + self.pool["keys"]
            record[rnd.choice(keys)] = (
                self.odd() if rnd.random() < 0.5 else rnd.choice(["x", 1, 2.5, None, {"a": []}])
            )
        return record


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)
_pools = st.fixed_dictionaries(
    {
        "text": st.lists(st.text(max_size=12), max_size=12),
        "ints": st.lists(st.integers(), max_size=8),
        "floats": st.lists(st.floats(), max_size=8),
        "json": st.lists(_json_values, max_size=8),
        "keys": st.lists(st.text(max_size=6), max_size=4),
    }
)

_BATCH = 200


@pytest.mark.parametrize("kind_name", list(KINDS))
def test_surely_valid_records_pass_the_sql_validation(kind_name, tmp_path):
    kind = KINDS[kind_name]
    counts: Counter[str] = Counter()
    with cxloop.Workspace.init(tmp_path / "ws") as ws:

        @settings(
            max_examples=20,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(pool=_pools, seed=st.integers(0, 2**32), ascii_only=st.booleans())
        def check(pool: dict[str, list[Any]], seed: int, ascii_only: bool) -> None:
            # Hypothesis draws the odd values and the seed; a seeded Random draws the 200
            # records from them (one hypothesis draw per value would be far too slow).
            values = _Values(random.Random(seed), pool)
            records = [values.record(kind) for _ in range(_BATCH)]
            fast = [surely_valid(kind, r) for r in records]
            valid = _sql_valid(ws, tmp_path, kind, records, ascii_only=ascii_only)
            wrong = [r for r, f, v in zip(records, fast, valid, strict=True) if f and not v]
            assert not wrong, f"surely valid but rejected: {wrong[:5]}"
            counts["records"] += len(records)
            counts["surely"] += sum(fast)
            counts["valid"] += sum(valid)

        check()
    # The mix must exercise both verdicts, or the parity above proves little.
    assert counts["surely"] >= counts["records"] * 0.05, counts
    assert counts["valid"] - counts["surely"] >= counts["records"] * 0.05, counts


# -- realistic records: the fast path is really used -----------------------------------------


def _client_records(folder: Path, kind: Kind) -> list[dict[str, Any]]:
    """The generator's CSV rows as a client would send them as JSON: numbers as numbers,
    booleans as booleans, JSON columns as objects, empty cells left out."""
    out: list[dict[str, Any]] = []
    with (folder / f"{kind.name}.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            record: dict[str, Any] = {}
            for name, text in row.items():
                if text == "":
                    continue
                column_type = kind.column(name).type
                if column_type in (ColumnType.INTEGER, ColumnType.NUMBER, ColumnType.DECIMAL):
                    number = float(text)
                    record[name] = int(text) if text.lstrip("-").isdigit() else number
                elif column_type is ColumnType.BOOL:
                    record[name] = {"true": True, "false": False}[text]
                elif column_type is ColumnType.JSON:
                    record[name] = json.loads(text)
                else:
                    record[name] = text
            out.append(record)
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fastcheck-data")
    generate(folder, people=300, seed=1, dirty_rate=0)
    return folder


@pytest.mark.parametrize("kind_name", list(KINDS))
def test_realistic_records_are_surely_valid_and_load(kind_name, generated, tmp_path):
    kind = KINDS[kind_name]
    records = _client_records(generated, kind)
    assert records
    surely = [r for r in records if surely_valid(kind, r)]
    assert len(surely) >= 0.98 * len(records), (
        f"{len(surely)}/{len(records)} surely valid; first not: "
        f"{next(r for r in records if not surely_valid(kind, r))}"
    )
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        assert all(_sql_valid(ws, tmp_path, kind, surely, ascii_only=True))
        assert all(_sql_valid(ws, tmp_path, kind, surely, ascii_only=False))


# -- single values -----------------------------------------------------------------------


def _event(**values: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "E1",
        "customer_id": "C1",
        "occurred_at": "2024-05-01T10:00:00Z",
        "touchpoint": "checkout",
    }
    record.update(values)
    return {k: v for k, v in record.items() if v is not _ABSENT}


def _order(**values: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "order_id": "O1",
        "email": "a@example.com",
        "ordered_at": "2024-05-01T10:00:00Z",
        "amount": "19.99",
    }
    record.update(values)
    return {k: v for k, v in record.items() if v is not _ABSENT}


def _feedback(**values: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "response_id": "R1",
        "submitted_at": "2024-05-01",
        "metric": "nps",
        "score": 9,
    }
    record.update(values)
    return {k: v for k, v in record.items() if v is not _ABSENT}


_ABSENT = object()
_SURE: list[tuple[Kind, Callable[..., dict[str, Any]], dict[str, Any]]] = [
    (EVENTS, _event, {}),
    (EVENTS, _event, {"occurred_at": "2024-05-01"}),
    (EVENTS, _event, {"occurred_at": "2024-05-01 10:00:00"}),
    (EVENTS, _event, {"occurred_at": "2024-05-01T10:00:00.123456+02:00"}),
    (EVENTS, _event, {"occurred_at": "2024-02-29T23:59:59-14:00"}),
    (EVENTS, _event, {"occurred_at": "1900-01-01T00:00:00+14:00"}),
    (EVENTS, _event, {"customer_id": _ABSENT, "anonymous_id": "anon-1"}),
    (EVENTS, _event, {"customer_id": None, "email": "a@example.com"}),
    (EVENTS, _event, {"customer_id": 42}),
    (EVENTS, _event, {"touchpoint": " Checkout\u00a0", "stage": "BUY"}),
    (EVENTS, _event, {"stage": "", "channel": None, "duration_s": "  "}),
    (EVENTS, _event, {"duration_s": 1.5e-7, "success": "Yes"}),
    (EVENTS, _event, {"success": 0, "properties": {"a": [1, None, {"b": 2.5}]}}),
    (EVENTS, _event, {"sku": "NW-1", "utm-source": 3, "a.b": None}),
    (EVENTS, _event, {"email": "\U0001f600 東京"}),
    (ORDERS, _order, {"amount": 12.5, "items": 3, "currency": "eur"}),
    (ORDERS, _order, {"amount": 0, "items": "0", "status": "Returned"}),
    (ORDERS, _order, {"amount": 99999999999999.98}),
    (ORDERS, _order, {"amount": "99999999999999.9999"}),
    (FEEDBACK, _feedback, {"metric": "comment", "score": _ABSENT}),
    (FEEDBACK, _feedback, {"metric": "comment", "score": 99}),
    (FEEDBACK, _feedback, {"metric": "rating", "score": 4.5}),
    (FEEDBACK, _feedback, {"metric": "CES", "score": "7"}),
    (FEEDBACK, _feedback, {"metric": "nps", "score": 10.0}),
]
_NOT_SURE: list[tuple[Kind, Callable[..., dict[str, Any]], dict[str, Any]]] = [
    (EVENTS, _event, {"occurred_at": "2024-02-30"}),
    (EVENTS, _event, {"occurred_at": "2023-02-29T10:00:00Z"}),
    (EVENTS, _event, {"occurred_at": "2024-05-01 10:00"}),  # DuckDB reads it; not sure here
    (EVENTS, _event, {"occurred_at": "2024-05-01T10:00:00z"}),  # DuckDB refuses 'z'
    (EVENTS, _event, {"occurred_at": "2024-05-01T23:59:60Z"}),
    (EVENTS, _event, {"occurred_at": "2024-05-01T10:00:00.1234567Z"}),
    (EVENTS, _event, {"occurred_at": "2024-05-01T10:00:00+0200"}),
    (EVENTS, _event, {"occurred_at": "1899-12-31"}),
    (EVENTS, _event, {"occurred_at": "yesterday"}),
    (EVENTS, _event, {"occurred_at": "epoch"}),
    (EVENTS, _event, {"occurred_at": 1714560000}),
    (EVENTS, _event, {"occurred_at": " 2024-05-01"}),
    (EVENTS, _event, {"occurred_at": "２０２４-05-01"}),
    (EVENTS, _event, {"occurred_at": None}),
    (EVENTS, _event, {"occurred_at": _ABSENT}),
    (EVENTS, _event, {"event_id": "  "}),
    (EVENTS, _event, {"event_id": "\u200b"}),
    (EVENTS, _event, {"customer_id": _ABSENT}),
    (EVENTS, _event, {"customer_id": "", "email": None}),
    (EVENTS, _event, {"customer_id": True}),
    (EVENTS, _event, {"customer_id": 2**63}),
    (EVENTS, _event, {"customer_id": 1.5}),
    (EVENTS, _event, {"email": "\ud800"}),  # a lone surrogate: the line is not JSON to DuckDB
    (EVENTS, _event, {"email": "x" * 10_001}),
    (EVENTS, _event, {"stage": "sell"}),
    (EVENTS, _event, {"stage": "ｂｕｙ"}),
    (EVENTS, _event, {"duration_s": -1}),
    (EVENTS, _event, {"duration_s": math.nan}),
    (EVENTS, _event, {"duration_s": math.inf}),
    (EVENTS, _event, {"duration_s": "1e3"}),
    (EVENTS, _event, {"duration_s": True}),
    (EVENTS, _event, {"success": 2}),
    (EVENTS, _event, {"success": 1.0}),
    (EVENTS, _event, {"success": "maybe"}),
    (EVENTS, _event, {"properties": [1]}),
    (EVENTS, _event, {"properties": '{"a": 1}'}),
    (EVENTS, _event, {"properties": {"a": math.nan}}),
    (EVENTS, _event, {"properties": {"a": 2**64}}),
    (EVENTS, _event, {"properties": {1: "a"}}),
    (EVENTS, _event, {"Event_ID": "E2"}),
    (EVENTS, _event, {"event_id ": "E2"}),
    (EVENTS, _event, {"Properties": {}}),
    (EVENTS, _event, {"_reject_line": 3}),
    (EVENTS, _event, {"x y": 1}),
    (EVENTS, _event, {'a"b': 1}),
    (EVENTS, _event, {f"k{i}": i for i in range(40)}),
    (ORDERS, _order, {"referral": "x"}),  # orders keep no extras: an unknown key is ignored
    (ORDERS, _order, {"amount": "12.34567"}),
    (ORDERS, _order, {"amount": 1e-05}),
    (ORDERS, _order, {"amount": 1e16}),
    (ORDERS, _order, {"amount": -1}),
    (ORDERS, _order, {"amount": "-0"}),
    (ORDERS, _order, {"amount": "1,5"}),
    (ORDERS, _order, {"amount": "5."}),
    (ORDERS, _order, {"amount": 100_000_000_000_000}),
    (ORDERS, _order, {"amount": True}),
    (ORDERS, _order, {"items": 2.0}),
    (ORDERS, _order, {"items": -1}),
    (ORDERS, _order, {"items": "1_000"}),
    (ORDERS, _order, {"items": "٣"}),
    (ORDERS, _order, {"items": 2**63}),
    (ORDERS, _order, {"currency": "US"}),
    (ORDERS, _order, {"currency": 840}),
    (ORDERS, _order, {"status": "lost"}),
    (FEEDBACK, _feedback, {"score": _ABSENT}),
    (FEEDBACK, _feedback, {"score": 11}),
    (FEEDBACK, _feedback, {"score": 8.5}),
    (FEEDBACK, _feedback, {"metric": "ces", "score": 0}),
    (FEEDBACK, _feedback, {"metric": "rating", "score": 5.5}),
    (FEEDBACK, _feedback, {"metric": "stars"}),
    (FEEDBACK, _feedback, {"metric": 1}),
    (FEEDBACK, _feedback, {"extra": 1}),
]


@pytest.mark.parametrize(("kind", "make", "values"), _SURE)
def test_surely_valid_values(kind, make, values):
    assert surely_valid(kind, make(**values))


@pytest.mark.parametrize(("kind", "make", "values"), _NOT_SURE)
def test_not_sure_values(kind, make, values):
    assert not surely_valid(kind, make(**values))


def test_not_a_record():
    for value in (None, [], "{}", 1, [_event()]):
        assert not surely_valid(EVENTS, value)


def test_unit_cases_agree_with_sql(tmp_path):
    """The hand-picked cases meet the SQL: every surely valid one loads without a reject."""
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        for kind in (EVENTS, ORDERS, FEEDBACK):
            records = [make(**values) for k, make, values in _SURE if k is kind]
            assert all(_sql_valid(ws, tmp_path, kind, records, ascii_only=True))


def test_blank_is_what_the_sql_trims_away():
    """The fast check's idea of blank (`_SQL_SPACE`) is exactly the SQL's trimming."""
    import duckdb

    from cxloop.contract.fastcheck import _SQL_SPACE
    from cxloop.contract.validation import _trimmed

    points = [c for c in range(0x3100) if not 0xD800 <= c <= 0xDFFF] + [0xFEFF, 0xFFFF]
    texts = [chr(c) * 2 for c in points]
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT t, {_trimmed('t')} IS NULL FROM (SELECT unnest(?) AS t)", [texts]
    ).fetchall()
    sql_blank = {t[0] for t, blank in rows if blank}
    assert sql_blank == set(_SQL_SPACE)
