"""The advocacy score: who already advocates, and who could (computed in the warehouse).

The score counts intentional acts only (research: a like or a share is amplification; a
referral, a public review, a recommending post or a reference is advocacy), each weighted by
`[advocacy] score_weights`, plus the reach of the person's recommending posts:

    score = w_referral x referrals made + w_converted x referrals converted
          + w_review x public reviews with text + w_mention x recommending mentions
          + w_reference x references and stories given + w_reach x log10(1 + reach)

Every part is kept beside the score, so an advocate's rank can be explained. Converted
referrals held or rejected for fraud do not count. Potential advocates are promoters (latest
likelihood to recommend 9-10) with no act yet, ranked by the value they bring (completed
revenue over the last 365 days of the data).

All of it is a handful of group-bys over per-profile summaries in the engine: one pass over
each table whatever the number of profiles (benchmarks/advocacy.py: 1,000,000 profiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cxloop.config import AdvocacySettings

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

SCORE_TABLE = "adv_scores"

_MENTIONS_BY_INTENT = """
SELECT v.profile_id, count(*) AS mentions, coalesce(sum(m.reach), 0) AS reach
FROM voc_texts v JOIN mentions m ON m.mention_id = v.id
WHERE v.kind = 'mentions' AND v.intent = 'genuine' AND v.profile_id IS NOT NULL
  AND lower(trim(v.brand)) = lower(trim($brand))
GROUP BY v.profile_id
"""
# Without the VoC analysis (intent of each text), a mention of our brand that says it
# recommends us is the recommending mention (the generator plants them so).
_MENTIONS_BY_WORDS = """
SELECT l.profile_id, count(*) AS mentions, coalesce(sum(m.reach), 0) AS reach
FROM mentions m
JOIN profile_links l ON l.kind = 'mentions' AND l.source = 'default' AND l.id = m.mention_id
WHERE l.profile_id IS NOT NULL AND lower(trim(m.brand)) = lower(trim($brand))
  AND m.kind IN ('post', 'review', 'reply') AND lower(coalesce(m.text, '')) LIKE '%recommend%'
GROUP BY l.profile_id
"""

_SCORES = """
CREATE OR REPLACE TEMP TABLE adv_scores AS
WITH excluded AS (SELECT DISTINCT unnest($excluded) AS ref),
made AS (
    SELECT l.profile_id, count(*) AS referrals,
           count(*) FILTER (WHERE nullif(trim(r.converted_order_id), '') IS NOT NULL
                              AND x.ref IS NULL) AS converted
    FROM referrals r
    JOIN profile_links l ON l.kind = 'referrer' AND l.source = r.source AND l.id = r.referral_id
    LEFT JOIN excluded x ON x.ref = r.source || ':' || r.referral_id
    WHERE l.profile_id IS NOT NULL
    GROUP BY l.profile_id
),
coded AS (  -- conversions through store-issued codes that no referral row names
    SELECT profile_id, count(*) AS converted FROM (SELECT unnest($coded) AS profile_id)
    GROUP BY profile_id
),
reviews AS (
    SELECT l.profile_id, count(*) AS reviews
    FROM feedback f
    JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
    WHERE l.profile_id IS NOT NULL AND coalesce(f.public, false)
      AND trim(coalesce(f.text, '')) <> ''
    GROUP BY l.profile_id
),
mentions AS ({mentions}),
refs AS (
    SELECT profile_id, count(*) AS refs FROM (SELECT unnest($references) AS profile_id)
    GROUP BY profile_id
),
acts AS (
    SELECT profile_id,
           sum(referrals) AS referrals, sum(converted) AS converted, sum(reviews) AS reviews,
           sum(mentions) AS mentions, sum(reach) AS reach, sum(refs) AS refs
    FROM (
        SELECT profile_id, referrals, converted, 0 AS reviews, 0 AS mentions, 0 AS reach,
               0 AS refs FROM made
        UNION ALL SELECT profile_id, 0, converted, 0, 0, 0, 0 FROM coded
        UNION ALL SELECT profile_id, 0, 0, reviews, 0, 0, 0 FROM reviews
        UNION ALL SELECT profile_id, 0, 0, 0, mentions, reach, 0 FROM mentions
        UNION ALL SELECT profile_id, 0, 0, 0, 0, 0, refs FROM refs
    ) GROUP BY profile_id
)
SELECT profile_id,
       CAST(referrals AS BIGINT) AS referrals, CAST(converted AS BIGINT) AS converted,
       CAST(reviews AS BIGINT) AS reviews, CAST(mentions AS BIGINT) AS mentions,
       CAST(refs AS BIGINT) AS "references", CAST(reach AS BIGINT) AS reach,
       round($w_referral * referrals + $w_converted * converted + $w_review * reviews
             + $w_mention * mentions + $w_reference * refs
             + $w_reach * log10(1 + reach), 2) AS score
