"""SQL of the journey analyses, computed in the engine.

Every query starts from the same loop acts (`ACTS`): one row per thing a profile did, with its
time and its stage of the loop. Only identifiers chosen by the program are written into the
SQL; windows, gaps, touchpoint names and path lengths are bound parameters. The conventions
are those of `docs/journey.md`.
"""

from __future__ import annotations

from cxloop.analytics.periods import Period

STAGES = ("buy", "own", "advocate")
STAGE_RANK = "CASE stage WHEN 'buy' THEN 0 WHEN 'own' THEN 1 ELSE 2 END"

# One row per loop act: events with their (event or catalogue) stage, completed orders (buy),
# public reviews and referrals made (advocate). `is_order` marks completed orders.
ACTS_DEFINITION = """acts AS (
    SELECT profile_id, occurred_at AS ts, stage, 0 AS is_order FROM profile_events
    WHERE profile_id IS NOT NULL AND stage IN ('buy', 'own', 'advocate')
    UNION ALL
    SELECT l.profile_id, o.ordered_at, 'buy', 1 FROM orders o
    JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
    WHERE o.status = 'completed' AND l.profile_id IS NOT NULL
    UNION ALL
    SELECT l.profile_id, f.submitted_at, 'advocate', 0 FROM feedback f
    JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source
        AND l.id = f.response_id
    WHERE coalesce(f.public, false) AND l.profile_id IS NOT NULL
    UNION ALL
    SELECT l.profile_id, r.created_at, 'advocate', 0 FROM referrals r
    JOIN profile_links l ON l.kind = 'referrer' AND l.source = r.source
        AND l.id = r.referral_id
    WHERE l.profile_id IS NOT NULL
)"""

RUNS_DEFINITION = f"""acts AS (SELECT * FROM journey_acts),
ranked AS (
    SELECT profile_id, ts, stage, {STAGE_RANK} AS rank_,
           CASE WHEN stage IS DISTINCT FROM lag(stage) OVER (
               PARTITION BY profile_id ORDER BY ts, {STAGE_RANK}) THEN 1 ELSE 0 END AS new_run
    FROM acts
),
numbered AS (
    SELECT *, sum(new_run) OVER (PARTITION BY profile_id ORDER BY ts, rank_
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_no
    FROM ranked
),
runs AS (
    SELECT profile_id, run_no, any_value(stage) AS stage, min(ts) AS started, count(*) AS acts
    FROM numbered GROUP BY profile_id, run_no
)"""

# The acts and their runs are computed once per `build_journey` (see `materialize`); every
# query below reads them from those temporary tables instead of re-deriving them from the
# events each time.
ACTS = "acts AS (SELECT * FROM journey_acts)"
RUNS = "acts AS (SELECT * FROM journey_acts), runs AS (SELECT * FROM journey_runs)"


def materialize() -> list[str]:
    """Statements that build `journey_acts` and `journey_runs` (temporary tables)."""
    return [
        f"CREATE OR REPLACE TEMP TABLE journey_acts AS WITH {ACTS_DEFINITION} SELECT * FROM acts",
        f"CREATE OR REPLACE TEMP TABLE journey_runs AS WITH {RUNS_DEFINITION} SELECT * FROM runs",
    ]


DROP = ["DROP TABLE IF EXISTS journey_acts", "DROP TABLE IF EXISTS journey_runs"]


def stages_sql() -> str:
    """Per stage: profiles who reached it, acts, visits (runs) and profiles whose last stage it
    is (stalled there); `profiles` repeats the number of profiles with any act."""
    return f"""WITH {RUNS},
last_stage AS (
    SELECT profile_id, arg_max(stage, run_no) AS stage FROM runs GROUP BY profile_id
),
reach AS (
    SELECT stage, count(DISTINCT profile_id) AS reached, sum(acts) AS acts,
           count(*) AS visits FROM runs GROUP BY stage
),
stalled AS (SELECT stage, count(*) AS stalled FROM last_stage GROUP BY stage)
SELECT r.stage, r.reached, r.acts, r.visits, coalesce(s.stalled, 0) AS stalled,
       (SELECT count(*) FROM last_stage) AS profiles
FROM reach r LEFT JOIN stalled s USING (stage)"""


