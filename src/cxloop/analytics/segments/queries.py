"""SQL of the segments: narrow per-profile fact tables once, then one state query per date.

Why two steps: the segment of every profile is needed at the end of the data and at the end
of each of the last periods (transitions). Joining orders, answers, texts and referrals to
their profiles is the expensive part, so it is done once into narrow temporary tables
(`seg_*`), and each as-of state is a set of group-bys over them filtered by `day <= $asof`.

Only identifiers chosen here are written into the SQL; dates, thresholds, the brand and the
model parameters are bound parameters.
"""

from __future__ import annotations

SEGMENTS = ("loyal", "captive", "fan", "other")
"""Loyalty segments in reading order (Dick & Basu 1994: loyalty, spurious loyalty, latent
loyalty, the rest)."""

ATTITUDES = ("affinity", "neutral", "no_affinity", "unknown")

OURS = "(kind = 'feedback' OR lower(trim(brand)) = lower(trim($brand)))"
"""Texts about us in `voc_texts`: all feedback, and mentions of our brand (as in voc)."""

# Profiles get a dense integer key for the work tables: the as-of states group, join and
# store millions of rows per period, and integer keys make that several times cheaper than
# the 17-character profile ids. The mapping is internal to one build.
IDS = """CREATE OR REPLACE TEMP TABLE seg_ids AS
SELECT profile_id, CAST(row_number() OVER (ORDER BY profile_id) AS INTEGER) AS pid FROM profiles"""

# Completed orders per profile and day: a day is one transaction, as in the CLV summary.
ORDERS = """CREATE OR REPLACE TEMP TABLE seg_orders AS
SELECT i.pid, CAST(o.ordered_at AS DATE) AS day, count(*) AS orders,
       sum(CAST(o.amount AS DOUBLE)) AS revenue
FROM orders o
JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
JOIN seg_ids i ON i.profile_id = l.profile_id
WHERE o.status = 'completed'
GROUP BY i.pid, CAST(o.ordered_at AS DATE)"""

NPS = """CREATE OR REPLACE TEMP TABLE seg_nps AS
SELECT i.pid, CAST(f.submitted_at AS DATE) AS day, f.submitted_at, f.source,
       f.response_id, f.score
FROM feedback f
JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
JOIN seg_ids i ON i.profile_id = l.profile_id
WHERE f.metric = 'nps' AND f.score IS NOT NULL"""

TEXTS = f"""CREATE OR REPLACE TEMP TABLE seg_texts AS
SELECT i.pid, CAST(v.occurred_at AS DATE) AS day, v.sentiment
FROM voc_texts v JOIN seg_ids i ON i.profile_id = v.profile_id
WHERE v.sentiment IS NOT NULL AND {OURS}"""

# Advocacy acts (and amplification, kept apart). A converted referral is dated by the order
# that converted it (when found), and credits that order's completed amount to the referrer;
# the order is looked up in the referral's own source first.
ACTS = """CREATE OR REPLACE TEMP TABLE seg_acts AS
WITH made AS (
    SELECT i.pid, r.source, r.referral_id, r.created_at, r.converted_order_id
    FROM referrals r
    JOIN profile_links l ON l.kind = 'referrer' AND l.source = r.source
     AND l.id = r.referral_id
    JOIN seg_ids i ON i.profile_id = l.profile_id
), converted AS (
    SELECT m.pid, coalesce(o.ordered_at, m.created_at) AS converted_at,
           CASE WHEN o.status = 'completed' THEN CAST(o.amount AS DOUBLE) ELSE 0.0 END AS revenue
    FROM made m JOIN orders o ON o.order_id = m.converted_order_id
        AND o.status = 'completed'
    WHERE m.converted_order_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY m.source, m.referral_id
        ORDER BY (o.source = m.source) DESC NULLS LAST, o.source) = 1
)
SELECT pid, CAST(created_at AS DATE) AS day, 'referral' AS act, 0.0 AS revenue FROM made
UNION ALL
SELECT pid, CAST(converted_at AS DATE), 'converted', revenue FROM converted
UNION ALL
SELECT i.pid, CAST(f.submitted_at AS DATE), 'review', 0.0
FROM feedback f
JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
JOIN seg_ids i ON i.profile_id = l.profile_id
WHERE coalesce(f.public, false) AND f.metric = 'rating' AND f.score >= 4
UNION ALL
SELECT i.pid, CAST(v.occurred_at AS DATE), v.intent, 0.0
FROM voc_texts v JOIN seg_ids i ON i.profile_id = v.profile_id
WHERE v.kind = 'mentions' AND v.intent IN ('genuine', 'amplification')
  AND lower(trim(v.brand)) = lower(trim($brand))"""

