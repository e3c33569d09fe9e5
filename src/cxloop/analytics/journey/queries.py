"""SQL of the journey analyses, computed in the engine.

Every query reads temporary tables built once per `build_journey` (`materialize`), because
the work is in sorting and joining tens of millions of events and doing that once beats doing
it per query:

- `journey_ids`, `journey_touchpoints`, `journey_channels`: small integer codes for profiles
  (`pid`), touchpoints (`tpc`) and channels (`chc`, a missing channel is "(unknown)"). Sorts,
  joins and groupings over integers instead of strings are several times faster (a string
  carried through the events' sort alone doubled its time). Codes never reach a result:
  names are put back at the end, and codes follow the names' order.
- `journey_events`: the profiles' events in order (time, then `event_id`) with what the
  queries need from their neighbours, all from ONE sort (window functions that share a window
  are evaluated together): whether the touchpoint and the channel differ from the previous
  event's (a new path step), the gaps to the previous and next event (visits) and the
  position `seq` (the order of path steps). Paths, visits and bounces used to sort the
  events once each. Profiles with two events at one time are sorted again (`_events`).
- `journey_orders`: completed orders with their profile and channel.
- `journey_acts`: one row per loop act with its stage as a rank (buy 0, own 1, advocate 2).
- `journey_runs`: one row per stage visit (run of acts of one stage) with the next visit's
  stage and start: transitions, visits and last stages without numbering every act.

Only identifiers chosen by the program are written into the SQL; windows, gaps, touchpoint
names and path lengths are bound parameters. The conventions are those of `docs/journey.md`.
"""

from __future__ import annotations

from cxloop.analytics.periods import Period

STAGES = ("buy", "own", "advocate")
# A stage's rank in the loop, which also orders acts at the same time; null for no stage.
STAGE_RANK = "CASE {} WHEN 'buy' THEN 0 WHEN 'own' THEN 1 WHEN 'advocate' THEN 2 END"
STAGE_NAME = "['buy', 'own', 'advocate'][{} + 1]"
CHANNEL = "coalesce({}, '(unknown)')"

# Every profile with an event or a linked order, answer or referral gets its integer `pid`.
IDS = """CREATE OR REPLACE TEMP TABLE journey_ids AS
SELECT profile_id, CAST(row_number() OVER (ORDER BY profile_id) AS INTEGER) AS pid
FROM (
    SELECT profile_id FROM profile_events WHERE profile_id IS NOT NULL
    UNION
    SELECT profile_id FROM profile_links
    WHERE kind IN ('orders', 'feedback', 'referrer') AND profile_id IS NOT NULL
)"""

# Codes 1..n in the names' order (a list of the names indexed by code gives the name back).
TOUCHPOINT_CODES = """CREATE OR REPLACE TEMP TABLE journey_touchpoints AS
SELECT touchpoint, CAST(row_number() OVER (ORDER BY touchpoint) AS INTEGER) AS tpc
FROM (SELECT DISTINCT touchpoint FROM profile_events
      WHERE profile_id IS NOT NULL AND touchpoint IS NOT NULL)"""

CHANNEL_CODES = f"""CREATE OR REPLACE TEMP TABLE journey_channels AS
SELECT channel, CAST(row_number() OVER (ORDER BY channel) AS INTEGER) AS chc
FROM (SELECT {CHANNEL.format("channel")} AS channel FROM profile_events
      WHERE profile_id IS NOT NULL
      UNION SELECT {CHANNEL.format("channel")} FROM orders WHERE status = 'completed')"""

ORDERS = f"""CREATE OR REPLACE TEMP TABLE journey_orders AS
SELECT i.pid, o.ordered_at AS ts, c.chc
FROM orders o
JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
JOIN journey_ids i ON i.profile_id = l.profile_id
JOIN journey_channels c ON c.channel = {CHANNEL.format("o.channel")}
WHERE o.status = 'completed'"""


