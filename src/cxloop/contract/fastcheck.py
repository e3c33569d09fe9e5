"""A fast, conservative pre-check of one record: is it *surely* valid?

The authoritative validation is SQL (`cxloop.contract.validation.RowValidator` over a file
staged by the engine). It costs tens of milliseconds per file, mostly query planning, which
is too slow to answer an API request that carries a single record. The API therefore accepts
a request at once (journals it, loads it moments later through the normal loader) only when
`surely_valid` says every record will pass that validation; anything else takes the slow,
synchronous path that returns the authoritative reasons.

The check is conservative by design. It may answer False for a valid record (it merely goes
the slow way), but it must never answer True for a record the SQL validation would reject:
a record accepted on the fast path is promised to the client. So it accepts only plain,
common shapes it can judge exactly (`2024-05-01T10:00:00Z`, not `epoch` or
`2024-5-1`, though DuckDB reads both) and says "not sure" to everything else. It does not
replace the SQL validation, which stays the single source of truth; `tests/test_fastcheck.py`
loads thousands of generated records through the real loader to guard that every record
judged surely valid is loaded without a reject.

What a True verdict covers: the record written as one JSON Lines row (`json.dumps`, or any
exact JSON text of the same value, as the API keeps it) in a file of the kind, alone or with
other surely valid records, passes the header check (`map_header`) and the row validation
with no reason, under any workspace time zone and currency. The line stays far below the
reader's line limit through bounds on the values' sizes; whitespace a client puts between
tokens is not seen here, so a caller that journals the client's own text bounds its length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from cxloop.contract.files import REJECT_PREFIX
from cxloop.contract.schema import INTEGER_METRICS, METRIC_RANGES, Column, ColumnType, Kind
from cxloop.contract.validation import _FALSE, _TRUE

__all__ = ["surely_valid"]

# A value's check: True = present and valid, None = blank (as good as absent: SQL reads JSON
# null, "" and whitespace as NULL), False = not surely valid.
_Check = Callable[[object], bool | None]

# Exactly the characters the SQL trims from both ends of every value (`_trimmed` in
# validation.py: RE2's \s is [\t\n\f\r ], then no-break space, BOM, U+2000-U+200B, U+3000).
_SQL_SPACE = "\t\n\f\r \u00a0\ufeff" + "".join(chr(c) for c in range(0x2000, 0x200C)) + "\u3000"

_BIGINT_MAX = 2**63 - 1
# Limits that keep the JSON Lines row far below the reader's 10,000,000-byte line limit even
# when every character is written as a 12-byte escaped surrogate pair: at most 32 keys, each
# value a string of at most 10,000 characters or a JSON value of at most 20,000 units.
_MAX_KEYS = 32
_MAX_TEXT = 10_000
_MAX_JSON_UNITS = 20_000
_MAX_JSON_DEPTH = 32
_YEARS = (1900, 2200)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# The boolean words the SQL accepts, compared lower-cased.
_BOOL_WORDS = frozenset((*_TRUE, *_FALSE))


def surely_valid(kind: Kind, record: object) -> bool:
    """True only when `record` surely loads as a row of `kind` without a reject.

    `record` is a parsed JSON value (a dict for a record). False means "not sure": the record
    may well be valid, but only the SQL validation can tell. See the module docstring.
    """
    entry = _CHECKERS.get(id(kind))
    if entry is None or entry[0] is not kind:
        entry = (kind, _build(kind))
        _CHECKERS[id(kind)] = entry
    return entry[1](record)


# id(kind) -> (kind, checker); the kind is kept so its id cannot be reused by another object.
_CHECKERS: dict[int, tuple[Kind, Callable[[object], bool]]] = {}


def _build(kind: Kind) -> Callable[[object], bool]:
    """The checker of one kind, with a check per column prepared from the contract."""
    checks: dict[str, _Check] = {c.name: _column_check(c) for c in kind.columns}
    required = frozenset(kind.required)
    one_of = tuple(kind.one_of)
    has_extras = kind.extras_column is not None
    # Keys the header mapping would read as a contract column (case and surrounding space
    # do not matter there) or an alias: only the exact lower-case names are taken as such.
    taken = frozenset(c.lower() for c in (*kind.column_names, *kind.aliases))
    scores = _scores_ok if kind.name == "feedback" else None

    def check(record: object) -> bool:
        if type(record) is not dict or len(record) > _MAX_KEYS:
            return False
        for key, value in record.items():
            column_check = checks.get(key)
            if column_check is None:
                if not (has_extras and _extra_key_ok(key, taken) and _json_units(value, 0) >= 0):
                    return False
            elif column_check(value) is False:
                return False
        if not required.issubset(record):
            return False
        if one_of:
            for name in one_of:
                value = record.get(name)
                if value is not None and checks[name](value) is True:
                    break
            else:
                return False
        return scores is None or scores(record)

    return check


def _column_check(column: Column) -> _Check:
    """The check of one column's value, by type; required columns refuse blanks."""
    if column.choices and column.type is not ColumnType.STRING:
        return _never  # not in contract version 1; refuse rather than guess
    match column.type:
        case ColumnType.STRING:
            # The commonest check, written out with the required rule built in.
            return _string_check(column)
        case ColumnType.TIMESTAMP:
            check = _typed_text(_timestamp_ok)
        case ColumnType.DATE:
            check = _typed_text(_date_ok)
        case ColumnType.BOOL:
            check = _bool_value
        case ColumnType.INTEGER:
            check = _integer_check(column.minimum)
        case ColumnType.DECIMAL:
            check = _decimal_check(column.minimum)
        case ColumnType.NUMBER:
            check = _number_check(column.minimum)
        case ColumnType.JSON:
            check = _json_object
        case _:  # a type this check does not know: never sure
            return _never
    if column.required:
        return _required(check)
    return check


