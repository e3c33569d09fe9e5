"""Does an action work? Outcome of the profiles sent an action against its holdout group.

Per action type, the unit is the profile, not the decision: a profile is in an action's
holdout or not for good (the bucket is a hash of profile and action), so its repeated
decisions are one observation repeated, and counting them as independent would make the
interval too narrow and weigh frequent profiles more. Each profile counts once, in the group of
its first decision (`sent` or `holdout`) for that action, with the outcome: a completed order
by the profile within `[triggers] outcome_days` after that first decision.

Both groups passed the same eligibility before the holdout was drawn: consent, no complaint,
the advocacy ladder (review requests) and the frequency cap (evaluate.py), so the held-out
profiles are those who would have been sent the action.

Per group: n (profiles), conversions, the rate with its Wilson 95% interval; the difference
(sent minus holdout) with a normal 95% interval and a two-proportion z-test p-value
(docs/metrics.md#triggered-actions). Profiles whose first decision's outcome window has not
ended yet are counted apart (`window_open`) and left out, so a recent send never looks like a
failure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from cxloop.analytics import stats
from cxloop.programs.closed_loop_tables import action_log
from cxloop.programs.store import ProgramStore

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

OUTCOME_SQL = """
SELECT d.action, d.outcome, count(*) AS n,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM profile_links l JOIN orders o
             ON o.source = l.source AND o.order_id = l.id
           WHERE l.kind = 'orders' AND l.profile_id = d.profile_id
             AND coalesce(o.status, 'completed') = 'completed'
             AND o.ordered_at > d.decided_at
             AND o.ordered_at <= d.decided_at + to_days(CAST(? AS INTEGER))
       )) AS converted
FROM __trigger_measured d
GROUP BY d.action, d.outcome"""


def holdout_report(
    ws: Workspace, store: ProgramStore, *, now: datetime | None = None
) -> dict[str, Any]:
    """Per action type: sent vs holdout conversion, with intervals (module docstring)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    days = ws.config.triggers.outcome_days
    closed_before = now - timedelta(days=days)
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                action_log.c.action,
                action_log.c.outcome,
                action_log.c.profile_id,
                action_log.c.decided_at,
            ).where(
                action_log.c.outcome.in_(["sent", "holdout"]),
                action_log.c.profile_id.is_not(None),
                action_log.c.action != "case",
            )
        ).all()
    first: dict[tuple[str, str], tuple[datetime, str]] = {}
    for action, outcome, profile_id, decided_at in rows:
        seen = first.get((action, profile_id))
        if seen is None or decided_at < seen[0]:
            first[(action, profile_id)] = (decided_at, outcome)
    done = [
        (action, outcome, profile_id, decided_at)
        for (action, profile_id), (decided_at, outcome) in first.items()
        if decided_at <= closed_before
    ]
    open_counts: dict[str, int] = {}
    for (action, _), (decided_at, _) in first.items():
        if decided_at > closed_before:
            open_counts[action] = open_counts.get(action, 0) + 1
    table = pa.table(
        {
            "action": pa.array([r[0] for r in done], pa.string()),
            "outcome": pa.array([r[1] for r in done], pa.string()),
            "profile_id": pa.array([r[2] for r in done], pa.string()),
            "decided_at": pa.array(
                [r[3].astimezone(UTC).replace(tzinfo=None) for r in done], pa.timestamp("us")
            ),
        }
    )
    ws.profiles.ensure_current()
    ws.engine.register("__trigger_measured", table)
    try:
        found = ws.engine.fetchall(OUTCOME_SQL, [days])
    finally:
        ws.engine.unregister("__trigger_measured")
    groups: dict[str, dict[str, tuple[int, int]]] = {}
    for action, outcome, n, converted in found:
        groups.setdefault(action, {})[outcome] = (int(n), int(converted))
    actions = sorted(set(groups) | set(open_counts))
    return {
        "outcome": f"a completed order within {days} days of the decision",
        "unit": "profile (its first decision for the action)",
        "holdout_percent": ws.config.triggers.holdout_percent,
        "actions": [_compare(a, groups.get(a, {}), open_counts.get(a, 0)) for a in actions],
    }


def _compare(action: str, group: dict[str, tuple[int, int]], window_open: int) -> dict[str, Any]:
    sent_n, sent_x = group.get("sent", (0, 0))
    hold_n, hold_x = group.get("holdout", (0, 0))
    rates = stats.proportion([sent_x, hold_x], [sent_n, hold_n])
    out: dict[str, Any] = {
        "action": action,
        "window_open": window_open,
        "sent": {"converted": sent_x, **stats.pick(rates, 0)},
        "holdout": {"converted": hold_x, **stats.pick(rates, 1)},
    }
    if sent_n and hold_n:
        p1, p0 = sent_x / sent_n, hold_x / hold_n
        se = float(np.sqrt(p1 * (1 - p1) / sent_n + p0 * (1 - p0) / hold_n))
        diff = p1 - p0
        p_value = float(stats.two_proportion_p([sent_x], [sent_n], [hold_x], [hold_n])[0])
        out["lift"] = {
            "value": diff,
            "ci_low": diff - stats.Z95 * se,
            "ci_high": diff + stats.Z95 * se,
            "p_value": p_value if np.isfinite(p_value) else None,
        }
    else:
        out["lift"] = None
    return out