TIED = "journey_tied"  # profiles with two events at one time


def _events(again: bool = False) -> str:
    """The rows of `journey_events`: each profile's events with what the queries need from
    their neighbours, from one sort (window functions that share a window are evaluated
    together).

    `tp_new` / `ch_new`: the event starts a new path step, i.e. the previous event's
    touchpoint (channel) is missing or different; a path cut at a conversion keeps a prefix of
    this order, so the previous event within the prefix is the previous event overall.
    `gap_before` and `gap_after`: seconds since the previous and until the next event (null at
    the ends), the same double computed once, so a visit start (`gap_before` over the visit
    gap) and the next event's start (`gap_after` over it) agree exactly. `seq`: the position.
    `tied`: the event has the time of the previous one. `dup`: the event repeats the previous
    one's `event_id`, time, touchpoint and channel (the same event from two sources), which
    the cart abandonment counts once. A missing touchpoint (which the contract does not
    allow) has code 0 and still counts as missing for `tp_new`.

    Events are ordered by time, then `event_id`. Sorting by a string costs about as much as
    the rest of the sort, and only events at the same time of one profile need it: the first
    pass sorts by time alone; `again` sorts the (few) profiles with two events at one time by
    (time, `event_id`), then channel and touchpoint, which puts repeats of one event next to
    each other (their order is otherwise arbitrary). A profile without a tie is in the same
    order either way, and has no repeats.
    """
    if again:
        order = "occurred_at, event_id, chc, tpc"
        where = (
            f"WHERE e.profile_id IN (SELECT profile_id FROM journey_ids JOIN {TIED} USING (pid))"
        )
        dup = """coalesce(lag(event_id) OVER w = event_id AND lag(occurred_at) OVER w = occurred_at
                AND lag(chc) OVER w = chc AND lag(tpc) OVER w IS NOT DISTINCT FROM tpc, false)"""
    else:
        order, where, dup = "occurred_at", "", "false"
    return f"""SELECT pid, occurred_at, coalesce(tpc, 0) AS tpc, chc, rank_,
       coalesce(lag(tpc) OVER w IS NULL OR lag(tpc) OVER w <> tpc, false) AS tp_new,
       coalesce(lag(chc) OVER w IS NULL OR lag(chc) OVER w <> chc, false) AS ch_new,
       epoch(occurred_at) - epoch(lag(occurred_at) OVER w) AS gap_before,
       epoch(lead(occurred_at) OVER w) - epoch(occurred_at) AS gap_after,
       CAST(row_number() OVER w AS INTEGER) AS seq,
       coalesce(occurred_at = lag(occurred_at) OVER w, false) AS tied,
       {dup} AS dup
FROM (
    SELECT i.pid, e.occurred_at, e.event_id, t.tpc, c.chc,
           CAST({STAGE_RANK.format("e.stage")} AS TINYINT) AS rank_
    FROM profile_events e
    JOIN journey_ids i ON i.profile_id = e.profile_id
    JOIN journey_channels c ON c.channel = {CHANNEL.format("e.channel")}
    LEFT JOIN journey_touchpoints t ON t.touchpoint = e.touchpoint
    {where}
)
WINDOW w AS (PARTITION BY pid ORDER BY {order})"""


# The tied profiles' rows of the first pass are replaced by those of the second.
EVENTS = [
    f"CREATE OR REPLACE TEMP TABLE journey_events AS {_events()}",
    f"CREATE OR REPLACE TEMP TABLE {TIED} AS SELECT DISTINCT pid FROM journey_events WHERE tied",
    f"DELETE FROM journey_events WHERE pid IN (SELECT pid FROM {TIED})",
    f"INSERT INTO journey_events BY NAME {_events(again=True)}",
]

