"""SQL of the persona features: per-customer counts, computed in the engine.

A customer is a profile with at least one completed order. One scan of the orders (and of
the small feedback tables) gives a row per customer; one grouped scan of the events gives
counts per (customer, channel, touchpoint), which numpy spreads into columns. Every count
is also taken over the data before a cut-off (`*_b` columns, `$cutoff`), so the snapshot that
drift compares with costs no second scan. Channel and touchpoint names, the cut-off and the
period are never written into the SQL: names are bound parameters, and the period is one of
three constants.
"""

from __future__ import annotations

from typing import Any

from cxloop.analytics.periods import Period

CUSTOMERS_TABLE = "__personas_customers"

DATA_END_SQL = "SELECT max(ordered_at) FROM orders WHERE status = 'completed'"
"""The end of the data: the last completed order."""

DATA_END_BEFORE_SQL = (
    "SELECT max(ordered_at) FROM orders WHERE status = 'completed' "
    "AND ordered_at < CAST($cutoff AS TIMESTAMP)"
)


def vocabulary_sql(kind: str) -> str:
    """Values of order channels, event channels or touchpoints by frequency (most first).

    Ties break by name, so the same data always gives the same features.
    """
    if kind == "order_channel":
        return (
            "SELECT channel, count(*) AS n FROM orders WHERE status = 'completed' "
            "AND channel IS NOT NULL GROUP BY channel ORDER BY n DESC, channel"
        )
    column = {"event_channel": "channel", "touchpoint": "touchpoint"}[kind]
    return (
        f"SELECT {column}, count(*) AS n FROM profile_events WHERE {column} IS NOT NULL "
        f"AND profile_id IS NOT NULL GROUP BY {column} ORDER BY n DESC, {column}"
    )


def customers_sql(
    order_channels: list[str], period: Period, *, with_sentiment: bool, before: bool
) -> tuple[str, dict[str, Any]]:
    """CREATE the temporary table of customers (one row each, `row` = 0.. in profile order)
    with their order counts, feedback tone, and the same before `$cutoff` when `before`.

    Columns: row, profile_id, orders, revenue, first_order (epoch s), acquired (first day of
    the period of the first order), q4_orders, orders_with_channel, oc_<i>, sentiment,
    nps; with `before` also each of those (but acquired) suffixed `_b`.
    """
    params: dict[str, Any] = {}
    cut = "o.ordered_at < CAST($cutoff AS TIMESTAMP)"

    def agg(expression: str, name: str, condition: str = "", wrap: str = "{}") -> list[str]:
        where = f" FILTER (WHERE {condition})" if condition else ""
        out = [f"{wrap.format(expression + where)} AS {name}"]
        if before:
            both = f"{condition} AND {cut}" if condition else cut
            out.append(f"{wrap.format(f'{expression} FILTER (WHERE {both})')} AS {name}_b")
        return out

    columns = [
        *agg("count(*)", "orders"),
        *agg("sum(CAST(o.amount AS DOUBLE))", "revenue"),
        *agg("min(o.ordered_at)", "first_order", wrap="epoch({})"),
        f"{period.trunc_sql('min(o.ordered_at)')} AS acquired",
        *agg("count(*)", "q4_orders", "month(o.ordered_at) >= 10"),
        *agg("count(o.channel)", "orders_with_channel"),
    ]
    for i, value in enumerate(order_channels):
        params[f"oc_{i}"] = value
        columns += agg("count(*)", f"oc_{i}", f"o.channel = $oc_{i}")
    if before:
        params["cutoff"] = None  # bound by the caller

    def tone(table_sql: str, value: str, time: str, name: str) -> str:
        b = (
            f", avg({value}) FILTER (WHERE {time} < CAST($cutoff AS TIMESTAMP)) AS {name}_b"
            if before
            else ""
        )
        return f"SELECT profile_id, avg({value}) AS {name}{b} FROM ({table_sql}) GROUP BY 1"

    texts = (
        "SELECT profile_id, sentiment, occurred_at FROM voc_texts "
        "WHERE profile_id IS NOT NULL AND sentiment IS NOT NULL "
        "AND (kind = 'feedback' OR lower(trim(brand)) = lower(trim($brand)))"
        if with_sentiment
        else "SELECT CAST(NULL AS VARCHAR) AS profile_id, CAST(NULL AS DOUBLE) AS sentiment, "
        "CAST(NULL AS TIMESTAMP) AS occurred_at WHERE false"
    )
    answers = (
        "SELECT l.profile_id, CAST(f.score AS DOUBLE) AS score, f.submitted_at FROM feedback f "
        "JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source "
        "AND l.id = f.response_id WHERE f.metric = 'nps' AND f.score IS NOT NULL "
        "AND l.profile_id IS NOT NULL"
    )
    tone_columns = "s.sentiment, n.nps" + (", s.sentiment_b, n.nps_b" if before else "")
    sql = (
        f"CREATE OR REPLACE TEMP TABLE {CUSTOMERS_TABLE} AS "
        f"WITH c AS (SELECT l.profile_id, {', '.join(columns)} "
        "FROM orders o JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source "
        "AND l.id = o.order_id WHERE o.status = 'completed' AND l.profile_id IS NOT NULL "
        "GROUP BY l.profile_id), "
        f"s AS ({tone(texts, 'sentiment', 'occurred_at', 'sentiment')}), "
        f"n AS ({tone(answers, 'score', 'submitted_at', 'nps')}) "
        f"SELECT row_number() OVER (ORDER BY c.profile_id) - 1 AS row, c.*, {tone_columns} "
        "FROM c LEFT JOIN s USING (profile_id) LEFT JOIN n USING (profile_id)"
    )
    return sql, params


def events_sql(
    event_channels: list[str], touchpoints: list[str], *, before: bool
) -> tuple[str, dict[str, Any]]:
    """Event counts per (customer row, channel code, touchpoint code): code i + 1 for the
    i-th vocabulary value, 0 for any other value, NULL for a missing channel; `n_b` counts
    the events before `$cutoff` when `before`.

    The events are joined to the customers first and grouped on small integers: grouping
    millions of rows on two strings and an id costs more than coding them on the way.
    """
    count_b = (
        ", count(*) FILTER (WHERE e.occurred_at < CAST($cutoff AS TIMESTAMP)) AS n_b"
        if before
        else ""
    )
    sql = (
        "SELECT c.row, CASE WHEN e.channel IS NULL THEN NULL "
        "ELSE coalesce(list_position($channels, e.channel), 0) END AS channel, "
        "coalesce(list_position($touchpoints, e.touchpoint), 0) AS touchpoint, "
        f"count(*) AS n{count_b} "
        f"FROM profile_events e JOIN {CUSTOMERS_TABLE} c USING (profile_id) GROUP BY ALL"
    )
    params: dict[str, Any] = {"channels": event_channels, "touchpoints": touchpoints}
    if before:
        params["cutoff"] = None
    return sql, params