def _never(value: object) -> bool:
    return False


def _required(check: _Check) -> _Check:
    def required(value: object) -> bool:
        return check(value) is True  # blank or absent is "is required"

    return required


# -- text ----------------------------------------------------------------------------------


def _text_ok(text: str) -> bool:
    """Short enough, and encodable: DuckDB reads a line holding a lone surrogate
    (`"\\ud800"`) as malformed JSON ("line: not a JSON object")."""
    if len(text) > _MAX_TEXT:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _blank(text: str) -> bool:
    return not text.strip(_SQL_SPACE)


def _string_check(column: Column) -> _Check:
    choices = frozenset(column.choices)
    currency = column.name == "currency"
    # A blank value is as good as absent, except for a required column ("is required").
    blank = False if column.required else None

    def string(value: object) -> bool | None:
        if type(value) is str:
            if value.isascii():
                if len(value) > _MAX_TEXT:
                    return False
            elif not _text_ok(value):
                return False
            text = value.strip(_SQL_SPACE)
            if not text:
                return blank
            if currency:
                # SQL: regexp_full_match(text, '[A-Za-z]{3}') on the trimmed text.
                return len(text) == 3 and text.isascii() and text.isalpha()
            if choices:
                # SQL compares lower(text); ASCII only, so both lower() agree.
                return text.isascii() and text.lower() in choices
            return True
        if type(value) is int:
            # Written as digits, read back as the same digits; never a choice or a currency.
            return not (choices or currency) and -_BIGINT_MAX <= value <= _BIGINT_MAX
        return blank if value is None else False

    return string


def _typed_text(parse: Callable[[str], bool]) -> _Check:
    """A timestamp or date: a string in one strict shape, nothing around it."""

    def typed(value: object) -> bool | None:
        if type(value) is str:
            if parse(value):
                return True
            return None if _blank(value) else False
        return None if value is None else False

    return typed


# 'YYYY-MM-DD' -> valid calendar date in the accepted years; filled as dates are seen.
_DATES: dict[str, bool] = {}


