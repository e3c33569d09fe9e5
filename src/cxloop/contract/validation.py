"""Row validation as one SQL projection, so it runs vectorised inside the engine.

For every contract column the projection computes the typed value and, beside it, a reason
when the raw text cannot become that value. A row is good when it has no reason. Nothing here
loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxloop.contract.schema import INTEGER_METRICS, METRIC_RANGES, Column, ColumnType, Kind
from cxloop.sql import ident, literal

TYPE_NAMES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.TIMESTAMP: "TIMESTAMP",
    ColumnType.DATE: "DATE",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.INTEGER: "BIGINT",
    ColumnType.DECIMAL: "DECIMAL(18, 4)",
    ColumnType.NUMBER: "DOUBLE",
    ColumnType.JSON: "JSON",
}

_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")


@dataclass(frozen=True)
class SourceColumns:
    """Where each value of a staged file comes from.

    `columns`: file column name -> SQL expression; `types`: file column name -> engine type;
    `mapping`: contract column -> file column name; `extras`: file columns outside the contract.
    """

    columns: dict[str, str]
    types: dict[str, str]
    mapping: dict[str, str]
    extras: list[str]
    row_sql: str
    line_sql: str
    json_ok_sql: str | None = None
    json_values: dict[str, str] | None = None


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"


def _shown(text_sql: str) -> str:
    """The offending value as it appears in a reason, shortened."""
    return f"'''' || left({text_sql}, 40) || ''''"


def _trimmed(expr: str) -> str:
    """Text without surrounding whitespace (spaces, tabs, line breaks, no-break spaces,
    byte-order marks), NULL when blank.

    Most values start and end with a visible ASCII character and skip the costly regular
    expression entirely.
    """
    text = f"CAST({expr} AS VARCHAR)"
    return (
        f"CASE WHEN {text} = '' THEN NULL "
        f"WHEN ascii({text}) BETWEEN 33 AND 126 AND ascii(right({text}, 1)) BETWEEN 33 AND 126 "
        f"THEN {text} "
        f"ELSE NULLIF(regexp_replace({text}, '{_EDGE_SPACE}', '', 'g'), '') END"
    )


_SPACE = r"[\s\x{00A0}\x{FEFF}\x{2000}-\x{200B}\x{3000}]"
_EDGE_SPACE = f"^{_SPACE}+|{_SPACE}+$"
_INTEGER = r"[+-]?[0-9]+"
# Exact amounts: digits, optionally a '.' and at most 4 decimals (DECIMAL(18, 4)).
_AMOUNT = r"[+-]?([0-9]{1,14}([.][0-9]{0,4})?|[.][0-9]{1,4})"
_CURRENCY = r"[A-Za-z]{3}"


def _reason(column: str, condition: str, message_sql: str) -> str:
    return f"CASE WHEN {condition} THEN {literal(column + ': ')} || {message_sql} END"


class RowValidator:
    """Builds the validating projection for one kind over one staged file."""

    def __init__(
        self, kind: Kind, source: SourceColumns, *, defaults: dict[str, str] | None = None
    ) -> None:
        self.kind = kind
        self.source = source
        # Workspace defaults for columns the contract defaults from configuration.
        self.defaults = defaults or {}

    def _text(self, column: Column) -> str:
        """The raw value as trimmed text (a level-1 column), NULL when absent or blank."""
        if column.name not in self.source.mapping:
            return "CAST(NULL AS VARCHAR)"
        return ident(f"__t_{column.name}")

    def _native(self, column: Column) -> bool:
        """True when the file stores the column with a type of its own (Parquet)."""
        file_col = self.source.mapping.get(column.name)
        return file_col is not None and self.source.types.get(file_col, "VARCHAR") != "VARCHAR"

    def _str(self, column: Column) -> str:
        """The value as text, for string operations and messages.

        For typed files the conversion to text is written here but only evaluated where it is
        needed (inside CASE branches of failing rows), never for every row.
        """
        text = self._text(column)
        return f"CAST({text} AS VARCHAR)" if self._native(column) else text

    def _raw(self, column: Column) -> tuple[str, str]:
        """The value as the file typed it (a level-1 column) and that type."""
        file_col = self.source.mapping.get(column.name)
        if file_col is None:
            return "NULL", "NULL"
        return ident(f"__t_{column.name}"), self.source.types.get(file_col, "VARCHAR")

    def _value(self, column: Column) -> str:
        """The typed value (a level-2 column); for a column the file lacks, its default."""
        if column.name not in self.source.mapping:
            return self.typed(column)
        return ident(f"__v_{column.name}")

    def typed(self, column: Column) -> str:
        """SQL for the column's typed value (NULL when missing or invalid)."""
        text = self._str(column)
        raw, raw_type = self._raw(column)
        target = TYPE_NAMES[column.type]
        native = raw_type.upper() != "VARCHAR"
        match column.type:
            case ColumnType.STRING:
                value = text
                if column.lower:
                    value = f"lower({value})"
                if column.upper:
                    value = f"upper({value})"
            case ColumnType.TIMESTAMP:
                src = raw if native else text
                value = f"CAST(TRY_CAST({src} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"
            case ColumnType.BOOL:
                if native and raw_type.upper() == "BOOLEAN":
                    value = raw
                else:
                    value = (
                        f"CASE WHEN lower({text}) IN {_in_list(_TRUE)} THEN true "
                        f"WHEN lower({text}) IN {_in_list(_FALSE)} THEN false END"
                    )
            case ColumnType.JSON:
                if native and not raw_type.upper().startswith("JSON"):
                    # A typed struct or map is an object; a list or a number is not.
                    value = (
                        f"CASE WHEN json_type(TRY_CAST({raw} AS JSON)) = 'OBJECT' "
                        f"THEN TRY_CAST({raw} AS JSON) END"
                    )
                else:
                    # Trimmed valid JSON starting with '{' is an object: one parse per value.
                    value = f"CASE WHEN left({text}, 1) = '{{' THEN TRY_CAST({text} AS JSON) END"
            case ColumnType.NUMBER:
                value = f"TRY_CAST({raw if native else text} AS DOUBLE)"
                value = f"CASE WHEN isfinite({value}) THEN {value} END"
            case ColumnType.INTEGER if native:
                # A typed 2.7 must not become 3: only whole values convert.
                value = (
                    f"CASE WHEN TRY_CAST({raw} AS DOUBLE) = round(TRY_CAST({raw} AS DOUBLE)) "
                    f"THEN TRY_CAST({raw} AS BIGINT) END"
                )
            case ColumnType.INTEGER:
                value = (
                    f"CASE WHEN regexp_full_match({text}, '{_INTEGER}') "
                    f"THEN TRY_CAST({text} AS BIGINT) END"
                )
            case ColumnType.DECIMAL if native:
                value = (
                    f"CASE WHEN TRY_CAST({raw} AS DOUBLE) = round(TRY_CAST({raw} AS DOUBLE), 4) "
                    f"THEN TRY_CAST({raw} AS {target}) END"
                )
            case ColumnType.DECIMAL:
                # Money is exact: more than 4 decimals is refused, never rounded.
                value = (
                    f"CASE WHEN regexp_full_match({text}, '{_AMOUNT}') "
                    f"THEN TRY_CAST({text} AS {target}) END"
                )
            case _:
                value = f"TRY_CAST({raw if native else text} AS {target})"
        if column.name == "currency":
            value = f"CASE WHEN regexp_full_match({text}, '{_CURRENCY}') THEN {value} END"
        default = self.defaults.get(column.name, column.default)
        if default is not None:
            value = f"coalesce({value}, CAST({literal(default)} AS {target}))"
        return value

    def reasons(self) -> list[str]:
        """SQL expressions, each NULL or a reason `column: why` for the row."""
        out: list[str] = []
        for column in self.kind.columns:
            if column.name not in self.source.mapping:
                continue
            present = self._text(column)
            text = self._str(column)
            value = self._value(column)
            if column.required:
                out.append(_reason(column.name, f"{present} IS NULL", "'is required'"))
            type_msg = {
                ColumnType.TIMESTAMP: "is not an ISO 8601 timestamp",
                ColumnType.DATE: "is not an ISO 8601 date",
                ColumnType.BOOL: "is not a boolean (true/false, 1/0, yes/no)",
                ColumnType.INTEGER: "is not a whole number",
                ColumnType.DECIMAL: "is not an amount: digits, '.' and at most 4 decimals",
                ColumnType.NUMBER: "is not a number with '.' as decimal separator",
                ColumnType.JSON: "is not a JSON object",
            }.get(column.type)
            if type_msg:
                bad = f"{present} IS NOT NULL AND {value} IS NULL"
                out.append(
                    _reason(column.name, bad, f"{_shown(text)} || {literal(' ' + type_msg)}")
                )
            if column.name == "currency":
                out.append(
                    _reason(
                        column.name,
                        f"{present} IS NOT NULL AND NOT regexp_full_match({text}, '{_CURRENCY}')",
                        f"{_shown(text)} || ' is not an ISO 4217 currency code'",
                    )
                )
            if column.choices:
                choices = ", ".join(column.choices)
                out.append(
                    _reason(
                        column.name,
                        f"{present} IS NOT NULL "
                        f"AND lower({text}) NOT IN {_in_list(column.choices)}",
                        f"{_shown(text)} || {literal(' is not one of ' + choices)}",
                    )
                )
            if column.minimum is not None:
                out.append(
                    _reason(
                        column.name,
                        f"{value} < {column.minimum}",
                        f"{_shown(text)} || {literal(f' is below {column.minimum:g}')}",
                    )
                )
        if self.kind.one_of:
            present = [c for c in self.kind.one_of if c in self.source.mapping]
            cond = " AND ".join(f"{self._text(self.kind.column(c))} IS NULL" for c in present)
            out.append(
                _reason(
                    "/".join(self.kind.one_of),
                    cond,
                    literal("a customer reference is required (one of these columns)"),
                )
            )
        if self.kind.name == "feedback":
            out.extend(self._score_reasons())
        return out

    def _score_reasons(self) -> list[str]:
        """Feedback scores must exist (except comments) and lie on their metric's scale."""
        metric = f"lower({self._str(self.kind.column('metric'))})"
        score = self._value(self.kind.column("score"))
        score_text = self._str(self.kind.column("score"))
        out = [
            _reason(
                "score",
                f"{metric} IN {_in_list(tuple(METRIC_RANGES))} AND {score_text} IS NULL",
                "'is required for metric ' || " + metric,
            )
        ]
        for metric_name, (low, high) in METRIC_RANGES.items():
            out.append(
                _reason(
                    "score",
                    f"{metric} = {literal(metric_name)} AND ({score} < {low} OR {score} > {high})",
                    f"{_shown(score_text)} || "
                    f"{literal(f' is outside the {metric_name} scale {low}-{high}')}",
                )
            )
        for metric_name in INTEGER_METRICS:
            out.append(
                _reason(
                    "score",
                    f"{metric} = {literal(metric_name)} AND {score} <> round({score})",
                    f"{_shown(score_text)} || {literal(f' is not a whole {metric_name} point')}",
                )
            )
        return out

    def extras_json(self) -> str | None:
        """Unknown columns as a JSON object, merged over the kind's own JSON column."""
        target = self.kind.extras_column
        if target is None:
            return None
        own = self._value(self.kind.column(target)) if target in self.source.mapping else None
        if not self.source.extras:
            return own
        pairs = ", ".join(
            f"{literal(name.strip().lower())}, {ident(f'__x_{i}')}"
            for i, name in enumerate(self.source.extras)
        )
        extras = f"json_object({pairs})"
        base = f"coalesce({own}, '{{}}'::JSON)" if own else "'{}'::JSON"
        return f"json_merge_patch({base}, {extras})"

    @staticmethod
    def _read_once(level0: list[str], expr: str, name: str) -> str:
        """`expr` as a level-0 column when it is more than a column reference."""
        if expr.startswith('"') and expr.endswith('"') and expr.count('"') == 2:
            return expr
        level0.append(f"{expr} AS {ident(name)}")
        return ident(name)

    def select_sql(self, relation: str) -> str:
        """The validating query over `relation`, in three levels so each value is computed once.

        Level 1 reads the raw values (trimmed text, and the file's own type for typed
        formats); level 2 converts them to the contract's types; level 3 keeps the typed
        columns and adds `_reasons` (empty for a good row), `_hash` (content, for idempotent
        merges) and `_key_hash` (the key, to find repeated keys with one cheap aggregate).
        """
        level1 = [f"{self.source.row_sql} AS _row", f"{self.source.line_sql} AS _line"]
        if self.source.json_ok_sql is not None:
            level1.append(f"{self.source.json_ok_sql} AS __json_ok")
        # Level 0 reads each value once: a JSON value is an expression that _trimmed would
        # otherwise repeat four times, and the engine's cost grows with expression size.
        level0 = ["*"]
        level2 = ["*"]
        for column in self.kind.columns:
            file_col = self.source.mapping.get(column.name)
            if file_col is None:
                continue
            expr = self._read_once(level0, self.source.columns[file_col], f"__r_{column.name}")
            # Text is trimmed once here; typed values (Parquet) pass through untouched.
            read = expr if self._native(column) else _trimmed(expr)
            level1.append(f"{read} AS {ident('__t_' + column.name)}")
            level2.append(f"{self.typed(column)} AS {ident('__v_' + column.name)}")
        for i, name in enumerate(self.source.extras):
            typed_json = (self.source.json_values or {}).get(name)
            if typed_json is not None:
                value = typed_json
            else:
                value = _trimmed(self._read_once(level0, self.source.columns[name], f"__rx_{i}"))
            level1.append(f"{value} AS {ident(f'__x_{i}')}")
        if len(level0) > 1:
            # Row and line numbers may read the stage's rowid: computed inside, passed out.
            level0 += [f"{self.source.row_sql} AS __r0_row", f"{self.source.line_sql} AS __r0_line"]
            level1[:2] = ["__r0_row AS _row", "__r0_line AS _line"]
            relation = f"(SELECT {', '.join(level0)} FROM {relation})"
        final: list[str] = []
        extras = self.extras_json()
        for column in self.kind.columns:
            if column.name == self.kind.extras_column and extras is not None:
                expr = extras
            elif column.name in self.source.mapping:
                expr = self._value(column)
            else:
                expr = self.typed(column)  # absent: NULL or the column's default
            final.append(f"{expr} AS {ident(column.name)}")
        reasons = self.reasons()
        reasons_sql = f"concat_ws('; ', {', '.join(reasons)})" if reasons else "''"
        if self.source.json_ok_sql is not None:
            # A line that is not a JSON object has no columns to judge: one reason suffices.
            reasons_sql = (
                f"CASE WHEN __json_ok THEN {reasons_sql} ELSE 'line: not a JSON object' END"
            )
        names = ", ".join(ident(c.name) for c in self.kind.columns)
        key_names = ", ".join(ident(k) for k in self.kind.key)
        return (
            f"SELECT _row, _line, {names}, _reasons, hash({names}) AS _hash, "
            f"hash({key_names}) AS _key_hash FROM (\n"
            f"SELECT _row, _line, {', '.join(final)}, {reasons_sql} AS _reasons FROM (\n"
            f"SELECT {', '.join(level2)} FROM (\n"
            f"SELECT {', '.join(level1)} FROM {relation})))"
        )