# Who is segmented: known people (a customer record, a reference or an email) and anyone with
# a fact above; anonymous visitors with web events only are not customers yet. A profile
# enters the population on its first sign of life (record created, order, answer, text, act);
# one with none of those dated is counted from the start.
PEOPLE = """CREATE OR REPLACE TEMP TABLE seg_people AS
WITH seen AS (
    SELECT pid, min(day) AS first_seen FROM (
        SELECT i.pid, CAST(c.created_at AS DATE) AS day
        FROM profile_records pr JOIN customers c USING (source, customer_id)
        JOIN seg_ids i ON i.profile_id = pr.profile_id
        UNION ALL SELECT i.pid, CAST(NULL AS DATE)
        FROM profiles p JOIN seg_ids i ON i.profile_id = p.profile_id WHERE p.known
        UNION ALL SELECT pid, min(day) FROM seg_orders GROUP BY pid
        UNION ALL SELECT pid, min(day) FROM seg_nps GROUP BY pid
        UNION ALL SELECT pid, min(day) FROM seg_texts GROUP BY pid
        UNION ALL SELECT pid, min(day) FROM seg_acts GROUP BY pid
    ) GROUP BY pid
)
SELECT s.pid, i.profile_id, s.first_seen FROM seen s JOIN seg_ids i USING (pid)"""

MATERIALIZE = (IDS, ORDERS, NPS, TEXTS, ACTS, PEOPLE)
TABLES = ("seg_ids", "seg_orders", "seg_nps", "seg_texts", "seg_acts", "seg_people", "seg_clv")

END_SQL = """SELECT CAST(greatest(
    (SELECT max(ordered_at) FROM orders), (SELECT max(submitted_at) FROM feedback),
    (SELECT max(occurred_at) FROM events)) AS DATE),
  CAST(least(
    (SELECT min(ordered_at) FROM orders), (SELECT min(submitted_at) FROM feedback),
    (SELECT min(occurred_at) FROM events)) AS DATE)"""
"""The end (and start) of the data: the last day with an order, an answer or an event."""


def _p_alive(x: str, t_x: str, age: str) -> str:
    """BG/NBD P(alive | x, t_x, T) (Fader, Hardie & Lee 2005, appendix), the formula of
    `BGNBDFitter.probability_alive`, in SQL with the fitted parameters bound: computing it in
    the engine for every as-of date needs no refit and no per-profile Python."""
    log_odds = f"ln($a) - ln($b + {x} - 1) + ($r + {x}) * (ln($alpha + {age}) - ln($alpha + {t_x}))"
    return f"CASE WHEN {x} = 0 THEN 1.0 ELSE 1.0 / (1.0 + exp(least({log_odds}, 700.0))) END"