# One row per loop act: events with their (event or catalogue) stage, completed orders (buy),
# public reviews and referrals made (advocate).
ACTS = """CREATE OR REPLACE TEMP TABLE journey_acts AS
SELECT pid, occurred_at AS ts, rank_, false AS is_order FROM journey_events
WHERE rank_ IS NOT NULL
UNION ALL
SELECT pid, ts, CAST(0 AS TINYINT), true FROM journey_orders
UNION ALL
SELECT i.pid, f.submitted_at, CAST(2 AS TINYINT), false FROM feedback f
JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
JOIN journey_ids i ON i.profile_id = l.profile_id
WHERE coalesce(f.public, false)
UNION ALL
SELECT i.pid, r.created_at, CAST(2 AS TINYINT), false FROM referrals r
JOIN profile_links l ON l.kind = 'referrer' AND l.source = r.source AND l.id = r.referral_id
JOIN journey_ids i ON i.profile_id = l.profile_id"""

# A visit of a stage starts at an act whose stage differs from the previous act's (acts by
# time, ties by stage; acts tied on both have one stage, so their order does not matter).
# Starts are unique per (time, stage) within a profile, so the second window, over the starts
# only, orders them fully: each visit's next one is the next start.
RUNS = """CREATE OR REPLACE TEMP TABLE journey_runs AS
WITH starts AS (
    SELECT pid, ts, rank_,
           rank_ IS DISTINCT FROM lag(rank_) OVER (PARTITION BY pid ORDER BY ts, rank_)
               AS new_run
    FROM journey_acts
)
SELECT pid, rank_, ts AS started,
       lead(rank_) OVER r AS next_rank, lead(ts) OVER r AS next_started
FROM starts WHERE new_run
WINDOW r AS (PARTITION BY pid ORDER BY ts, rank_)"""

TABLES = (
    "journey_ids",
    "journey_touchpoints",
    "journey_channels",
    "journey_orders",
    "journey_events",
    TIED,
    "journey_acts",
    "journey_runs",
)


def materialize() -> list[str]:
    """Statements that build the temporary tables every query reads, in order."""
    return [IDS, TOUCHPOINT_CODES, CHANNEL_CODES, ORDERS, *EVENTS, ACTS, RUNS]


DROP = [f"DROP TABLE IF EXISTS {name}" for name in reversed(TABLES)]


def stages_sql() -> str:
    """Per stage: profiles who reached it, acts, visits (runs) and profiles whose last stage it
    is (stalled there: their last visit has no next); `profiles` repeats the number of
    profiles with any act."""
    return f"""WITH reach AS (
    SELECT rank_, count(DISTINCT pid) AS reached, count(*) AS visits,
           count(*) FILTER (WHERE next_rank IS NULL) AS stalled
    FROM journey_runs GROUP BY rank_
),
acts AS (SELECT rank_, count(*) AS acts FROM journey_acts GROUP BY rank_)
SELECT {STAGE_NAME.format("r.rank_")} AS stage, r.reached, a.acts, r.visits, r.stalled,
       (SELECT count(*) FROM journey_runs WHERE next_rank IS NULL) AS profiles
FROM reach r JOIN acts a USING (rank_)"""


def transitions_sql() -> str:
    """Transitions between consecutive stage visits, with the days from one visit's start to
    the next's (its median), and visits of the source stage (the rate's n)."""
    return f"""WITH visits AS (SELECT rank_, count(*) AS visits FROM journey_runs GROUP BY rank_)
SELECT {STAGE_NAME.format("s.rank_")} AS from_stage,
       {STAGE_NAME.format("s.next_rank")} AS to_stage, count(*) AS transitions,
       median((epoch(s.next_started) - epoch(s.started)) / 86400.0) AS median_days,
       any_value(v.visits) AS visits
FROM journey_runs s JOIN visits v USING (rank_)
WHERE s.next_rank IS NOT NULL GROUP BY s.rank_, s.next_rank"""


