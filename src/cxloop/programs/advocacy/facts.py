"""Warehouse reads about one profile: the facts an ask's eligibility is decided on.

One query per call, over the profile's links (`profile_links`), bounded by the moment of the
ask so an ask dated in the past is decided on what was known then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cxloop.programs.advocacy.models import AdvocateFacts

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

_FACTS_SQL = """
WITH fb AS (
    SELECT f.metric, f.score, f.submitted_at, f.public, f.text
    FROM profile_links l
    JOIN feedback f ON l.kind = 'feedback' AND f.source = l.source AND f.response_id = l.id
    WHERE l.profile_id = $p AND f.submitted_at <= $at
)
SELECT
    (SELECT CAST(score AS INTEGER) FROM fb WHERE metric = 'nps' AND score IS NOT NULL
     ORDER BY submitted_at DESC LIMIT 1),
    (SELECT max(submitted_at) FROM fb
     WHERE (metric = 'nps' AND score >= 9) OR (metric IN ('csat', 'rating') AND score >= 4)
        OR (metric = 'ces' AND score >= 6)),
    (SELECT count(*) FROM profile_links l
     JOIN orders o ON l.kind = 'orders' AND o.source = l.source AND o.order_id = l.id
     WHERE l.profile_id = $p AND o.status = 'completed' AND o.ordered_at <= $at),
    (SELECT count(*) FROM fb WHERE coalesce(public, false) AND trim(coalesce(text, '')) <> ''),
    (SELECT count(*) FROM profile_links l
     JOIN referrals r ON l.kind = 'referrer' AND r.source = l.source AND r.referral_id = l.id
     WHERE l.profile_id = $p AND r.created_at <= $at),
    (SELECT coalesce(bool_or(consent_marketing), false) FROM profiles WHERE profile_id = $p),
    (SELECT count(*) FROM fb WHERE metric IN ('nps', 'ces', 'csat') AND score IS NOT NULL)
"""


def advocate_facts(ws: Workspace, profile_id: str, *, at: datetime) -> AdvocateFacts:
    """The facts of `profile_id` as of `at` (profiles are built first when stale)."""
    ws.profiles.ensure_current()
    moment = at.astimezone(UTC).replace(tzinfo=None)  # the warehouse keeps naive UTC
    row = ws.engine.fetchone(_FACTS_SQL, {"p": profile_id, "at": moment})
    latest, good, orders, reviews, referrals, consent, answers = row
    return AdvocateFacts(
        profile_id=profile_id,
        latest_nps=None if latest is None else int(latest),
        last_good_at=None if good is None else good.replace(tzinfo=UTC),
        completed_orders=int(orders),
        public_reviews=int(reviews),
        referrals_made=int(referrals),
        consent_marketing=bool(consent),
        survey_answers=int(answers),
    )
