"""What another SQL engine needs so the analytics' DuckDB SQL runs there unchanged, as data.

The analytics are written once, in DuckDB's SQL. An engine that speaks another dialect
transpiles every statement with SQLGlot (`read="duckdb"`, `write=<dialect>`) and then applies
the rewrites its `Dialect` lists here: each one a small, named function over the parsed
statement, for a DuckDB construct that SQLGlot leaves alone or translates with different
semantics. Nothing in the analytics asks which engine runs them; what a dialect needs is
declared in this table, so a reviewer reads every difference in one place.

Each rewrite's docstring says the DuckDB meaning it preserves; the parity tests
(`tests/test_spark_parity.py`) check the whole analyses, figure by figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

Rewrite = Callable[[exp.Expression], exp.Expression]


def _seconds_since_epoch(node: exp.Expression) -> exp.Expression:
    """DuckDB `epoch(ts)`: seconds since 1970-01-01 as a DOUBLE, fractions kept.

    SQLGlot writes Spark's `unix_timestamp`, which drops the fraction of a second; the
    microseconds divided by 1e6 keep it. Timestamps are wall-clock values (DuckDB's
    TIMESTAMP); the session runs in UTC, so the cast to an instant changes nothing.
    """
    if not isinstance(node, exp.TimeToUnix):
        return node
    instant = exp.cast(node.this, exp.DataType.build("TIMESTAMPLTZ"))
    micros = exp.Anonymous(this="unix_micros", expressions=[instant])
    return exp.Div(this=micros, expression=exp.Literal.number("1e6"))


def _days_interval(node: exp.Expression) -> exp.Expression:
    """DuckDB `to_days(n)`: an interval of n days (`make_interval(0, 0, 0, n)` in Spark)."""
    if not isinstance(node, exp.ToDays):
        return node
    zero = exp.Literal.number(0)
    return exp.Anonymous(
        this="make_interval", expressions=[zero, zero.copy(), zero.copy(), node.this]
    )


def _day_boundaries(node: exp.Expression) -> exp.Expression:
    """DuckDB `date_diff('day', a, b)`: day boundaries crossed from a to b (the difference of
    the dates). Spark's three-argument `datediff` counts whole 24-hour periods instead, so
    23:00 to 01:00 the next day is 1 in DuckDB and 0 there; its two-argument form on dates
    is DuckDB's meaning. Other parts are refused rather than mistranslated."""
    if not isinstance(node, exp.DateDiff):
        return node
    unit = node.args.get("unit")
    if unit is None or unit.name.upper() != "DAY":
        raise ValueError(f"date_diff by {unit} has no translation here (only 'day')")
    day = exp.DataType.build("DATE")
    return exp.Anonymous(
        this="datediff", expressions=[exp.cast(node.this, day), exp.cast(node.expression, day)]
    )


def _grouping_bits(node: exp.Expression) -> exp.Expression:
    """DuckDB `GROUPING(a, b)`: the bit mask of the grouped-away columns, the first column
    the highest bit. Spark's `grouping` takes one column, and its `grouping_id` only the
    whole GROUP BY list, so the mask is summed from one-column `grouping`s."""
    if not isinstance(node, exp.Grouping) or len(node.expressions) < 2:
        return node
    columns = node.expressions
    bits = [
        exp.Mul(
            this=exp.Grouping(expressions=[c.copy()]),
            expression=exp.Literal.number(1 << (len(columns) - 1 - i)),
        )
        for i, c in enumerate(columns)
    ]
    total: exp.Expression = bits[0]
    for bit in bits[1:]:
        total = exp.Add(this=total, expression=bit)
    return exp.Paren(this=total)


def _list_element(node: exp.Expression) -> exp.Expression:
    """DuckDB `list[i]`: the i-th element counting from 1, NULL when out of range.

    SQLGlot's parser stores a literal index shifted to 0-based (`l[1]` as `l[0]`, and
    `l[-1]` as `l[-2]`) but an expression as written, and writes Spark's 0-based `[]`
    from that, so `l[x]` would read the next element. `try_element_at` takes DuckDB's own
    index: it counts from 1 (from the end when negative) and gives NULL out of range, but
    raises for index 0, where DuckDB gives NULL. A string key (`map['key']`) is left alone.
    """
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1:
        return node
    index = node.expressions[0]
    if isinstance(index, exp.Literal) and index.is_string:
        return node
    number = index.this if isinstance(index, exp.Neg) else index
    if isinstance(number, exp.Literal):  # shifted by the parser: shift it back
        written = (-int(number.name) if isinstance(index, exp.Neg) else int(number.name)) + 1
        index = (
            exp.Literal.number(written)
            if written >= 0
            else exp.Neg(this=exp.Literal.number(-written))
        )
    index = exp.Nullif(this=index, expression=exp.Literal.number(0))
    return exp.Anonymous(this="try_element_at", expressions=[node.this, index])


