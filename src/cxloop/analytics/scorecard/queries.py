"""SQL of the scorecard: sufficient statistics per level, computed in the engine.

Every query returns rows at three levels: `all` (the whole window), `period` (one row per
period) and `group` (one row per value of the breakdown dimension, when one is asked for).
Statistics are counts, means and sample variances; `stats.py` turns them into estimates.
Only identifiers chosen by the program are written into the SQL; window bounds, the brand
and the competitors are bound parameters.
"""

from __future__ import annotations

from cxloop.analytics.membership import membership_sql
from cxloop.analytics.scorecard.scope import Scope

# `membership` reads the temporary table of loyalty members (analytics/membership.py).
PROFILE_DIMS = {
    "country": "p.country",
    "segment": "p.segment",
    "membership": membership_sql("p.profile_id"),
}

FEEDBACK_DIMS = {
    "touchpoint": "coalesce(f.touchpoint, '(relationship)')",
    "channel": "f.channel",
    "stage": "CASE WHEN f.touchpoint IS NULL THEN '(relationship)' ELSE tp.stage END",
    **PROFILE_DIMS,
}
ORDER_DIMS = {"channel": "o.channel", **PROFILE_DIMS}
EVENT_DIMS = {
    "touchpoint": "e.touchpoint",
    "channel": "e.channel",
    "stage": "e.stage",
    **PROFILE_DIMS,
}
MENTION_DIMS = {"channel": "m.platform"}
REFERRAL_DIMS = dict(PROFILE_DIMS)


def _dim(scope: Scope, dims: dict[str, str]) -> str | None:
    return dims.get(scope.by) if scope.by else None


def _levels(scope: Scope, base: str, aggregates: str, *, has_group: bool) -> str:
    """Aggregate `base` (a CTE with `period` and `grp`) at every level."""
    parts = [
        f"SELECT 'all' AS lvl, CAST(NULL AS DATE) AS period, CAST(NULL AS VARCHAR) AS grp, "
        f"{aggregates} FROM base",
        f"SELECT 'period', period, CAST(NULL AS VARCHAR), {aggregates} FROM base GROUP BY period",
    ]
    if has_group:
        parts.append(
            f"SELECT 'group', CAST(NULL AS DATE), grp, {aggregates} FROM base GROUP BY grp"
        )
    return f"WITH base AS ({base})\n" + "\nUNION ALL\n".join(parts)


def _profile_join(kind: str, alias: str, source: str, key: str) -> str:
    return (
        f"LEFT JOIN profile_links l ON l.kind = '{kind}' AND l.source = {alias}.{source} "
        f"AND l.id = {alias}.{key} LEFT JOIN profiles p ON p.profile_id = l.profile_id"
    )


def feedback_sql(scope: Scope) -> str:
    """NPS (all, relational, transactional), CES, CSAT, ratings and public reviews."""
    dim = _dim(scope, FEEDBACK_DIMS)
    base = (
        f"SELECT f.metric, f.score, f.touchpoint IS NULL AS relational, f.public, "
        f"{scope.period.trunc_sql('f.submitted_at')} AS period, "
        f"CAST({dim or 'NULL'} AS VARCHAR) AS grp "
        f"FROM feedback f {_profile_join('feedback', 'f', 'source', 'response_id')} "
        f"LEFT JOIN touchpoints tp ON tp.touchpoint = f.touchpoint "
        f"WHERE {scope.window('f.submitted_at')}"
    )

    def count(cond: str) -> str:
        return f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END)"

    nps = "metric = 'nps'"
    aggregates = ", ".join(
        [
            f"{count(nps + ' AND score >= 9')} AS promoters",
            f"{count(nps + ' AND score >= 7 AND score < 9')} AS passives",
            f"{count(nps + ' AND score < 7')} AS detractors",
            f"{count(nps + ' AND relational AND score >= 9')} AS promoters_rel",
            f"{count(nps + ' AND relational AND score >= 7 AND score < 9')} AS passives_rel",
            f"{count(nps + ' AND relational AND score < 7')} AS detractors_rel",
            count("metric = 'ces'") + " AS ces_n",
            "avg(CASE WHEN metric = 'ces' THEN score END) AS ces_mean",
            "var_samp(CASE WHEN metric = 'ces' THEN score END) AS ces_var",
            count("metric = 'ces' AND score >= 5") + " AS ces_easy",
            count("metric = 'csat'") + " AS csat_n",
            count("metric = 'csat' AND score >= 4") + " AS csat_satisfied",
            count("metric = 'rating'") + " AS rating_n",
            "avg(CASE WHEN metric = 'rating' THEN score END) AS rating_mean",
            "var_samp(CASE WHEN metric = 'rating' THEN score END) AS rating_var",
            f"{count('public')} AS public_reviews",
            f"{count(_positive_public())} AS positive_public_reviews",
        ]
    )
    return _levels(scope, base, aggregates, has_group=dim is not None)