def loop_sql() -> str:
    """Customers (a completed order) and those who complete the loop: after the first order an
    own act, after it an advocacy act, after that another completed order (strictly later)."""
    return """WITH acts AS (SELECT * FROM journey_acts),
bought AS (SELECT pid, min(ts) AS t1 FROM acts WHERE is_order GROUP BY pid),
owned AS (
    SELECT b.pid, min(a.ts) AS t2 FROM bought b
    JOIN acts a ON a.pid = b.pid AND a.rank_ = 1 AND a.ts > b.t1
    GROUP BY b.pid
),
advocated AS (
    SELECT o.pid, min(a.ts) AS t3 FROM owned o
    JOIN acts a ON a.pid = o.pid AND a.rank_ = 2 AND a.ts > o.t2
    GROUP BY o.pid
),
again AS (
    SELECT DISTINCT v.pid FROM advocated v
    JOIN acts a ON a.pid = v.pid AND a.is_order AND a.ts > v.t3
)
SELECT (SELECT count(*) FROM bought) AS customers, (SELECT count(*) FROM owned) AS owned,
       (SELECT count(*) FROM advocated) AS advocated, (SELECT count(*) FROM again) AS completed"""


def touchpoints_sql() -> str:
    """Per touchpoint: reach, median duration, success, CES of its answers, and profiles who
    reach the next step of the loop within `$window_s` seconds after one of its events.

    The next step of a buy touchpoint is a completed order; of an own touchpoint, an advocacy
    act; of an advocate touchpoint, a completed order (buy again). A profile converts when
    some target follows one of its events there (at or after it) within the window: the first
    target at or after the event is within the window exactly when some target is, so a join
    on the profile with the window as condition replaces a sort of events and targets
    together. The profiles with an event at the touchpoint are the groups of that join (no
    `count(DISTINCT)` over the events). An event's stage already falls back to the
    catalogue's, and the catalogue's stage wins in the result, so the events' most common
    stage needs no join with the catalogue.
    """
    return """WITH targets AS (
    SELECT pid, ts, CASE WHEN is_order THEN 0 ELSE 1 END AS target
    FROM journey_acts WHERE is_order OR rank_ = 2
),
per_profile AS (
    SELECT e.tpc, e.pid, count(t.pid) > 0 AS converted
    FROM journey_events e LEFT JOIN targets t ON t.pid = e.pid
        AND t.target = CASE WHEN e.rank_ = 1 THEN 1 ELSE 0 END
        AND t.ts >= e.occurred_at AND epoch(t.ts) - epoch(e.occurred_at) <= $window_s
    GROUP BY e.tpc, e.pid
),
conv AS (
    SELECT d.touchpoint, count(*) AS conv_n,
           sum(CASE WHEN p.converted THEN 1 ELSE 0 END) AS conv_x
    FROM per_profile p JOIN journey_touchpoints d USING (tpc) GROUP BY d.touchpoint
),
ev AS (
    SELECT touchpoint, mode(stage) AS stage, count(*) AS events,
           median(duration_s) AS duration_median,
           count(duration_s) AS duration_n, count(success) AS success_n,
           sum(CASE WHEN success THEN 1 ELSE 0 END) AS success_x
    FROM profile_events WHERE profile_id IS NOT NULL GROUP BY touchpoint
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
       coalesce(conv.conv_n, 0) AS profiles, coalesce(ev.events, 0) AS events,
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

    A profile's steps in a cell are bits of one integer (view 1, cart 2, checkout 4, order 8),
    so rolling cells up to a channel, a period or overall is one `bit_or`; only the funnel's
    events and the orders make cells (other events add no step), and every channel and period
    with an event or order has its rows (`cell_keys`), with zeros where nobody is in the
    funnel. A visit is counted
    at its first event (a gap over `$gap_s` before it, or none), and is a bounce when the
    next event also starts a visit (or there is none): no numbering of visits is needed.
    """
    return f"""WITH codes AS (
    SELECT (SELECT tpc FROM journey_touchpoints WHERE touchpoint = $steps[1]) AS s1,
           (SELECT tpc FROM journey_touchpoints WHERE touchpoint = $steps[2]) AS s2,
           (SELECT tpc FROM journey_touchpoints WHERE touchpoint = $steps[3]) AS s3
),
cells AS (
    SELECT pid, chc, period, bit_or(steps) AS steps
    FROM (SELECT e.pid, e.chc, {period.trunc_sql("e.occurred_at")} AS period,
                 CASE WHEN e.tpc = s.s1 THEN 1 ELSE 0 END
                 + CASE WHEN e.tpc = s.s2 THEN 2 ELSE 0 END
                 + CASE WHEN e.tpc = s.s3 THEN 4 ELSE 0 END AS steps
          FROM journey_events e, codes s WHERE e.tpc IN (s.s1, s.s2, s.s3)
          UNION ALL
          SELECT pid, chc, {period.trunc_sql("ts")}, 8 FROM journey_orders)
    GROUP BY pid, chc, period
),
cell_keys AS (
    SELECT chc, period, GROUPING(chc, period) AS lvl
    FROM (SELECT DISTINCT chc, {period.trunc_sql("day")} AS period
          FROM (SELECT DISTINCT chc, CAST(occurred_at AS DATE) AS day FROM journey_events
                UNION SELECT DISTINCT chc, CAST(ts AS DATE) FROM journey_orders))
    GROUP BY GROUPING SETS ((chc, period), (chc), (period), ())
),
profile_levels AS (
    SELECT chc, period, 0 AS lvl, steps FROM cells
    UNION ALL
    SELECT chc, period, GROUPING(chc, period) AS lvl, bit_or(steps) AS steps
    FROM cells GROUP BY GROUPING SETS ((pid, chc), (pid, period), (pid))
),
funnel AS (
    SELECT chc, period, lvl, count(*) FILTER (WHERE steps & 1 = 1) AS viewed,
           count(*) FILTER (WHERE steps & 3 = 3) AS carted,
           count(*) FILTER (WHERE steps & 7 = 7) AS checked_out,
           count(*) FILTER (WHERE steps & 15 = 15) AS ordered
    FROM profile_levels GROUP BY chc, period, lvl
),
data_end AS (
    SELECT max(ts) AS ts FROM (SELECT max(occurred_at) AS ts FROM journey_events
                               UNION ALL SELECT max(ts) FROM journey_orders)
),
carts AS (
    SELECT e.chc, {period.trunc_sql("e.occurred_at")} AS period, e.occurred_at,
           min(o.ts) FILTER (WHERE o.ts >= e.occurred_at) AS next_order
    FROM journey_events e JOIN codes s ON e.tpc = s.s2
    LEFT JOIN journey_orders o ON o.pid = e.pid AND o.ts >= e.occurred_at
    WHERE NOT e.dup AND epoch(e.occurred_at) + $cart_s <= (SELECT epoch(ts) FROM data_end)
    GROUP BY e.pid, e.seq, e.chc, e.occurred_at
),
cart_levels AS (
    SELECT chc, period, GROUPING(chc, period) AS lvl, count(*) AS carts,
           sum(CASE WHEN next_order IS NULL
                    OR epoch(next_order) - epoch(occurred_at) > $cart_s
                    THEN 1 ELSE 0 END) AS abandoned
    FROM carts GROUP BY GROUPING SETS ((chc, period), (chc), (period), ())
),
visit_levels AS (
    SELECT chc, period, GROUPING(chc, period) AS lvl, count(*) AS visits,
           sum(CASE WHEN gap_after IS NULL OR gap_after > $gap_s THEN 1 ELSE 0 END)
               AS bounces
    FROM (SELECT chc, {period.trunc_sql("occurred_at")} AS period, gap_after
          FROM journey_events WHERE gap_before IS NULL OR gap_before > $gap_s)
    GROUP BY GROUPING SETS ((chc, period), (chc), (period), ())
),
keys AS (
    SELECT chc, period, lvl FROM cell_keys UNION SELECT chc, period, lvl FROM cart_levels
    UNION SELECT chc, period, lvl FROM visit_levels
)
SELECT n.channel, k.period, k.lvl,
       coalesce(f.viewed, 0) AS viewed, coalesce(f.carted, 0) AS carted,
       coalesce(f.checked_out, 0) AS checked_out, coalesce(f.ordered, 0) AS ordered,
       coalesce(c.carts, 0) AS carts, coalesce(c.abandoned, 0) AS abandoned,
       coalesce(v.visits, 0) AS visits, coalesce(v.bounces, 0) AS bounces
FROM keys k
LEFT JOIN journey_channels n ON n.chc = k.chc
LEFT JOIN funnel f ON f.lvl = k.lvl AND f.chc IS NOT DISTINCT FROM k.chc
    AND f.period IS NOT DISTINCT FROM k.period
LEFT JOIN cart_levels c ON c.lvl = k.lvl AND c.chc IS NOT DISTINCT FROM k.chc
    AND c.period IS NOT DISTINCT FROM k.period
LEFT JOIN visit_levels v ON v.lvl = k.lvl AND v.chc IS NOT DISTINCT FROM k.chc
    AND v.period IS NOT DISTINCT FROM k.period
ORDER BY k.lvl DESC, n.channel NULLS FIRST, k.period NULLS FIRST"""