FROM acts
"""

_PROMOTERS = """
CREATE OR REPLACE TEMP TABLE adv_promoters AS
WITH latest AS (
    SELECT l.profile_id, arg_max(f.score, f.submitted_at) AS nps
    FROM feedback f
    JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
    WHERE l.profile_id IS NOT NULL AND f.metric = 'nps' AND f.score IS NOT NULL
    GROUP BY l.profile_id
), value AS (
    SELECT l.profile_id, sum(o.amount) AS revenue
    FROM orders o
    JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
    WHERE l.profile_id IS NOT NULL AND o.status = 'completed'
      AND o.ordered_at > (SELECT max(ordered_at) FROM orders) - INTERVAL 365 DAY
    GROUP BY l.profile_id
)
SELECT t.profile_id, CAST(t.nps AS INTEGER) AS nps,
       CAST(coalesce(v.revenue, 0) AS DECIMAL(18, 2)) AS value_365d
FROM latest t LEFT JOIN value v USING (profile_id)
WHERE t.nps >= 9 AND t.profile_id NOT IN (SELECT profile_id FROM adv_scores)
"""


@dataclass(frozen=True)
class StoreFacts:
    """What the program store adds to the warehouse's acts."""

    excluded_referrals: list[str]  # referral refs whose conversion is flagged or rejected
    coded_conversions: list[str]  # referrer per conversion through a store code only
    references: list[str]  # profile per completed story or reference ask


def compute_scores(
    ws: Workspace, settings: AdvocacySettings, facts: StoreFacts | None = None
) -> int:
    """Build the temporary tables `adv_scores` (one row per profile with an act) and
    `adv_promoters` (potential advocates); returns the number of advocates."""
    ws.profiles.ensure_current()
    facts = facts or StoreFacts([], [], [])
    weights = {f"w_{k}": float(v) for k, v in settings.weights().items()}
    for part in ("referral", "converted", "review", "mention", "reference", "reach"):
        weights.setdefault(f"w_{part}", 0.0)
    mentions = _MENTIONS_BY_INTENT if ws.engine.table_exists("voc_texts") else _MENTIONS_BY_WORDS
    params: dict[str, Any] = {
        "excluded": facts.excluded_referrals,
        "coded": facts.coded_conversions,
        "references": facts.references,
        "brand": ws.config.brand.name,
        **weights,
    }
    ws.engine.execute(_SCORES.replace("{mentions}", mentions), params)
    ws.engine.execute(_PROMOTERS)
    return int(ws.engine.scalar("SELECT count(*) FROM adv_scores WHERE score > 0") or 0)


def level_of(score: float, settings: AdvocacySettings) -> str | None:
    """The highest level whose minimum the score reaches (None below the first)."""
    level = None
    for name, minimum in settings.level_thresholds():
        if score >= minimum:
            level = name
    return level


PARTS = ("referrals", "converted", "reviews", "mentions", "references", "reach")
_PART_COLUMNS = ", ".join(f'"{part}"' for part in PARTS)