def transitions_sql() -> str:
    """Transitions between consecutive stage visits, with the days from one visit's start to
    the next's (its median), and visits of the source stage (the rate's n)."""
    return f"""WITH {RUNS},
steps AS (
    SELECT stage AS from_stage,
           lead(stage) OVER (PARTITION BY profile_id ORDER BY run_no) AS to_stage,
           (epoch(lead(started) OVER (PARTITION BY profile_id ORDER BY run_no))
            - epoch(started)) / 86400.0 AS days
    FROM runs
),
visits AS (SELECT stage AS from_stage, count(*) AS visits FROM runs GROUP BY stage)
SELECT s.from_stage, s.to_stage, count(*) AS transitions, median(s.days) AS median_days,
       any_value(v.visits) AS visits
FROM steps s JOIN visits v USING (from_stage)
WHERE s.to_stage IS NOT NULL GROUP BY s.from_stage, s.to_stage"""


def loop_sql() -> str:
    """Customers (a completed order) and those who complete the loop: after the first order an
    own act, after it an advocacy act, after that another completed order (strictly later)."""
    return f"""WITH {ACTS},
bought AS (SELECT profile_id, min(ts) AS t1 FROM acts WHERE is_order = 1 GROUP BY profile_id),
owned AS (
    SELECT b.profile_id, min(a.ts) AS t2 FROM bought b
    JOIN acts a ON a.profile_id = b.profile_id AND a.stage = 'own' AND a.ts > b.t1
    GROUP BY b.profile_id
),
advocated AS (
    SELECT o.profile_id, min(a.ts) AS t3 FROM owned o
    JOIN acts a ON a.profile_id = o.profile_id AND a.stage = 'advocate' AND a.ts > o.t2
    GROUP BY o.profile_id
),
again AS (
    SELECT DISTINCT v.profile_id FROM advocated v
    JOIN acts a ON a.profile_id = v.profile_id AND a.is_order = 1 AND a.ts > v.t3
)
SELECT (SELECT count(*) FROM bought) AS customers, (SELECT count(*) FROM owned) AS owned,
       (SELECT count(*) FROM advocated) AS advocated, (SELECT count(*) FROM again) AS completed"""


def touchpoints_sql() -> str:
    """Per touchpoint: reach, median duration, success, CES of its answers, and profiles who
    reach the next step of the loop within `$window_s` seconds after one of its events.

    The next step of a buy touchpoint is a completed order; of an own touchpoint, an advocacy
    act; of an advocate touchpoint, a completed order (buy again). The first target at or
    after each event comes from a window over the profile's events and targets together.
    """
    return f"""WITH {ACTS},
marks AS (
    SELECT profile_id, occurred_at AS ts, touchpoint, stage,
           CAST(NULL AS TIMESTAMP) AS order_ts, CAST(NULL AS TIMESTAMP) AS adv_ts
    FROM profile_events WHERE profile_id IS NOT NULL
    UNION ALL
    SELECT profile_id, ts, NULL, NULL, CASE WHEN is_order = 1 THEN ts END,
           CASE WHEN stage = 'advocate' THEN ts END
    FROM acts WHERE is_order = 1 OR stage = 'advocate'
),
nexts AS (
    SELECT profile_id, touchpoint, stage, ts,
           min(order_ts) OVER w AS next_order, min(adv_ts) OVER w AS next_adv
    FROM marks
    WINDOW w AS (PARTITION BY profile_id ORDER BY ts
                 RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
),
events_ AS (
    SELECT e.touchpoint, e.profile_id, e.duration_s, e.success,
           coalesce(tp.stage, e.stage) AS tp_stage
    FROM profile_events e LEFT JOIN touchpoints tp ON tp.touchpoint = e.touchpoint
    WHERE e.profile_id IS NOT NULL
),
per_profile AS (
    SELECT n.touchpoint, n.profile_id,
           max(CASE WHEN n.stage = 'own'
                    THEN coalesce(epoch(n.next_adv) - epoch(n.ts) <= $window_s, false)
                    ELSE coalesce(epoch(n.next_order) - epoch(n.ts) <= $window_s, false)
               END) AS converted
    FROM nexts n
    WHERE n.touchpoint IS NOT NULL GROUP BY n.touchpoint, n.profile_id
),
conv AS (
    SELECT touchpoint, count(*) AS conv_n,
           sum(CASE WHEN converted THEN 1 ELSE 0 END) AS conv_x
    FROM per_profile GROUP BY touchpoint
),
ev AS (
    SELECT touchpoint, mode(tp_stage) AS stage, count(*) AS events,
           count(DISTINCT profile_id) AS profiles, median(duration_s) AS duration_median,
           count(duration_s) AS duration_n, count(success) AS success_n,
           sum(CASE WHEN success THEN 1 ELSE 0 END) AS success_x
    FROM events_ GROUP BY touchpoint
),
ces AS (
    SELECT touchpoint, count(*) AS ces_n, avg(CAST(score AS DOUBLE)) AS ces_mean,
           var_samp(CAST(score AS DOUBLE)) AS ces_var
    FROM feedback WHERE metric = 'ces' AND touchpoint IS NOT NULL GROUP BY touchpoint
),
names AS (
    SELECT touchpoint FROM ev UNION SELECT touchpoint FROM touchpoints
)
SELECT n.touchpoint, coalesce(tp.stage, ev.stage) AS stage, tp.owner,
       coalesce(ev.profiles, 0) AS profiles, coalesce(ev.events, 0) AS events,
       ev.duration_median, coalesce(ev.duration_n, 0) AS duration_n,
       coalesce(ev.success_n, 0) AS success_n, coalesce(ev.success_x, 0) AS success_x,
       coalesce(ces.ces_n, 0) AS ces_n, ces.ces_mean, ces.ces_var,
       coalesce(conv.conv_n, 0) AS conv_n, coalesce(conv.conv_x, 0) AS conv_x
FROM names n LEFT JOIN touchpoints tp USING (touchpoint) LEFT JOIN ev USING (touchpoint)
LEFT JOIN ces USING (touchpoint) LEFT JOIN conv USING (touchpoint)
ORDER BY n.touchpoint"""