def _date_ok(text: str) -> bool:
    """`YYYY-MM-DD`, a real calendar date, years 1900-2200 (DuckDB reads far more)."""
    known = _DATES.get(text)
    if known is not None:
        return known
    ok = (
        len(text) == 10
        and text.isascii()
        and text[4] == "-"
        and text[7] == "-"
        and text[:4].isdigit()
        and text[5:7].isdigit()
        and text[8:].isdigit()
    )
    if ok:
        year, month, day = int(text[:4]), int(text[5:7]), int(text[8:])
        ok = _YEARS[0] <= year <= _YEARS[1] and 1 <= month <= 12 and day >= 1
        if ok:
            leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
            ok = day <= _MONTH_DAYS[month - 1] + leap
    if len(_DATES) < 100_000:
        _DATES[text] = ok
    return ok


# The shapes of `_timestamp_ok`: the date (checked against the calendar apart), then
# optionally the time of day, a fraction of 1-6 digits and a zone.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?"
)


def _timestamp_ok(text: str) -> bool:
    """`YYYY-MM-DD`, or that and `THH:MM:SS` (or a space for the T), optionally `.` and 1-6
    digits, optionally `Z` or `+HH:MM`/`-HH:MM`. A real date and time (no second 60, no hour
    24), years 1900-2200.

    Every shape here was checked against DuckDB's TIMESTAMPTZ cast. It also reads many
    others (`2024-5-1`, `10:00` without seconds, `+0200`, time zone names, `epoch`,
    `infinity`, hour 24) that this check leaves to the SQL; a lower-case `z` it refuses.
    """
    return _TIMESTAMP.fullmatch(text) is not None and _date_ok(text[:10])


# -- booleans and numbers ----------------------------------------------------------------


def _bool_value(value: object) -> bool | None:
    """JSON true/false, 0/1 (read as "0"/"1"), or one of the accepted words."""
    if type(value) is bool:
        return True
    if type(value) is int:
        return value in (0, 1)
    if type(value) is str:
        if value.isascii() and value.lower() in _BOOL_WORDS:
            return True
        return None if _blank(value) else False
    return None if value is None else False