def state_sql(*, use_clv: bool, with_clv_table: bool) -> str:
    """Every profile's signals, loyalty, attitude, advocacy and segment as of `$asof`.

    Bound: $asof (DATE), $active_days, $min_orders, $min_p_alive, $affinity_min_nps,
    $no_affinity_max_nps, $affinity_min_sentiment, $no_affinity_max_sentiment,
    $advocacy_days (0 = all), and with `use_clv` the BG/NBD $r, $alpha, $a, $b (per week).
    """
    asof = "CAST($asof AS DATE)"
    in_window = f"($advocacy_days = 0 OR day >= {asof} - CAST($advocacy_days AS INTEGER))"
    weeks = "/ 7.0"
    p_alive = (
        _p_alive(
            "o.x",
            f"date_diff('day', o.first_order, o.last_order) {weeks}",
            f"date_diff('day', o.first_order, {asof}) {weeks}",
        )
        if use_clv
        else "CAST(NULL AS DOUBLE)"
    )
    alive_ok = "coalesce(p_alive >= $min_p_alive, false)" if use_clv else "true"
    clv_join = "LEFT JOIN seg_clv c ON c.profile_id = p.profile_id" if with_clv_table else ""
    clv_col = "c.clv" if with_clv_table else "CAST(NULL AS DOUBLE)"
    return f"""
WITH o AS (
    SELECT pid, sum(orders) AS orders, sum(revenue) AS revenue, count(*) - 1 AS x,
           min(day) AS first_order, max(day) AS last_order
    FROM seg_orders WHERE day <= {asof} GROUP BY pid
), n AS (
    SELECT pid, arg_max(score, (submitted_at, source, response_id)) AS latest_nps,
           max(day) AS latest_nps_day
    FROM seg_nps WHERE day <= {asof} GROUP BY pid
), t AS (
    SELECT pid, avg(sentiment) AS sentiment, count(*) AS texts
    FROM seg_texts WHERE day <= {asof} GROUP BY pid
), a AS (
    SELECT pid,
           count(*) FILTER (WHERE act = 'referral' AND {in_window}) AS referrals,
           count(*) FILTER (WHERE act = 'converted' AND {in_window}) AS converted_referrals,
           count(*) FILTER (WHERE act = 'review' AND {in_window}) AS positive_public_reviews,
           count(*) FILTER (WHERE act = 'genuine' AND {in_window}) AS genuine_mentions,
           count(*) FILTER (WHERE act = 'amplification' AND {in_window}) AS amplifications,
           coalesce(sum(revenue) FILTER (WHERE act = 'converted'), 0.0) AS referral_revenue
    FROM seg_acts WHERE day <= {asof} GROUP BY pid
), base AS (
    SELECT p.pid, p.profile_id, coalesce(o.orders, 0) AS orders,
           coalesce(o.revenue, 0.0) AS revenue,
           o.first_order, o.last_order,
           date_diff('day', o.first_order, {asof}) AS tenure_days,
           {p_alive} AS p_alive, {clv_col} AS predicted_clv,
           n.latest_nps, n.latest_nps_day, t.sentiment, coalesce(t.texts, 0) AS texts,
           coalesce(a.referrals, 0) AS referrals,
           coalesce(a.converted_referrals, 0) AS converted_referrals,
           coalesce(a.positive_public_reviews, 0) AS positive_public_reviews,
           coalesce(a.genuine_mentions, 0) AS genuine_mentions,
           coalesce(a.amplifications, 0) AS amplifications,
           coalesce(a.referral_revenue, 0.0) AS referral_revenue
    FROM seg_people p
    LEFT JOIN o ON o.pid = p.pid
    LEFT JOIN n ON n.pid = p.pid
    LEFT JOIN t ON t.pid = p.pid
    LEFT JOIN a ON a.pid = p.pid
    {clv_join}
    WHERE p.first_seen IS NULL OR p.first_seen <= {asof}
), judged AS (
    SELECT *,
           orders >= $min_orders
             AND last_order >= {asof} - CAST($active_days AS INTEGER)
             AND {alive_ok} AS behavioural,
           CASE
             WHEN latest_nps IS NOT NULL THEN CASE
               WHEN latest_nps >= $affinity_min_nps THEN 'affinity'
               WHEN latest_nps <= $no_affinity_max_nps THEN 'no_affinity'
               ELSE 'neutral' END
             WHEN sentiment IS NOT NULL THEN CASE
               WHEN sentiment >= $affinity_min_sentiment THEN 'affinity'
               WHEN sentiment <= $no_affinity_max_sentiment THEN 'no_affinity'
               ELSE 'neutral' END
             ELSE 'unknown' END AS attitude,
           CASE WHEN latest_nps IS NOT NULL THEN 'nps'
                WHEN sentiment IS NOT NULL THEN 'sentiment' END AS attitude_source,
           referrals + converted_referrals + positive_public_reviews + genuine_mentions
             AS advocacy_acts
    FROM base
)
SELECT *,
       CASE WHEN behavioural AND attitude = 'affinity' THEN 'loyal'
            WHEN behavioural AND attitude = 'no_affinity' THEN 'captive'
            WHEN attitude = 'affinity' THEN 'fan'
            ELSE 'other' END AS segment,
       advocacy_acts > 0 AS advocate
FROM judged"""


# Sufficient statistics per segment, per grid cell (segment x advocate) and overall.
STATS = """
SELECT segment, advocate, grouping(segment) AS g_segment, grouping(advocate) AS g_advocate,
       count(*) AS profiles, coalesce(sum(revenue), 0.0) AS revenue,
       avg(revenue) AS value_mean, var_samp(revenue) AS value_var,
       count(predicted_clv) AS clv_n, avg(predicted_clv) AS clv_mean,
       var_samp(predicted_clv) AS clv_var,
       count(*) FILTER (WHERE latest_nps >= 9) AS promoters,
       count(*) FILTER (WHERE latest_nps >= 7 AND latest_nps < 9) AS passives,
       count(*) FILTER (WHERE latest_nps < 7) AS detractors,
       coalesce(sum(referral_revenue), 0.0) AS referral_revenue,
       count(*) FILTER (WHERE advocate) AS advocates,
       count(*) FILTER (WHERE NOT advocate AND amplifications > 0) AS amplifiers_only,
       count(*) FILTER (WHERE behavioural) AS behavioural,
       count(*) FILTER (WHERE behavioural AND attitude = 'unknown') AS behavioural_unknown,
       count(*) FILTER (WHERE behavioural AND attitude = 'neutral') AS behavioural_neutral,
       count(*) FILTER (WHERE attitude = 'affinity') AS affinity,
       count(*) FILTER (WHERE attitude = 'no_affinity') AS no_affinity,
       count(*) FILTER (WHERE attitude = 'neutral') AS neutral,
       count(*) FILTER (WHERE attitude = 'unknown') AS unknown,
       count(*) FILTER (WHERE attitude_source = 'nps') AS by_nps,
       count(*) FILTER (WHERE attitude_source = 'sentiment') AS by_sentiment
FROM seg_profiles
GROUP BY GROUPING SETS ((segment, advocate), (segment), ())"""