def funnel_sql(period: Period) -> str:
    """The funnel per channel and period, and per channel, per period and overall.

    Bound parameters: `$steps` (the three pre-order touchpoints, in funnel order),
    `$cart_s` (cart window, seconds) and `$gap_s` (visit gap, seconds).
    """
    return f"""WITH events_ AS (
    SELECT profile_id, occurred_at, event_id, touchpoint,
           coalesce(channel, '(unknown)') AS channel,
           {period.trunc_sql("occurred_at")} AS period
    FROM profile_events WHERE profile_id IS NOT NULL
),
orders_ AS (
    SELECT l.profile_id, o.ordered_at, coalesce(o.channel, '(unknown)') AS channel,
           {period.trunc_sql("o.ordered_at")} AS period
    FROM orders o
    JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
    WHERE o.status = 'completed' AND l.profile_id IS NOT NULL
),
cells AS (
    SELECT profile_id, channel, period,
           max(CASE WHEN touchpoint = $steps[1] THEN 1 ELSE 0 END) AS s1,
           max(CASE WHEN touchpoint = $steps[2] THEN 1 ELSE 0 END) AS s2,
           max(CASE WHEN touchpoint = $steps[3] THEN 1 ELSE 0 END) AS s3,
           max(is_order) AS s4
    FROM (SELECT profile_id, channel, period, touchpoint, 0 AS is_order FROM events_
          UNION ALL SELECT profile_id, channel, period, NULL, 1 FROM orders_)
    GROUP BY profile_id, channel, period
),
profile_levels AS (
    SELECT channel, period, GROUPING(channel, period) AS lvl,
           max(s1) AS s1, max(s2) AS s2, max(s3) AS s3, max(s4) AS s4
    FROM cells
    GROUP BY GROUPING SETS ((profile_id, channel, period), (profile_id, channel),
                           (profile_id, period), (profile_id))
),
funnel AS (
    SELECT channel, period, lvl, sum(s1) AS viewed, sum(s1 * s2) AS carted,
           sum(s1 * s2 * s3) AS checked_out, sum(s1 * s2 * s3 * s4) AS ordered
    FROM profile_levels GROUP BY channel, period, lvl
),
data_end AS (
    SELECT max(ts) AS ts FROM (SELECT max(occurred_at) AS ts FROM events_
                               UNION ALL SELECT max(ordered_at) FROM orders_)
),
carts AS (
    SELECT e.channel, e.period, e.occurred_at,
           min(o.ordered_at) FILTER (WHERE o.ordered_at >= e.occurred_at) AS next_order
    FROM events_ e LEFT JOIN orders_ o ON o.profile_id = e.profile_id
        AND o.ordered_at >= e.occurred_at
    WHERE e.touchpoint = $steps[2]
      AND epoch(e.occurred_at) + $cart_s <= (SELECT epoch(ts) FROM data_end)
    GROUP BY e.profile_id, e.event_id, e.channel, e.period, e.occurred_at
),
cart_levels AS (
    SELECT channel, period, GROUPING(channel, period) AS lvl, count(*) AS carts,
           sum(CASE WHEN next_order IS NULL
                    OR epoch(next_order) - epoch(occurred_at) > $cart_s
                    THEN 1 ELSE 0 END) AS abandoned
    FROM carts GROUP BY GROUPING SETS ((channel, period), (channel), (period), ())
),
gaps AS (
    SELECT e.*, CASE WHEN lag(occurred_at) OVER p IS NULL
                       OR epoch(occurred_at) - epoch(lag(occurred_at) OVER p) > $gap_s
                     THEN 1 ELSE 0 END AS new_visit
    FROM events_ e WINDOW p AS (PARTITION BY profile_id ORDER BY occurred_at, event_id)
),
visit_ids AS (
    SELECT *, sum(new_visit) OVER (PARTITION BY profile_id ORDER BY occurred_at, event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit_no
    FROM gaps
),
visits AS (
    SELECT arg_min(channel, occurred_at) AS channel, arg_min(period, occurred_at) AS period,
           count(*) AS events
    FROM visit_ids GROUP BY profile_id, visit_no
),
visit_levels AS (
    SELECT channel, period, GROUPING(channel, period) AS lvl, count(*) AS visits,
           sum(CASE WHEN events = 1 THEN 1 ELSE 0 END) AS bounces
    FROM visits GROUP BY GROUPING SETS ((channel, period), (channel), (period), ())
),
keys AS (
    SELECT channel, period, lvl FROM funnel UNION SELECT channel, period, lvl FROM cart_levels
    UNION SELECT channel, period, lvl FROM visit_levels
)
SELECT k.channel, k.period, k.lvl,
       coalesce(f.viewed, 0) AS viewed, coalesce(f.carted, 0) AS carted,
       coalesce(f.checked_out, 0) AS checked_out, coalesce(f.ordered, 0) AS ordered,
       coalesce(c.carts, 0) AS carts, coalesce(c.abandoned, 0) AS abandoned,
       coalesce(v.visits, 0) AS visits, coalesce(v.bounces, 0) AS bounces
FROM keys k
LEFT JOIN funnel f ON f.lvl = k.lvl AND f.channel IS NOT DISTINCT FROM k.channel
    AND f.period IS NOT DISTINCT FROM k.period
LEFT JOIN cart_levels c ON c.lvl = k.lvl AND c.channel IS NOT DISTINCT FROM k.channel
    AND c.period IS NOT DISTINCT FROM k.period
LEFT JOIN visit_levels v ON v.lvl = k.lvl AND v.channel IS NOT DISTINCT FROM k.channel
    AND v.period IS NOT DISTINCT FROM k.period
ORDER BY k.lvl DESC, k.channel NULLS FIRST, k.period NULLS FIRST"""