def _digits(text: str, most: int) -> bool:
    """1 to `most` ASCII digits (str.isdigit alone accepts other scripts' digits)."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def _integer_check(minimum: float | None) -> _Check:
    def integer(value: object) -> bool | None:
        if type(value) is int:
            number = value
        elif type(value) is str:
            # SQL: '[+-]?[0-9]+' then BIGINT; here unsigned or '-', at most 18 digits.
            digits = value[1:] if value[:1] == "-" else value
            if not _digits(digits, 18):
                return None if _blank(value) else False
            number = int(value)
        else:
            return None if value is None else False
        return -_BIGINT_MAX <= number <= _BIGINT_MAX and (minimum is None or number >= minimum)

    return integer


def _amount_text(text: str) -> bool:
    """Unsigned amount text: 1-14 digits, optionally '.' and 1-4 digits (within the SQL's
    `[+-]?([0-9]{1,14}([.][0-9]{0,4})?|[.][0-9]{1,4})`)."""
    whole, dot, fraction = text.partition(".")
    return _digits(whole, 14) and (not dot or _digits(fraction, 4))


def _decimal_check(minimum: float | None) -> _Check:
    """Exact money. Only amounts without a sign (so never below a minimum of 0 or less)."""
    if minimum is not None and minimum > 0:
        return _never  # not in contract version 1

    def decimal(value: object) -> bool | None:
        if type(value) is int:
            return 0 <= value < 10**14
        if type(value) is float:
            # json.dumps writes repr(); DuckDB reads the double back and writes the same
            # shortest text for every amount of this shape (checked for 220,000 values).
            return math.isfinite(value) and _amount_text(repr(value))
        if type(value) is str:
            if _amount_text(value):
                return True
            return None if _blank(value) else False
        return None if value is None else False

    return decimal


def _number_value(value: object) -> float | None:
    """The number a NUMBER column reads, or None when it is not surely a number."""
    if type(value) is int:
        return float(value) if -_BIGINT_MAX <= value <= _BIGINT_MAX else None
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is str:
        # '-?digits(.digits)?'; DuckDB also reads exponents, '_' and '5.' (left to the SQL).
        text = value[1:] if value[:1] == "-" else value
        whole, dot, fraction = text.partition(".")
        if _digits(whole, 30) and (not dot or _digits(fraction, 30)):
            return float(value)
    return None


def _number_check(minimum: float | None) -> _Check:
    def number(value: object) -> bool | None:
        parsed = _number_value(value)
        if parsed is None:
            if value is None or (type(value) is str and _blank(value)):
                return None
            return False
        return minimum is None or parsed >= minimum

    return number


def _scores_ok(record: dict) -> bool:
    """Feedback: a metric with a scale needs a score on it, in whole points for some; a
    comment needs none. The metric is a valid choice here (checked before)."""
    metric = record["metric"].strip(_SQL_SPACE).lower()
    scale = METRIC_RANGES.get(metric)
    if scale is None:
        return True
    score = _number_value(record.get("score"))
    if score is None or not scale[0] <= score <= scale[1]:
        return False
    return metric not in INTEGER_METRICS or score.is_integer()


# -- JSON ---------------------------------------------------------------------------------


def _json_object(value: object) -> bool | None:
    """A JSON column: an object (a list, a number or a string of JSON is left to the SQL)."""
    if type(value) is dict:
        return _json_units(value, 0) >= 0
    return None if value is None else False


def _json_units(value: object, depth: int) -> int:
    """A rough size of a JSON value, or -1 when it is not plainly writable and readable:
    only str keys, no lone surrogates, finite floats (json.dumps would write NaN), integers
    within 64 bits, bounded depth and size."""
    kind = type(value)
    if kind is str:
        if value.isascii():  # type: ignore[attr-defined]
            return len(value) + 2 if len(value) <= _MAX_TEXT else -1  # type: ignore[arg-type]
        return len(value) + 2 if _text_ok(value) else -1  # type: ignore[arg-type]
    if value is None or kind is bool:
        return 5
    if kind is int:
        return 20 if -_BIGINT_MAX <= value <= _BIGINT_MAX else -1  # type: ignore[operator]
    if kind is float:
        return 24 if math.isfinite(value) else -1  # type: ignore[arg-type]
    if depth >= _MAX_JSON_DEPTH:
        return -1
    total = 2
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or not _text_ok(key):
                return -1
            units = _json_units(item, depth + 1)
            if units < 0:
                return -1
            total += len(key) + 3 + units
            if total > _MAX_JSON_UNITS:
                return -1
        return total
    if kind is list:
        for item in value:  # type: ignore[attr-defined]
            units = _json_units(item, depth + 1)
            if units < 0:
                return -1
            total += units + 1
            if total > _MAX_JSON_UNITS:
                return -1
        return total
    return -1


# Extra keys seen, and whether they are plainly extras; bounded.
_EXTRA_KEYS: dict[tuple[str, frozenset[str]], bool] = {}
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _extra_key_ok(key: object, taken: frozenset[str]) -> bool:
    """A key kept under the kind's extras column: plain ASCII name characters (nothing to
    escape in a JSON path), no column or alias in any case, no `_reject_` prefix."""
    if type(key) is not str:
        return False
    cache_key = (key, taken)
    known = _EXTRA_KEYS.get(cache_key)
    if known is not None:
        return known
    lowered = key.lower()
    ok = (
        0 < len(key) <= 64
        and key[0] not in "-."
        and _KEY_CHARS.issuperset(key)
        and lowered not in taken
        and not lowered.startswith(REJECT_PREFIX)
    )
    if len(_EXTRA_KEYS) < 10_000:
        _EXTRA_KEYS[cache_key] = ok
    return ok