def _positive_public() -> str:
    return (
        "public AND ((metric IN ('rating', 'csat') AND score >= 4) "
        "OR (metric = 'nps' AND score >= 9))"
    )


def _completed_orders(scope: Scope, dim: str | None, *, windowed: bool = True) -> str:
    where = "o.status = 'completed'"
    if windowed:
        where += f" AND {scope.window('o.ordered_at')}"
    return (
        f"SELECT l.profile_id, o.amount, o.ordered_at, "
        f"{scope.period.trunc_sql('o.ordered_at')} AS period, "
        f"CAST({dim or 'NULL'} AS VARCHAR) AS grp "
        f"FROM orders o {_profile_join('orders', 'o', 'source', 'order_id')} WHERE {where}"
    )


def orders_sql(scope: Scope) -> str:
    """Revenue, orders and average order value (order level)."""
    dim = _dim(scope, ORDER_DIMS)
    aggregates = (
        "count(*) AS orders, sum(amount) AS revenue, avg(CAST(amount AS DOUBLE)) AS aov_mean, "
        "var_samp(CAST(amount AS DOUBLE)) AS aov_var"
    )
    return _levels(scope, _completed_orders(scope, dim), aggregates, has_group=dim is not None)


def customers_sql(scope: Scope) -> str:
    """Per-customer figures: customers, purchase frequency, revenue per customer, top-20% share.

    Each level first sums orders per profile within the level's cell, then aggregates.
    """
    dim = _dim(scope, ORDER_DIMS)
    base = _completed_orders(scope, dim)
    cells = {"all": [], "period": ["period"], "group": ["grp"]}
    parts = []
    for level, keys in cells.items():
        if level == "group" and dim is None:
            continue
        key_sql = ", ".join(keys)
        by = ", ".join(["profile_id", *keys])
        period = "period" if "period" in keys else "CAST(NULL AS DATE)"
        grp = "grp" if "grp" in keys else "CAST(NULL AS VARCHAR)"
        partition = f"PARTITION BY {key_sql}" if keys else ""
        parts.append(
            f"SELECT '{level}' AS lvl, {period} AS period, {grp} AS grp, count(*) AS customers, "
            f"avg(n_orders) AS freq_mean, var_samp(n_orders) AS freq_var, "
            f"avg(revenue) AS value_mean, var_samp(revenue) AS value_var, "
            f"sum(CASE WHEN rank_desc <= ceil(0.2 * n_cell) THEN revenue ELSE 0 END) "
            f"/ nullif(sum(revenue), 0) AS top20_share "
            f"FROM (SELECT *, row_number() OVER ({partition} ORDER BY revenue DESC, profile_id) "
            f"AS rank_desc, count(*) OVER ({partition}) AS n_cell FROM ("
            f"SELECT {by}, count(*) AS n_orders, CAST(sum(amount) AS DOUBLE) AS revenue "
            f"FROM base GROUP BY {by})) " + (f"GROUP BY {key_sql}" if keys else "")
        )
    return f"WITH base AS ({base})\n" + "\nUNION ALL\n".join(parts)


