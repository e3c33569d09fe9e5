"""Loyalty members vs non-members per segment: is the program reaching the loyal, or the captive?

A points program rewards repeat purchase, so it can grow captives (repeat buyers without
affinity) as easily as loyalty; per segment, the share of profiles who are members shows
which. Members come from the programs' store (analytics/membership.py), non-members are the
segmented profiles that are not enrolled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxloop.analytics import stats
from cxloop.analytics.membership import MEMBERS_TABLE, register_members
from cxloop.analytics.segments import queries

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

MEMBERSHIP_SQL = f"""
SELECT s.segment, grouping(s.segment) AS g_segment, count(*) AS profiles,
       count(*) FILTER (WHERE m.profile_id IS NOT NULL) AS members
FROM seg_profiles s
LEFT JOIN (SELECT DISTINCT profile_id FROM {MEMBERS_TABLE}) m ON m.profile_id = s.profile_id
GROUP BY GROUPING SETS ((s.segment), ())"""


def membership_table(ws: Workspace) -> dict[str, Any]:
    """Per segment (and overall): profiles, members, non-members, the members' share of the
    segment, and the segment's share of all members and of all non-members (Wilson 95%
    intervals). Needs `seg_profiles` (inside `segment_state`)."""
    membership = register_members(ws)
    rows = {}
    for segment, is_total, profiles, members in ws.engine.fetchall(MEMBERSHIP_SQL):
        rows[None if is_total else segment] = (int(profiles), int(members))
    total_profiles, total_members = rows.get(None, (0, 0))
    total_non = total_profiles - total_members

    def share(x: int, n: int) -> dict[str, Any]:
        return stats.pick(stats.proportion([x], [n]), 0)

    segments = []
    for segment in queries.SEGMENTS:
        profiles, members = rows.get(segment, (0, 0))
        segments.append(
            {
                "segment": segment,
                "profiles": profiles,
                "members": members,
                "non_members": profiles - members,
                "member_share": share(members, profiles),
                "share_of_members": share(members, total_members),
                "share_of_non_members": share(profiles - members, total_non),
            }
        )
    return {
        "program": membership.store,
        "profiles": total_profiles,
        "members": total_members,
        "non_members": total_non,
        "member_share": share(total_members, total_profiles),
        "segments": segments,
        "notes": membership.notes,
    }