def top_advocates(ws: Workspace, settings: AdvocacySettings, limit: int) -> list[dict[str, Any]]:
    """The leaderboard: advocates by score, with the parts of their score and their level."""
    rows = ws.engine.fetchall(
        f"SELECT profile_id, {_PART_COLUMNS}, score FROM adv_scores "
        "WHERE score > 0 ORDER BY score DESC, profile_id LIMIT ?",
        [limit],
    )
    out = []
    for row in rows:
        parts = dict(zip(PARTS, (int(v) for v in row[1:-1]), strict=True))
        score = float(row[-1])
        out.append({"profile_id": row[0], "score": score, "level": level_of(score, settings),
                    "parts": parts})  # fmt: skip
    return out


def potential_advocates(ws: Workspace, limit: int) -> list[dict[str, Any]]:
    """Promoters who have not acted yet, the most valuable first."""
    rows = ws.engine.fetchall(
        "SELECT profile_id, nps, value_365d FROM adv_promoters "
        "ORDER BY value_365d DESC, nps DESC, profile_id LIMIT ?",
        [limit],
    )
    return [{"profile_id": p, "nps": int(n), "value_365d": str(v)} for p, n, v in rows]


_ONE_PROFILE = """
SELECT
    (SELECT count(*) FROM profile_links l JOIN referrals r ON l.kind = 'referrer'
       AND r.source = l.source AND r.referral_id = l.id WHERE l.profile_id = $p),
    (SELECT count(*) FROM profile_links l JOIN referrals r ON l.kind = 'referrer'
       AND r.source = l.source AND r.referral_id = l.id WHERE l.profile_id = $p
       AND nullif(trim(r.converted_order_id), '') IS NOT NULL
       AND NOT list_contains($excluded, r.source || ':' || r.referral_id)),
    (SELECT count(*) FROM profile_links l JOIN feedback f ON l.kind = 'feedback'
       AND f.source = l.source AND f.response_id = l.id WHERE l.profile_id = $p
       AND coalesce(f.public, false) AND trim(coalesce(f.text, '')) <> ''),
    (SELECT count(*) FROM mentions m JOIN profile_links l ON l.kind = 'mentions'
       AND l.source = 'default' AND l.id = m.mention_id WHERE l.profile_id = $p
       AND lower(trim(m.brand)) = lower(trim($brand)) AND m.kind IN ('post', 'review', 'reply')
       AND lower(coalesce(m.text, '')) LIKE '%recommend%'),
    (SELECT coalesce(sum(m.reach), 0) FROM mentions m JOIN profile_links l
       ON l.kind = 'mentions' AND l.source = 'default' AND l.id = m.mention_id
       WHERE l.profile_id = $p AND lower(trim(m.brand)) = lower(trim($brand))
       AND m.kind IN ('post', 'review', 'reply')
       AND lower(coalesce(m.text, '')) LIKE '%recommend%')
"""


def profile_score(
    ws: Workspace,
    profile_id: str,
    settings: AdvocacySettings,
    facts: StoreFacts | None = None,
) -> dict[str, Any]:
    """One person's advocacy score with its parts and level, without scoring everyone: the
    same definition as `compute_scores`, except that recommending mentions are always found
    by their words (the VoC intents are a whole-workspace analysis)."""
    ws.profiles.ensure_current()
    facts = facts or StoreFacts([], [], [])
    row = ws.engine.fetchone(
        _ONE_PROFILE,
        {"p": profile_id, "excluded": facts.excluded_referrals, "brand": ws.config.brand.name},
    )
    referrals, converted, reviews, mentions, reach = (int(v) for v in row)
    converted += facts.coded_conversions.count(profile_id)
    references = facts.references.count(profile_id)
    parts = {"referrals": referrals, "converted": converted, "reviews": reviews,
             "mentions": mentions, "references": references, "reach": reach}  # fmt: skip
    w = {k: float(v) for k, v in settings.weights().items()}
    score = round(
        w.get("referral", 0.0) * referrals + w.get("converted", 0.0) * converted
        + w.get("review", 0.0) * reviews + w.get("mention", 0.0) * mentions
        + w.get("reference", 0.0) * references + w.get("reach", 0.0) * math.log10(1 + reach),
        2,
    )  # fmt: skip
    return {"profile_id": profile_id, "score": score, "level": level_of(score, settings),
            "parts": parts}  # fmt: skip