def retention_sql(scope: Scope) -> str:
    """Retention: of the customers who bought in one period, the share who buy in the next.

    The figure belongs to the later period; both periods must lie in the window. Breakdowns
    use profile attributes only (a customer keeps them from one period to the next).
    """
    dim = PROFILE_DIMS.get(scope.by or "")
    nxt = scope.period.next_sql("b.period")
    base = (
        f"WITH buyers AS (SELECT DISTINCT profile_id, period, grp FROM "
        f"({_completed_orders(scope, dim, windowed=False)}) WHERE profile_id IS NOT NULL "
        # Orders after the window never count, not even as "bought again".
        f"AND (CAST($until AS TIMESTAMP) IS NULL OR ordered_at < CAST($until AS TIMESTAMP))), "
        f"pairs AS (SELECT {nxt} AS period, b.grp, "
        f"CASE WHEN n.profile_id IS NULL THEN 0 ELSE 1 END AS retained "
        f"FROM buyers b LEFT JOIN buyers n ON n.profile_id = b.profile_id "
        f"AND n.period = {nxt} "
        f"WHERE {scope.window(f'CAST({nxt} AS TIMESTAMP)')} "
        # A period after the last one with data would count everyone as lost.
        f"AND {nxt} <= (SELECT max(period) FROM buyers)) "
    )
    parts = [
        "SELECT 'all' AS lvl, CAST(NULL AS DATE) AS period, CAST(NULL AS VARCHAR) AS grp, "
        "count(*) AS base, sum(retained) AS retained FROM pairs",
        "SELECT 'period', period, CAST(NULL AS VARCHAR), count(*), sum(retained) FROM pairs "
        "GROUP BY period",
    ]
    if dim is not None:
        parts.append(
            "SELECT 'group', CAST(NULL AS DATE), grp, count(*), sum(retained) FROM pairs "
            "GROUP BY grp"
        )
    return base + "\n" + "\nUNION ALL\n".join(parts)


def repeat_sql(scope: Scope) -> str:
    """Repeat-purchase rate and historical customer value.

    Repeat: of the customers who bought in a cell, the share with two or more completed
    orders in their whole history up to the end of the cell. Historical value: each
    customer's completed revenue in their whole history up to the end of the window.
    """
    dim = PROFILE_DIMS.get(scope.by or "")
    history = (
        f"WITH hist AS (SELECT profile_id, period, grp, count(*) AS n_orders, "
        f"CAST(sum(amount) AS DOUBLE) AS revenue, "
        # A cell counts a customer who bought in it inside the window (not merely in a
        # period that starts inside it).
        f"max(CASE WHEN {scope.window('ordered_at')} THEN 1 ELSE 0 END) AS in_window FROM "
        f"({_completed_orders(scope, dim, windowed=False)}) WHERE profile_id IS NOT NULL "
        f"AND (CAST($until AS TIMESTAMP) IS NULL OR ordered_at < CAST($until AS TIMESTAMP)) "
        f"GROUP BY profile_id, period, grp), "
        f"cum AS (SELECT *, sum(n_orders) OVER (PARTITION BY profile_id ORDER BY period "
        f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_orders FROM hist), "
        f"inwin AS (SELECT * FROM cum WHERE in_window = 1), "
        f"life AS (SELECT profile_id, any_value(grp) AS grp, sum(n_orders) AS orders, "
        f"sum(revenue) AS revenue FROM hist GROUP BY profile_id HAVING max(in_window) = 1)"
    )
    parts = [
        "SELECT 'all' AS lvl, CAST(NULL AS DATE) AS period, CAST(NULL AS VARCHAR) AS grp, "
        "count(*) AS buyers, sum(CASE WHEN orders >= 2 THEN 1 ELSE 0 END) AS repeaters, "
        "avg(revenue) AS hist_mean, var_samp(revenue) AS hist_var FROM life",
        "SELECT 'period', period, CAST(NULL AS VARCHAR), count(*), "
        "sum(CASE WHEN cum_orders >= 2 THEN 1 ELSE 0 END), NULL, NULL FROM inwin "
        "GROUP BY period",
    ]
    if dim is not None:
        parts.append(
            "SELECT 'group', CAST(NULL AS DATE), grp, count(*), "
            "sum(CASE WHEN orders >= 2 THEN 1 ELSE 0 END), avg(revenue), var_samp(revenue) "
            "FROM life GROUP BY grp"
        )
    return history + "\n" + "\nUNION ALL\n".join(parts)


