"""`export_segments`: every profile's segment and the signals behind it, as CSV or Parquet.

Why export the signals and not only the label: a segment is a rule over thresholds, and a
team acting on it (a win-back list of captives, a referral ask to loyads) needs to see why a
customer is where they are, and to re-cut with other thresholds without rerunning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cxloop.analytics.export import check_export_path
from cxloop.analytics.segments.settings import SegmentsSettings
from cxloop.analytics.segments.state import segment_state

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


COLUMNS = (
    "profile_id",
    "segment",
    "behavioural",
    "attitude",
    "attitude_source",
    "advocate",
    "orders",
    "revenue",
    "first_order",
    "last_order",
    "tenure_days",
    "p_alive",
    "predicted_clv",
    "latest_nps",
    "latest_nps_day",
    "sentiment",
    "texts",
    "advocacy_acts",
    "referrals",
    "converted_referrals",
    "positive_public_reviews",
    "genuine_mentions",
    "amplifications",
    "referral_revenue",
)


def write_profiles(ws: Workspace, path: Path) -> int:
    """Write `seg_profiles` (made by `segment_state`) to `path`; return the rows written."""
    # Money is summed as DOUBLE for speed; it goes out at the orders' own precision
    # (DECIMAL(18,4)), so an export never shows 328.34000000000003.
    money = {"revenue", "referral_revenue"}
    columns = [f"CAST(round({c}, 4) AS DECIMAL(18,4)) AS {c}" if c in money else c for c in COLUMNS]
    ws.engine.write(f"SELECT {', '.join(columns)} FROM seg_profiles ORDER BY profile_id", path)
    return int(ws.engine.scalar("SELECT count(*) FROM seg_profiles"))


def export_segments(
    ws: Workspace, path: Path | str, settings: SegmentsSettings | None = None
) -> int:
    """Write one row per segmented profile to `path` (.csv or .parquet); return the rows."""
    path = check_export_path(path)
    settings = settings or SegmentsSettings.from_config(ws)
    settings.validate()
    with segment_state(ws, settings):
        return write_profiles(ws, path)
