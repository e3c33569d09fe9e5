"""The expiry job: lots past their date lose what is left of them, one entry per lot.

Why one entry per lot (not one per member): each expire entry names its lot
(`source_type = "lot"`), so a member's statement shows which points expired and when they
were earned, and `verify` can match every expired point to its lot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.programs.loyalty.models import ExpiryReport
from cxloop.programs.loyalty.records import change_balance
from cxloop.programs.store import ProgramStore, retrying
from cxloop.programs.tables import ledger_entries, lot_consumption, lots, members

#: Members expired per transaction: big enough to amortise the commit, small enough that
#: redemptions of those members wait only briefly for their locks.
BATCH_MEMBERS = 200


def expire_lots(
    store: ProgramStore, as_of: datetime, *, actor: str, clock: Callable[[], datetime]
) -> ExpiryReport:
    """Expire every lot due by `as_of` (see `Ledger.expire`)."""
    with store.read() as conn:
        due_members = list(
            conn.execute(
                sa.select(lots.c.member_id)
                .where(lots.c.expires_at <= as_of, lots.c.remaining > 0)
                .distinct()
                .order_by(lots.c.member_id)
            ).scalars()
        )
    members_done, lots_done, points_done = 0, 0, 0
    entry_ids: list[int] = []
    for start in range(0, len(due_members), BATCH_MEMBERS):
        batch = due_members[start : start + BATCH_MEMBERS]

        def transaction(batch: list[str] = batch) -> list[tuple[str, int, int]]:
            with store.write() as conn:
                return _expire_batch(conn, batch, as_of, actor, clock())

        done = retrying(transaction)
        members_done += len({member for member, _, _ in done})
        lots_done += len(done)
        points_done += sum(points for _, _, points in done)
        entry_ids.extend(entry_id for _, entry_id, _ in done)
    return ExpiryReport(
        as_of=as_of,
        members=members_done,
        lots=lots_done,
        points=points_done,
        entry_ids=tuple(entry_ids),
    )


def _expire_batch(
    conn: Connection, batch: list[str], as_of: datetime, actor: str, now: datetime
) -> list[tuple[str, int, int]]:
    """Expire the due lots of some members in one transaction: (member, entry id, points)."""
    # Lock in a fixed order (member id), the order no other transaction contradicts: a
    # redemption locks one member only, so no deadlock is possible.
    conn.execute(
        sa.select(members.c.member_id)
        .where(members.c.member_id.in_(batch))
        .order_by(members.c.member_id)
        .with_for_update()
    ).all()
    due = conn.execute(
        sa.select(lots.c.id, lots.c.member_id, lots.c.remaining, lots.c.earned_at)
        .where(
            lots.c.member_id.in_(batch),
            lots.c.expires_at <= as_of,
            lots.c.remaining > 0,
        )
        .order_by(lots.c.member_id, lots.c.expires_at, lots.c.id)
    ).all()  # read after the locks: a redemption that committed meanwhile is seen
    if not due:
        return []
    rows = [
        {
            "member_id": lot.member_id,
            "kind": "expire",
            "points": -int(lot.remaining),
            "reason": f"points earned {lot.earned_at.date().isoformat()} expired",
            "source_type": "lot",
            "source_id": str(lot.id),
            "actor": actor,
            "created_at": now,
        }
        for lot in due
    ]
    entry_ids = (
        conn.execute(
            sa.insert(ledger_entries).returning(ledger_entries.c.id, sort_by_parameter_order=True),
            rows,
        )
        .scalars()
        .all()
    )
    conn.execute(
        sa.insert(lot_consumption),
        [
            {"entry_id": int(entry_id), "lot_id": int(lot.id), "points": int(lot.remaining)}
            for entry_id, lot in zip(entry_ids, due, strict=True)
        ],
    )
    conn.execute(
        sa.update(lots).where(lots.c.id == sa.bindparam("b_lot")).values(remaining=0),
        [{"b_lot": int(lot.id)} for lot in due],
    )
    per_member: dict[str, int] = {}
    for lot in due:
        per_member[lot.member_id] = per_member.get(lot.member_id, 0) + int(lot.remaining)
    for member_id, points in per_member.items():
        change_balance(conn, member_id, -points)
    return [
        (lot.member_id, int(entry_id), int(lot.remaining))
        for entry_id, lot in zip(entry_ids, due, strict=True)
    ]