def paths_sql(target: str, step: str = "touchpoint") -> str:
    """Distinct paths to the first completed order (`purchase`) or the first advocacy act
    (`advocacy`), with journeys and conversions, and the converters with no touchpoint before
    (direct conversions, returned with an empty path). `step` is what a path is made of: the
    events' `touchpoint`, or their `channel` (a missing channel is "(unknown)").

    A converter's path holds its events at or before the first order (purchase) or strictly
    before the first advocacy act (advocacy: the act may itself be an event); a profile that
    never converted has a null path of all its events. Runs of one touchpoint are collapsed
    and the last `$steps` touchpoints kept, oldest first.
    """
    if target == "purchase":
        converting, before = "is_order = 1", "<="
    else:
        converting, before = "stage = 'advocate'", "<"
    if step not in {"touchpoint", "channel"}:
        raise ValueError(f"unknown path step {step!r}")
    value = "e.touchpoint" if step == "touchpoint" else "coalesce(e.channel, '(unknown)')"
    return f"""WITH {ACTS},
firsts AS (SELECT profile_id, min(ts) AS conv_ts FROM acts WHERE {converting}
           GROUP BY profile_id),
ev AS (
    SELECT e.profile_id, {value} AS touchpoint, e.occurred_at, e.event_id, c.conv_ts
    FROM profile_events e LEFT JOIN firsts c USING (profile_id)
    WHERE e.profile_id IS NOT NULL AND (c.conv_ts IS NULL OR e.occurred_at {before} c.conv_ts)
),
marked AS (
    SELECT *, lag(touchpoint) OVER (PARTITION BY profile_id ORDER BY occurred_at, event_id)
        AS previous FROM ev
),
steps AS (
    SELECT *, row_number() OVER (PARTITION BY profile_id
        ORDER BY occurred_at DESC, event_id DESC) AS back
    FROM marked WHERE previous IS NULL OR previous <> touchpoint
),
paths AS (
    SELECT profile_id, list(touchpoint ORDER BY back DESC) AS path,
           max(CASE WHEN conv_ts IS NULL THEN 0 ELSE 1 END) AS converted
    FROM steps WHERE back <= $steps GROUP BY profile_id
)
SELECT path, count(*) AS journeys, sum(converted) AS conversions FROM paths GROUP BY path
UNION ALL
SELECT CAST([] AS VARCHAR[]), count(*), count(*) FROM firsts
WHERE profile_id NOT IN (SELECT profile_id FROM paths)"""
