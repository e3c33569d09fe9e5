"""Lots: where points live between earning and spending, first in, first out.

Each earn (or upward adjustment) creates one lot with its own expiry date. A debit (a
redemption, a downward adjustment, the reversal of an earn, an expiry) draws from lots and
writes one `lot_consumption` row per lot drawn, so every lot's `remaining` equals its
`points` minus what its consumption rows add up to: `verify` checks exactly that. Giving
points back (reversing a redemption) writes negative consumption rows against the same lots.
All of it runs under the member's lock taken by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.programs.loyalty.records import FIFO
from cxloop.programs.tables import ledger_entries, lot_consumption, lots

# Built once (see records.py): the statements of every debit and credit.
_INSERT_LOT = sa.insert(lots)
_OPEN_LOTS = (
    sa.select(lots.c.id, lots.c.remaining)
    .where(lots.c.member_id == sa.bindparam("b_member"), lots.c.remaining > 0)
    .order_by(*FIFO)
)
_INSERT_CONSUMPTION = sa.insert(lot_consumption)
_SET_REMAINING = (
    sa.update(lots)
    .where(lots.c.id == sa.bindparam("b_lot"))
    .values(remaining=sa.bindparam("b_remaining"))
)


L = TypeVar("L")


@dataclass(frozen=True)
class Draw:
    """Points taken from (positive) or given back to (negative) one lot."""

    lot_id: int
    points: int
    remaining_after: int


def create_lot(
    conn: Connection,
    *,
    member_id: str,
    entry_id: int,
    points: int,
    earned_at: datetime,
    expires_at: datetime | None,
) -> None:
    conn.execute(
        _INSERT_LOT,
        {
            "member_id": member_id,
            "entry_id": entry_id,
            "points": points,
            "remaining": points,
            "earned_at": earned_at,
            "expires_at": expires_at,
        },
    )


def plan_draws(open_lots: Sequence[tuple[L, int]], points: int) -> tuple[list[tuple[L, int]], int]:
    """The rule of every debit: take `points` from `(lot, remaining)` pairs in the order
    given (spending order), each lot as far as it goes. Returns (lot, points taken) per lot
    drawn and what no lot covered.

    Pure, so the one-request path (`plan_fifo`) and the batch (`postings.py`, whose lots may
    have been created a moment earlier in the same batch) spend points by the same rule.
    """
    draws: list[tuple[L, int]] = []
    need = points
    for lot, remaining in open_lots:
        if need == 0:
            break
        take = min(remaining, need)
        if take > 0:
            draws.append((lot, take))
            need -= take
    return draws, need


def plan_fifo(
    conn: Connection, member_id: str, points: int, *, first_lot: int | None = None
) -> tuple[list[Draw], int]:
    """Which lots a debit of `points` draws from, and how much of it no lot can cover.

    `first_lot` is drawn before the FIFO order (the reversal of an earn takes back its own
    lot first). The caller has checked the balance; a shortfall is for reversals only.
    """
    open_lots = conn.execute(_OPEN_LOTS, {"b_member": member_id}).all()
    if first_lot is not None:
        open_lots.sort(key=lambda row: row.id != first_lot)  # stable: FIFO otherwise
    remaining = {int(row.id): int(row.remaining) for row in open_lots}
    draws, need = plan_draws([(int(row.id), int(row.remaining)) for row in open_lots], points)
    return [Draw(lot, take, remaining[lot] - take) for lot, take in draws], need


def apply_draws(conn: Connection, entry_id: int, draws: list[Draw]) -> None:
    """Write the consumption rows of one entry and the lots' new remaining points."""
    if not draws:
        return
    conn.execute(
        _INSERT_CONSUMPTION,
        [{"entry_id": entry_id, "lot_id": d.lot_id, "points": d.points} for d in draws],
    )
    conn.execute(
        _SET_REMAINING, [{"b_lot": d.lot_id, "b_remaining": d.remaining_after} for d in draws]
    )


def plan_restore(conn: Connection, entry_id: int) -> list[Draw]:
    """Give back to each lot what entry `entry_id` drew from it (negative draws)."""
    rows = conn.execute(
        sa.select(lot_consumption.c.lot_id, lot_consumption.c.points, lots.c.remaining)
        .join(lots, lots.c.id == lot_consumption.c.lot_id)
        .where(lot_consumption.c.entry_id == entry_id)
        .order_by(lot_consumption.c.lot_id)
    ).all()
    return [Draw(int(r.lot_id), -int(r.points), int(r.remaining) + int(r.points)) for r in rows]


def lot_of_entry(conn: Connection, entry_id: int) -> tuple[int, int] | None:
    """(lot id, points expired from it) of the lot an earn created, or None."""
    lot_id = conn.execute(sa.select(lots.c.id).where(lots.c.entry_id == entry_id)).scalar()
    if lot_id is None:
        return None
    expired = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(lot_consumption.c.points), 0))
        .join(ledger_entries, ledger_entries.c.id == lot_consumption.c.entry_id)
        .where(lot_consumption.c.lot_id == lot_id, ledger_entries.c.kind == "expire")
    ).scalar_one()
    return int(lot_id), int(expired)


#: `source_type` of the adjustment that recovers a reversal's shortfall (see `recoveries`).
SHORTFALL_RECOVERY = "shortfall"


def recoveries(conn: Connection, restores: list[Draw]) -> list[tuple[Draw, int]]:
    """What a redemption's reversal must withhold to repay earlier shortfalls: (draw, entry).

    Reversing an earn whose points were already spent leaves a shortfall. If the redemption
    that spent them is reversed later, its points go back to the reversed earn's lot; without
    this, the member would get back points the program already wrote off as lost. So up to the
    shortfall still outstanding, those restored points are taken again by an adjustment that
    names the reversal (`source_type = "shortfall"`, `source_id` = its entry id). Returns, per
    lot to recover from, a draw (with the lot's remaining after the restore) and the id of the
    reversal whose shortfall it repays. A recovery an operator reversed stays counted as
    recovered: the reversal gave those points back on purpose, and they are not taken again.
    """
    restored = {d.lot_id: d for d in restores if d.points < 0}
    if not restored:
        return []
    reversal = ledger_entries.alias("reversal")
    shortfalls = conn.execute(
        sa.select(lots.c.id, reversal.c.id, reversal.c.shortfall)
        .join(reversal, reversal.c.reverses == lots.c.entry_id)
        .where(lots.c.id.in_(list(restored)), reversal.c.shortfall > 0)
        .order_by(lots.c.id)
    ).all()
    if not shortfalls:
        return []
    recovered = dict(
        conn.execute(
            sa.select(ledger_entries.c.source_id, -sa.func.sum(ledger_entries.c.points))
            .where(
                ledger_entries.c.kind == "adjust",  # not a reversal, which copies the source
                ledger_entries.c.source_type == SHORTFALL_RECOVERY,
                ledger_entries.c.source_id.in_([str(r[1]) for r in shortfalls]),
            )
            .group_by(ledger_entries.c.source_id)
        ).all()
    )
    out: list[tuple[Draw, int]] = []
    for lot_id, reversal_id, shortfall in shortfalls:
        outstanding = int(shortfall) - int(recovered.get(str(reversal_id), 0))
        draw = restored[int(lot_id)]
        take = min(-draw.points, outstanding)
        if take > 0:
            out.append((Draw(int(lot_id), take, draw.remaining_after - take), int(reversal_id)))
    return out