def paths_sql(target: str, step: str = "touchpoint") -> str:
    """Distinct paths to the first completed order (`purchase`) or the first advocacy act
    (`advocacy`), with journeys and conversions, and the converters with no touchpoint before
    (direct conversions, returned with an empty path). `step` is what a path is made of: the
    events' `touchpoint`, or their `channel` (a missing channel is "(unknown)").

    A converter's path holds its events at or before the first order (purchase) or strictly
    before the first advocacy act (advocacy: the act may itself be an event); a profile that
    never converted has a null path of all its events. Runs of one touchpoint are collapsed
    (only events that start a step, `tp_new` / `ch_new`, are read) and the last `$steps`
    steps kept, oldest first: the `$steps` largest positions per profile (`max_by` keeps a
    small heap per profile instead of numbering every step in another sort). Paths are
    grouped as lists of codes and named at the end.
    """
    if target == "purchase":
        converting, before = "is_order", "<="
    else:
        converting, before = "rank_ = 2", "<"
    if step == "touchpoint":
        code, new, name, codes = "tpc", "tp_new", "touchpoint", "journey_touchpoints"
    elif step == "channel":
        code, new, name, codes = "chc", "ch_new", "channel", "journey_channels"
    else:
        raise ValueError(f"unknown path step {step!r}")
    return f"""WITH firsts AS (
    SELECT pid, min(ts) AS conv_ts FROM journey_acts WHERE {converting} GROUP BY pid
),
steps AS (
    SELECT e.pid, e.{code} AS step, e.seq, c.conv_ts
    FROM journey_events e LEFT JOIN firsts c USING (pid)
    WHERE e.{new} AND (c.conv_ts IS NULL OR e.occurred_at {before} c.conv_ts)
),
paths AS (
    SELECT pid, list_reverse(max_by(step, seq, $steps)) AS path,
           max(CASE WHEN conv_ts IS NULL THEN 0 ELSE 1 END) AS converted
    FROM steps GROUP BY pid
),
counted AS (
    SELECT path, count(*) AS journeys, sum(converted) AS conversions FROM paths GROUP BY path
),
names AS (SELECT list({name} ORDER BY {code}) AS names FROM {codes})
SELECT list_transform(c.path, lambda x: n.names[x]) AS path, c.journeys, c.conversions
FROM counted c, names n
UNION ALL
SELECT CAST([] AS VARCHAR[]), count(*), count(*) FROM firsts
WHERE pid NOT IN (SELECT pid FROM paths)"""
