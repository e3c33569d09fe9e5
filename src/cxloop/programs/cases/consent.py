"""Keep the consent of open cases current: the follow-up survey at resolution must honour a
withdrawal made while the case was open.

A case's `contactable` (and the time zone its follow-up's quiet hours use) is read at routing;
a case can stay open for days. Whenever customer records are loaded (the only way a consent
changes in the warehouse), the closed-loop reactor reads the consent again, conservatively
(routing.CONSENT_SQL), for every profile with an open case not yet followed up, and writes
the changes to the store. So `resolve`, which runs from the programs store alone (CLI and API
alike, even while `cxloop serve` holds the warehouse), decides on the consent the warehouse
holds as of its last load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import sqlalchemy as sa

from cxloop.programs.cases.routing import CONSENT_SQL
from cxloop.programs.closed_loop_tables import cases
from cxloop.programs.store import ProgramStore, retrying

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

OPEN = ("open", "assigned", "in_progress")


def refresh_contactable(ws: Workspace, store: ProgramStore) -> int:
    """Re-read the consent of the profiles of open cases; returns how many cases changed."""
    with store.read() as conn:
        waiting = conn.execute(
            sa.select(
                cases.c.case_id, cases.c.profile_id, cases.c.contactable, cases.c.timezone
            ).where(
                cases.c.status.in_(OPEN),
                cases.c.followed_up_at.is_(None),
                cases.c.profile_id.is_not(None),
            )
        ).all()
    if not waiting:
        return 0
    table = pa.table(
        {
            "case_id": pa.array([r[0] for r in waiting], pa.string()),
            "profile_id": pa.array([r[1] for r in waiting], pa.string()),
        }
    )
    ws.engine.register("__case_waiting", table)
    try:
        now = {
            case_id: (bool(consent), zone)
            for case_id, consent, zone in ws.engine.fetchall(
                f"WITH consent AS ({CONSENT_SQL}) "
                "SELECT w.case_id, coalesce(c.consent, false), c.timezone "
                "FROM __case_waiting w LEFT JOIN consent c ON c.profile_id = w.profile_id"
            )
        }
    finally:
        ws.engine.unregister("__case_waiting")
    changed = [
        (case_id, *now[case_id])
        for case_id, _, contactable, zone in waiting
        if case_id in now and now[case_id] != (bool(contactable), zone)
    ]
    if not changed:
        return 0

    def transaction() -> None:
        with store.write() as conn:
            for case_id, contactable, zone in changed:
                conn.execute(
                    cases.update()
                    .where(cases.c.case_id == case_id, cases.c.followed_up_at.is_(None))
                    .values(contactable=contactable, timezone=zone)
                )

    retrying(transaction)
    return len(changed)
