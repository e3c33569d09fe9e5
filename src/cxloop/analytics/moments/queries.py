"""SQL of pivotal moments: outcomes, the experiences before them, and covariates.

An outcome is a unit (a survey answer, or a completed order for repurchase) with a value y.
Its experiences are the profile's events that precede it:
- an answer that names an order: the events of that order (`properties.order_id`) up to the
  answer;
- an answer without one: the profile's events in the `window_days` before the answer;
- an order (repurchase): the events of that order, and the profile's own-stage events
  (delivery, onboarding, support, returns) after it, up to the next order or `window_days`.
Covariates describe the customer as known at the unit's time: completed revenue and orders
before it, and tenure (days since the first completed order), so that valuable, long-standing
customers who touch more and answer higher do not pass for an effect. For repurchase no order
at or after the unit counts (it would contain the repurchase being predicted). Score outcomes
and content lift still add the customer's value over all the data
(`covariates_sql(lifetime=True)`): post-treatment, a known weakness kept because the
generator's confounded nulls are driven by exactly that whole-window spend.
"""

from __future__ import annotations

SCORE_OUTCOMES = {"nps": "nps", "csat": "csat", "rating": "rating"}


def answers_sql() -> str:
    """Answers of metric $metric with their profile (units)."""
    return """
SELECT row_number() OVER (ORDER BY f.source, f.response_id) - 1 AS unit,
       l.profile_id, f.submitted_at AS at, CAST(f.score AS DOUBLE) AS y, f.order_id,
       f.touchpoint IS NULL AS relational
FROM feedback f
JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
WHERE f.metric = $metric AND f.score IS NOT NULL AND l.profile_id IS NOT NULL"""


def repurchase_sql() -> str:
    """Completed orders (units) and whether the profile bought again within $window_days;
    orders too close to the end of the data to tell are left out (right-censoring)."""
    return """
WITH o AS (
    SELECT l.profile_id, o.source, o.order_id, o.ordered_at
    FROM orders o JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source
     AND l.id = o.order_id
    WHERE o.status = 'completed' AND l.profile_id IS NOT NULL
), next AS (
    SELECT *, lead(ordered_at) OVER (PARTITION BY profile_id ORDER BY ordered_at, order_id)
           AS next_at FROM o
)
SELECT row_number() OVER (ORDER BY source, order_id) - 1 AS unit, profile_id,
       ordered_at AS at, order_id, next_at,
       CASE WHEN next_at IS NOT NULL
            AND next_at <= ordered_at + to_days(CAST($window_days AS INTEGER))
            THEN 1.0 ELSE 0.0 END AS y,
       false AS relational
FROM next
WHERE ordered_at + to_days(CAST($window_days AS INTEGER)) <= (SELECT max(ordered_at) FROM o)"""


def exposures_sql(*, forward: bool) -> str:
    """Per unit and touchpoint: reached (any event) and failed (an event with success false).

    `forward`: experiences after the unit's time (repurchase) instead of before it (answers).
    """
    if forward:
        # After an order: its own events, and own-stage experiences (delivery, support,
        # returns) before the next order. Never the next purchase's own buying events,
        # which would "predict" the repurchase they are part of.
        window = (
            "(u.order_id IS NOT NULL AND e.order_id = u.order_id) OR "
            "(e.stage = 'own' AND e.occurred_at >= u.at AND e.occurred_at < least("
            "coalesce(u.next_at, u.at + to_days(CAST($window_days AS INTEGER))), "
            "u.at + to_days(CAST($window_days AS INTEGER))))"
        )
    else:
        window = (
            "(u.order_id IS NOT NULL AND e.order_id = u.order_id AND e.occurred_at <= u.at) OR "
            "(u.order_id IS NULL AND e.occurred_at < u.at "
            "AND e.occurred_at >= u.at - to_days(CAST($window_days AS INTEGER)))"
        )
    return f"""
SELECT u.unit, e.touchpoint,
       max(CASE WHEN e.success = false THEN 1 ELSE 0 END) AS failed
FROM units u JOIN profile_events e ON e.profile_id = u.profile_id AND ({window})
GROUP BY u.unit, e.touchpoint"""


def covariates_sql(*, lifetime: bool = False) -> str:
    """Per unit: completed revenue and orders before it, and tenure in days; with `lifetime`,
    also the customer's completed revenue over all the data (orders after the unit included)."""
    total = "coalesce(sum(CAST(o.amount AS DOUBLE)), 0) AS lifetime_revenue," if lifetime else ""
    return f"""
SELECT u.unit,
       coalesce(sum(CAST(o.amount AS DOUBLE)) FILTER (WHERE o.ordered_at < u.at), 0) AS revenue,
       count(o.order_id) FILTER (WHERE o.ordered_at < u.at) AS orders, {total}
       coalesce(date_diff('day', min(o.ordered_at) FILTER (WHERE o.ordered_at < u.at), u.at), 0)
           AS tenure_days
FROM units u
LEFT JOIN profile_links l ON l.kind = 'orders' AND l.profile_id = u.profile_id
LEFT JOIN orders o ON o.source = l.source AND o.order_id = l.id AND o.status = 'completed'
GROUP BY u.unit, u.at"""