def _struct(**fields: exp.Expression) -> exp.Expression:
    return exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier(k), expression=v) for k, v in fields.items()
        ]
    )


def _field_of(name: str) -> exp.Expression:
    """`item_ -> item_.<name>`: a lambda taking one field of a struct."""
    return exp.Lambda(
        this=exp.Dot(this=exp.to_identifier("item_"), expression=exp.to_identifier(name)),
        expressions=[exp.to_identifier("item_")],
    )


def _ordered_list(node: exp.Expression) -> exp.Expression:
    """DuckDB `list(x ORDER BY k1, k2)`: every value (NULLs too) ordered by the keys.

    SQLGlot writes `collect_list(x)`, which has no order and drops NULLs. Collecting
    structs of (keys, value), sorting them and keeping the value keeps both (ascending keys
    only: descending ones are refused rather than mistranslated).
    """
    if not (isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order)):
        return node
    keys = node.this.expressions
    if any(k.args.get("desc") for k in keys):
        raise ValueError("list(... ORDER BY ... DESC) has no Spark translation here")
    fields = {f"k{i}": k.this for i, k in enumerate(keys)}
    pairs = exp.Anonymous(this="collect_list", expressions=[_struct(**fields, v=node.this.this)])
    ordered = exp.Anonymous(this="array_sort", expressions=[pairs])
    return exp.Anonymous(this="transform", expressions=[ordered, _field_of("v")])


def _top_n_by(node: exp.Expression) -> exp.Expression:
    """DuckDB `max_by(x, v, n)`: the x of the n largest v, largest first, as a list.

    Spark's `max_by` takes no n: collect (v, x), sort descending, keep n, take x.
    """
    if not (isinstance(node, exp.ArgMax) and node.args.get("count") is not None):
        return node
    pairs = exp.Anonymous(
        this="collect_list", expressions=[_struct(v=node.expression, x=node.this)]
    )
    ordered = exp.Anonymous(this="sort_array", expressions=[pairs, exp.false()])
    top = exp.Anonymous(
        this="slice", expressions=[ordered, exp.Literal.number(1), node.args["count"]]
    )
    return exp.Anonymous(this="transform", expressions=[top, _field_of("x")])


def _renamed(duckdb_name: str, name: str) -> Rewrite:
    """A DuckDB function that exists under another name with the same meaning."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() == duckdb_name:
            return exp.Anonymous(this=name, expressions=node.expressions)
        return node

    rewrite.__name__ = f"{duckdb_name}_as_{name}"
    rewrite.__doc__ = f"DuckDB `{duckdb_name}` is `{name}`."
    return rewrite


def _list_position(node: exp.Expression) -> exp.Expression:
    """DuckDB `list_position(l, x)`: 1-based, NULL when absent (Spark's `array_position`
    gives 0 when absent)."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "list_position"):
        return node
    found = exp.Anonymous(this="array_position", expressions=node.expressions)
    return exp.Nullif(this=found, expression=exp.Literal.number(0))


@dataclass(frozen=True)
class Dialect:
    """How statements written for DuckDB run on one other engine.

    `rewrites` run, in order, on every node of every statement after parsing; SQLGlot then
    writes the statement in `sqlglot_name`. `settings` are the engine settings that give
    DuckDB's semantics where the engine's defaults differ (each with its reason).
    """

    name: str
    sqlglot_name: str
    rewrites: tuple[Rewrite, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)

    def transpile(self, statement: exp.Expression) -> str:
        """The statement (parsed from DuckDB SQL, parameters bound) in this dialect's SQL."""
        for rewrite in self.rewrites:
            statement = statement.transform(rewrite, copy=False)
        return statement.sql(dialect=self.sqlglot_name)


SPARK = Dialect(
    name="spark",
    sqlglot_name="spark",
    rewrites=(
        _seconds_since_epoch,
        _days_interval,
        _day_boundaries,
        _grouping_bits,
        _ordered_list,
        _top_n_by,
        _list_element,
        _list_position,
        _renamed("list_reverse", "reverse"),
    ),
    settings={
        # DuckDB's TIMESTAMP is a wall-clock value without a zone: so is TIMESTAMP_NTZ, and
        # `TIMESTAMP` in the analytics' SQL (and Parquet read back) then means the same.
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
        # Wall-clock timestamps, epochs and date arithmetic are read in UTC, as DuckDB does
        # for values without a zone.
        "spark.sql.session.timeZone": "UTC",
        # DuckDB gives NULL for x / 0; ANSI mode (Spark 4's default) raises instead.
        "spark.sql.ansi.enabled": "false",
    },
)
"""Apache Spark SQL (3.5 and 4.0)."""

DIALECTS = {d.name: d for d in (SPARK,)}
