"""SQL of content at the moments: views, reach and engagement, and the units of the lift.

A content interaction is an event whose `properties.content_id` names an asset. The catalogue
(from the programs' store) and each asset's moment resolved to touchpoints are given to the
engine as temporary tables `content_catalogue(content_id, moment)` and
`content_moments(moment, touchpoint)`.
"""

from __future__ import annotations

VIEWS = "content_views"
CATALOGUE = "content_catalogue"
MOMENTS = "content_moments"


def views_sql() -> str:
    """Every content interaction of a known profile (the temp table `content_views`)."""
    return f"""
CREATE OR REPLACE TEMP TABLE {VIEWS} AS
SELECT l.profile_id, json_extract_string(e.properties, '$.content_id') AS content_id,
       e.occurred_at AS at, e.duration_s, e.touchpoint,
       json_extract_string(e.properties, '$.order_id') AS order_id
FROM events e
JOIN profile_links l ON l.kind = 'events' AND l.source = e.source AND l.id = e.event_id
WHERE l.profile_id IS NOT NULL
  AND json_extract_string(e.properties, '$.content_id') IS NOT NULL"""


def engagement_sql() -> str:
    """Per asset id seen in the views or the catalogue: viewers, views, median seconds."""
    return f"""
WITH active AS (
    SELECT count(DISTINCT profile_id) AS n FROM profile_events WHERE profile_id IS NOT NULL
), ids AS (
    SELECT content_id FROM {CATALOGUE} UNION SELECT DISTINCT content_id FROM {VIEWS}
)
SELECT i.content_id, (SELECT n FROM active) AS active,
       count(DISTINCT v.profile_id) AS viewers, count(v.profile_id) AS views,
       median(v.duration_s) AS median_seconds, count(v.duration_s) AS timed
FROM ids i LEFT JOIN {VIEWS} v ON v.content_id = i.content_id
GROUP BY i.content_id ORDER BY i.content_id"""


def moment_reach_sql() -> str:
    """Per moment: profiles who viewed any of its assets, and their views."""
    return f"""
SELECT c.moment, count(DISTINCT v.profile_id) AS viewers, count(v.profile_id) AS views
FROM {CATALOGUE} c LEFT JOIN {VIEWS} v ON v.content_id = c.content_id
GROUP BY c.moment ORDER BY c.moment"""


def moment_answers_sql() -> str:
    """Units: answers of metric $metric about a touchpoint of moment $moment."""
    return f"""
SELECT row_number() OVER (ORDER BY f.source, f.response_id) - 1 AS unit,
       l.profile_id, f.submitted_at AS at, CAST(f.score AS DOUBLE) AS y, f.order_id,
       false AS relational, CAST(NULL AS TIMESTAMP) AS next_at
FROM feedback f
JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
WHERE f.metric = $metric AND f.score IS NOT NULL AND l.profile_id IS NOT NULL
  AND f.touchpoint IN (SELECT touchpoint FROM {MOMENTS} WHERE moment = $moment)"""


def content_exposures_sql(*, forward: bool) -> str:
    """Per unit and asset viewed: the views that count for it.

    Answers: a view at or before the answer, within $window_days before it. Orders
    (repurchase): a view that names the order (`properties.order_id`), whenever it happened;
    a view that names no order, after the order, before the next one and within
    $window_days. Why the order's own views regardless of time: a customer who buys again
    within days would otherwise see the content of their first order "after the second
    one", leaving the first unexposed exactly when it was followed by a repurchase, which
    biases the lift downwards (the rule of pivotal moments for an order's own events).
    """
    if forward:
        window = (
            "((v.order_id IS NOT NULL AND v.order_id = u.order_id) OR (v.order_id IS NULL "
            "AND v.at >= u.at AND v.at < least(coalesce(u.next_at, u.at + to_days("
            "CAST($window_days AS INTEGER))), u.at + to_days(CAST($window_days AS INTEGER)))))"
        )
    else:
        window = "v.at <= u.at AND v.at >= u.at - to_days(CAST($window_days AS INTEGER))"
    return f"""
SELECT DISTINCT u.unit, v.content_id
FROM units u JOIN {VIEWS} v ON v.profile_id = u.profile_id AND {window}
WHERE v.content_id IN (SELECT content_id FROM {CATALOGUE})"""


def content_only_touchpoints_sql() -> str:
    """Touchpoints whose every event is a content interaction (left out of the controls:
    "content_view reached" would only restate the exposures)."""
    return """
SELECT touchpoint FROM events GROUP BY touchpoint
HAVING count(*) = count(json_extract_string(properties, '$.content_id'))"""
