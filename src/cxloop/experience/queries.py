"""SQL of the architecture inventory: what the data says about each declared moment.

A moment is a group of touchpoints, given to the engine as the temporary table
`architecture_moments(moment, touchpoint)`. Per moment:
- reach: profiles with at least one event at one of its touchpoints, out of the profiles
  with any event;
- effectiveness: events there that report success, out of those that report it at all;
- NPS about the moment: NPS answers whose touchpoint is one of its touchpoints;
- NPS of those it reached: relationship NPS answers (no touchpoint) of the profiles it
  reached, given after their first event there.
"""

from __future__ import annotations

MOMENTS_TABLE = "architecture_moments"


def moment_figures_sql() -> str:
    """One row per moment of `architecture_moments` with the counts above."""
    return f"""
WITH m AS (SELECT DISTINCT moment, touchpoint FROM {MOMENTS_TABLE}),
active AS (
    SELECT count(DISTINCT profile_id) AS n FROM profile_events WHERE profile_id IS NOT NULL
),
ev AS (
    SELECT m.moment, count(DISTINCT e.profile_id) AS reached, count(*) AS events,
           count(e.success) AS success_n,
           sum(CASE WHEN e.success THEN 1 ELSE 0 END) AS success_x
    FROM m JOIN profile_events e ON e.touchpoint = m.touchpoint AND e.profile_id IS NOT NULL
    GROUP BY m.moment
),
first_reach AS (
    SELECT m.moment, e.profile_id, min(e.occurred_at) AS first_at
    FROM m JOIN profile_events e ON e.touchpoint = m.touchpoint AND e.profile_id IS NOT NULL
    GROUP BY m.moment, e.profile_id
),
about AS (
    SELECT m.moment,
           sum(CASE WHEN f.score >= 9 THEN 1 ELSE 0 END) AS promoters,
           sum(CASE WHEN f.score >= 7 AND f.score < 9 THEN 1 ELSE 0 END) AS passives,
           sum(CASE WHEN f.score < 7 THEN 1 ELSE 0 END) AS detractors
    FROM m JOIN feedback f ON f.touchpoint = m.touchpoint
    WHERE f.metric = 'nps' AND f.score IS NOT NULL
    GROUP BY m.moment
),
after AS (
    SELECT r.moment,
           sum(CASE WHEN f.score >= 9 THEN 1 ELSE 0 END) AS promoters,
           sum(CASE WHEN f.score >= 7 AND f.score < 9 THEN 1 ELSE 0 END) AS passives,
           sum(CASE WHEN f.score < 7 THEN 1 ELSE 0 END) AS detractors
    FROM first_reach r
    JOIN profile_links l ON l.kind = 'feedback' AND l.profile_id = r.profile_id
    JOIN feedback f ON f.source = l.source AND f.response_id = l.id
    WHERE f.metric = 'nps' AND f.score IS NOT NULL AND f.touchpoint IS NULL
      AND f.submitted_at >= r.first_at
    GROUP BY r.moment
),
names AS (SELECT DISTINCT moment FROM m)
SELECT n.moment, (SELECT n FROM active) AS active,
       coalesce(ev.reached, 0) AS reached, coalesce(ev.events, 0) AS events,
       coalesce(ev.success_n, 0) AS success_n, coalesce(ev.success_x, 0) AS success_x,
       coalesce(about.promoters, 0) AS about_p, coalesce(about.passives, 0) AS about_a,
       coalesce(about.detractors, 0) AS about_d,
       coalesce(after.promoters, 0) AS after_p, coalesce(after.passives, 0) AS after_a,
       coalesce(after.detractors, 0) AS after_d
FROM names n LEFT JOIN ev USING (moment) LEFT JOIN about USING (moment)
LEFT JOIN after USING (moment)
ORDER BY n.moment"""


def metric_counts_sql() -> str:
    """Per moment and feedback metric: answers about one of its touchpoints (for gaps: an
    experience measured by CSAT at a moment nobody answers a CSAT survey about)."""
    return f"""
SELECT m.moment, f.metric, count(*) AS answers
FROM (SELECT DISTINCT moment, touchpoint FROM {MOMENTS_TABLE}) m
JOIN feedback f ON f.touchpoint = m.touchpoint AND f.score IS NOT NULL
GROUP BY m.moment, f.metric"""


def known_touchpoints_sql() -> str:
    """Every touchpoint of the catalogue or the events."""
    return """
SELECT touchpoint FROM touchpoints UNION SELECT DISTINCT touchpoint FROM events"""