def events_sql(scope: Scope, *, support_touchpoints: list[str], gap_minutes: int) -> str:
    """Behavioural ease: median duration, steps per journey, support contact rate.

    A journey is a run of one profile's events with no gap longer than `gap_minutes`
    (the web-analytics session rule); the support contact rate is the share of profiles
    active in a cell that needed a support touchpoint there.
    """
    dim = _dim(scope, EVENT_DIMS)
    support = ", ".join("'" + t.replace("'", "''") + "'" for t in support_touchpoints) or "''"
    profile_join = (
        "LEFT JOIN profiles p ON p.profile_id = e.profile_id" if scope.by in PROFILE_DIMS else ""
    )
    base = (
        f"SELECT e.profile_id, e.occurred_at, e.duration_s, e.event_id AS rowid_key, "
        f"e.touchpoint IN ({support}) AS is_support, "
        f"{scope.period.trunc_sql('e.occurred_at')} AS period, "
        f"CAST({dim or 'NULL'} AS VARCHAR) AS grp "
        f"FROM profile_events e {profile_join} "
        f"WHERE {scope.window('e.occurred_at')}"
    )
    # One sort of the events (per profile, by time) numbers them and flags where journeys
    # start and end; a journey's steps are then the distance from its start to its end,
    # found among start and end rows only.
    gap = f"INTERVAL {int(gap_minutes)} MINUTE"
    ordered = (
        "ordered AS (SELECT profile_id, period, grp, row_number() OVER w AS rn, "
        "CASE WHEN lag(occurred_at) OVER w IS NULL "
        f"OR occurred_at > lag(occurred_at) OVER w + {gap} THEN 1 ELSE 0 END AS is_start, "
        "CASE WHEN lead(occurred_at) OVER w IS NULL "
        f"OR lead(occurred_at) OVER w > occurred_at + {gap} THEN 1 ELSE 0 END AS is_end "
        "FROM base WHERE profile_id IS NOT NULL "
        "WINDOW w AS (PARTITION BY profile_id ORDER BY occurred_at, rowid_key))"
    )
    journeys = (
        "journeys AS (SELECT period, grp, steps FROM (SELECT period, grp, is_start, "
        "CASE WHEN is_end = 1 THEN 1 ELSE lead(rn) OVER (PARTITION BY profile_id ORDER BY rn) "
        "- rn + 1 END AS steps FROM ordered WHERE is_start = 1 OR is_end = 1) "
        "WHERE is_start = 1)"
    )
    # Who needed support: per profile and period, per profile over the window (each profile
    # counted once), and per profile and group; each from the smallest table that has it.
    active = (
        "active AS (SELECT profile_id, period, max(CASE WHEN is_support THEN 1 ELSE 0 END) "
        "AS needed_support FROM base WHERE profile_id IS NOT NULL GROUP BY profile_id, period)"
    )
    sets = "GROUPING SETS ((), (period)" + (", (grp))" if dim is not None else ")")
    level = (
        "CASE GROUPING(period, grp) WHEN 3 THEN 'all' WHEN 1 THEN 'period' ELSE 'group' END"
        if dim is not None
        else "CASE GROUPING(period) WHEN 1 THEN 'all' ELSE 'period' END"
    )
    grp_col = "grp" if dim is not None else "CAST(NULL AS VARCHAR)"
    per_profile = (
        "profiles AS (SELECT profile_id, max(needed_support) AS needed_support FROM active "
        "GROUP BY profile_id)"
    )
    per_group = (
        "profile_groups AS (SELECT profile_id, grp, max(CASE WHEN is_support THEN 1 ELSE 0 END) "
        "AS needed_support FROM base WHERE profile_id IS NOT NULL GROUP BY profile_id, grp)"
    )
    parts = [
        f"d AS (SELECT {level} AS lvl, period, {grp_col} AS grp, count(*) AS events, "
        f"median(duration_s) AS duration_median FROM base GROUP BY {sets})",
        f"j AS (SELECT {level} AS lvl, period, {grp_col} AS grp, count(*) AS journeys, "
        f"avg(steps) AS steps_mean, var_samp(steps) AS steps_var FROM journeys GROUP BY {sets})",
        "a AS (SELECT 'all' AS lvl, CAST(NULL AS DATE) AS period, CAST(NULL AS VARCHAR) AS grp, "
        "count(*) AS active, sum(needed_support) AS supported FROM profiles "
        "UNION ALL SELECT 'period', period, CAST(NULL AS VARCHAR), count(*), "
        "sum(needed_support) FROM active GROUP BY period"
        + (
            " UNION ALL SELECT 'group', CAST(NULL AS DATE), grp, count(*), sum(needed_support) "
            "FROM profile_groups GROUP BY grp"
            if dim is not None
            else ""
        )
        + ")",
    ]
    ctes = [f"base AS ({base})", ordered, journeys, active, per_profile]
    if dim is not None:
        ctes.append(per_group)
    ctes += parts
    return (
        "WITH " + ", ".join(ctes) + " SELECT d.lvl, d.period, d.grp, d.events, "
        "d.duration_median, j.journeys, j.steps_mean, j.steps_var, a.active, a.supported "
        "FROM d LEFT JOIN j ON j.lvl = d.lvl AND j.period IS NOT DISTINCT FROM d.period "
        "AND j.grp IS NOT DISTINCT FROM d.grp LEFT JOIN a ON a.lvl = d.lvl "
        "AND a.period IS NOT DISTINCT FROM d.period AND a.grp IS NOT DISTINCT FROM d.grp"
    )


def mentions_sql(scope: Scope) -> str:
    """Social value: our mentions split into genuine advocacy and amplification (by the
    advocacy intent of `voc_texts`), with reach, and share of voice against the competitors
    (bound as $brand and $competitors)."""
    dim = _dim(scope, MENTION_DIMS)
    base = (
        f"SELECT v.intent, coalesce(m.reach, 0) AS reach, "
        f"lower(trim(m.brand)) = lower(trim($brand)) AS ours, "
        f"list_contains($competitors, lower(trim(m.brand))) AS theirs, "
        f"{scope.period.trunc_sql('m.posted_at')} AS period, "
        f"CAST({dim or 'NULL'} AS VARCHAR) AS grp "
        f"FROM mentions m LEFT JOIN voc_texts v ON v.kind = 'mentions' "
        f"AND v.id = m.mention_id WHERE {scope.window('m.posted_at')}"
    )
    # Advocacy intent from the voice of the customer (analytics/voc/intent.py): a mention
    # that recommends or urges is genuine; a like or a share without own words amplifies.
    genuine = "intent = 'genuine'"
    amplification = "intent = 'amplification'"
    aggregates = ", ".join(
        [
            f"sum(CASE WHEN ours AND {genuine} THEN 1 ELSE 0 END) AS genuine",
            f"sum(CASE WHEN ours AND {genuine} THEN reach ELSE 0 END) AS genuine_reach",
            f"sum(CASE WHEN ours AND {amplification} THEN 1 ELSE 0 END) AS amplification",
            f"sum(CASE WHEN ours AND {amplification} THEN reach ELSE 0 END) AS amplification_reach",
            "sum(CASE WHEN ours THEN 1 ELSE 0 END) AS ours",
            "sum(CASE WHEN ours OR theirs THEN 1 ELSE 0 END) AS tracked",
            "sum(CASE WHEN ours THEN reach ELSE 0 END) AS ours_reach",
            "sum(CASE WHEN ours OR theirs THEN reach ELSE 0 END) AS tracked_reach",
        ]
    )
    return _levels(scope, base, aggregates, has_group=dim is not None)


def referrals_sql(scope: Scope) -> str:
    """Advocacy acts: referrals made and converted, by the period the referral was made."""
    dim = _dim(scope, REFERRAL_DIMS)
    base = (
        f"SELECT r.converted_order_id IS NOT NULL AS converted, "
        f"{scope.period.trunc_sql('r.created_at')} AS period, "
        f"CAST({dim or 'NULL'} AS VARCHAR) AS grp "
        f"FROM referrals r {_profile_join('referrer', 'r', 'source', 'referral_id')} "
        f"WHERE {scope.window('r.created_at')}"
    )
    aggregates = "count(*) AS referrals, sum(CASE WHEN converted THEN 1 ELSE 0 END) AS converted"
    return _levels(scope, base, aggregates, has_group=dim is not None)
