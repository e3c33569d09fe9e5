"""`verify`: prove from the stored rows alone that the ledger's invariants hold.

Each check is one query that returns only the rows breaking a rule, so a healthy ledger of
millions of entries costs a few aggregate scans and no Python loop over the rows. It reads
one consistent snapshot (SQLite: a read transaction in WAL; PostgreSQL: REPEATABLE READ), so
it can run beside live traffic and never reports a write that is half seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.programs.loyalty.lots import SHORTFALL_RECOVERY
from cxloop.programs.loyalty.models import VerifyReport
from cxloop.programs.store import ProgramStore
from cxloop.programs.tables import idempotency, ledger_entries, lot_consumption, lots, members

#: Problems reported per check; beyond this the report says how many more there are.
MAX_PER_CHECK = 50
_HASH = re.compile(r"[0-9a-f]{64}")
_e = ledger_entries
_c = lot_consumption


def verify_ledger(store: ProgramStore) -> VerifyReport:
    with store.read() as conn:
        problems: list[str] = []
        for check in (
            _balances,
            _lot_remaining,
            _lot_entries,
            _entries_without_lot,
            _draws_across_members,
            _signs,
            _reversals,
            _recoveries,
            _idempotency,
        ):
            problems.extend(_capped(check(conn)))
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (members, ledger_entries, lots)
        ]
    return VerifyReport(
        members=int(counts[0]),
        entries=int(counts[1]),
        lots=int(counts[2]),
        problems=tuple(problems),
    )


def _capped(found: Iterable[str]) -> list[str]:
    out: list[str] = []
    extra = 0
    for problem in found:
        if len(out) < MAX_PER_CHECK:
            out.append(problem)
        else:
            extra += 1
    if extra:
        out.append(f"... and {extra} more like the one above")
    return out


def _balances(conn: Connection) -> Iterator[str]:
    """Cached balance == sum of entries == sum of lots' remaining, and never below zero."""
    entry_sum = (
        sa.select(_e.c.member_id, sa.func.sum(_e.c.points).label("total"))
        .group_by(_e.c.member_id)
        .subquery()
    )
    lot_sum = (
        sa.select(lots.c.member_id, sa.func.sum(lots.c.remaining).label("total"))
        .group_by(lots.c.member_id)
        .subquery()
    )
    entries_total = sa.func.coalesce(entry_sum.c.total, 0)
    lots_total = sa.func.coalesce(lot_sum.c.total, 0)
    rows = conn.execute(
        sa.select(members.c.member_id, members.c.balance, entries_total, lots_total)
        .outerjoin(entry_sum, entry_sum.c.member_id == members.c.member_id)
        .outerjoin(lot_sum, lot_sum.c.member_id == members.c.member_id)
        .where(
            sa.or_(
                members.c.balance != entries_total,
                members.c.balance != lots_total,
                members.c.balance < 0,
            )
        )
        .order_by(members.c.member_id)
    )
    for member_id, balance, from_entries, in_lots in rows:
        yield (
            f"member {member_id}: cached balance {balance}, sum of entries {from_entries}, "
            f"points left in lots {in_lots} (all three must be equal and >= 0)"
        )


def _lot_remaining(conn: Connection) -> Iterator[str]:
    """0 <= remaining <= points, and remaining == points - what was drawn from the lot."""
    drawn = sa.func.coalesce(sa.func.sum(_c.c.points), 0)
    rows = conn.execute(
        sa.select(lots.c.id, lots.c.points, lots.c.remaining, drawn)
        .outerjoin(_c, _c.c.lot_id == lots.c.id)
        .group_by(lots.c.id, lots.c.points, lots.c.remaining)
        .having(
            sa.or_(
                lots.c.points <= 0,
                lots.c.remaining < 0,
                lots.c.remaining > lots.c.points,
                lots.c.points - drawn != lots.c.remaining,
            )
        )
        .order_by(lots.c.id)
    )
    for lot_id, points, remaining, total in rows:
        yield (
            f"lot {lot_id}: {points} points, {remaining} left, but its consumption rows "
            f"draw {total} (left must be points - drawn, between 0 and points)"
        )


def _lot_entries(conn: Connection) -> Iterator[str]:
    """A lot is created by one positive earn/adjust of its member, for its points, undrawn."""
    rows = conn.execute(
        sa.select(lots.c.id, _e.c.id, _e.c.kind, _e.c.points, lots.c.points)
        .join(_e, _e.c.id == lots.c.entry_id)
        .where(
            sa.or_(
                _e.c.kind.not_in(("earn", "adjust")),
                _e.c.points != lots.c.points,
                _e.c.member_id != lots.c.member_id,
            )
        )
        .order_by(lots.c.id)
    )
    for lot_id, entry_id, kind, entry_points, lot_points in rows:
        yield (
            f"lot {lot_id} ({lot_points} points) was created by entry {entry_id} "
            f"({kind} {entry_points}): not a credit of the same points to the same member"
        )
    missing = conn.execute(
        sa.select(_e.c.id, _e.c.kind)
        .outerjoin(lots, lots.c.entry_id == _e.c.id)
        .where(
            lots.c.id.is_(None),
            sa.or_(_e.c.kind == "earn", sa.and_(_e.c.kind == "adjust", _e.c.points > 0)),
        )
        .order_by(_e.c.id)
    )
    for entry_id, kind in missing:
        yield f"entry {entry_id} ({kind}) credited points but created no lot"
    crediting_draws = conn.execute(
        sa.select(_c.c.entry_id, _c.c.lot_id)
        .join(lots, lots.c.entry_id == _c.c.entry_id)
        .order_by(_c.c.entry_id)
    )
    for entry_id, lot_id in crediting_draws:
        yield f"entry {entry_id} created a lot yet also draws from lot {lot_id}"


def _entries_without_lot(conn: Connection) -> Iterator[str]:
    """Every other entry moves exactly its points through lot_consumption rows."""
    drawn = sa.func.coalesce(sa.func.sum(_c.c.points), 0)
    rows = conn.execute(
        sa.select(_e.c.id, _e.c.kind, _e.c.points, drawn)
        .outerjoin(lots, lots.c.entry_id == _e.c.id)
        .outerjoin(_c, _c.c.entry_id == _e.c.id)
        .where(lots.c.id.is_(None))
        .group_by(_e.c.id, _e.c.kind, _e.c.points)
        .having(drawn != -_e.c.points)
        .order_by(_e.c.id)
    )
    for entry_id, kind, points, total in rows:
        yield (
            f"entry {entry_id} ({kind} {points}): its lot movements add up to {-total}, "
            "not to its points"
        )


def _draws_across_members(conn: Connection) -> Iterator[str]:
    """An entry only moves points of its own member's lots."""
    rows = conn.execute(
        sa.select(_c.c.entry_id, _c.c.lot_id)
        .join(_e, _e.c.id == _c.c.entry_id)
        .join(lots, lots.c.id == _c.c.lot_id)
        .where(_e.c.member_id != lots.c.member_id)
        .order_by(_c.c.entry_id)
    )
    for entry_id, lot_id in rows:
        yield f"entry {entry_id} moves points of lot {lot_id}, which belongs to another member"


def _signs(conn: Connection) -> Iterator[str]:
    """Earn adds, redeem and expire take away, adjust is never zero; only reversals fall short."""
    rows = conn.execute(
        sa.select(_e.c.id, _e.c.kind, _e.c.points, _e.c.shortfall)
        .where(
            sa.or_(
                sa.and_(_e.c.kind == "earn", _e.c.points <= 0),
                sa.and_(_e.c.kind.in_(("redeem", "expire")), _e.c.points >= 0),
                sa.and_(_e.c.kind == "adjust", _e.c.points == 0),
                _e.c.kind.not_in(("earn", "redeem", "expire", "adjust", "reverse")),
                sa.and_(_e.c.kind != "reverse", _e.c.shortfall != 0),
                _e.c.shortfall < 0,
            )
        )
        .order_by(_e.c.id)
    )
    for entry_id, kind, points, shortfall in rows:
        yield f"entry {entry_id}: {kind} of {points} points (shortfall {shortfall}) is malformed"


def _reversals(conn: Connection) -> Iterator[str]:
    """A reversal undoes an earn, redeem or adjust of its own member, and never more."""
    target = ledger_entries.alias("target")
    rows = conn.execute(
        sa.select(_e.c.id, _e.c.points, _e.c.shortfall, target.c.id, target.c.kind, target.c.points)
        .join(target, target.c.id == _e.c.reverses)
        .where(
            sa.or_(
                _e.c.kind != "reverse",
                target.c.member_id != _e.c.member_id,
                target.c.kind.not_in(("earn", "redeem", "adjust")),
                sa.and_(
                    target.c.points < 0,
                    sa.or_(_e.c.points != -target.c.points, _e.c.shortfall != 0),
                ),
                sa.and_(
                    target.c.points > 0,
                    sa.or_(_e.c.points > 0, _e.c.shortfall - _e.c.points > target.c.points),
                ),
            )
        )
        .order_by(_e.c.id)
    )
    for entry_id, points, shortfall, target_id, kind, target_points in rows:
        yield (
            f"entry {entry_id} reverses entry {target_id} ({kind} {target_points}) with "
            f"{points} points and shortfall {shortfall}: not a reversal of it"
        )
    orphans = conn.execute(
        sa.select(_e.c.id).where(_e.c.kind == "reverse", _e.c.reverses.is_(None))
    )
    for (entry_id,) in orphans:
        yield f"entry {entry_id} is a reversal of nothing"


def _recoveries(conn: Connection) -> Iterator[str]:
    """Shortfall recoveries never take back more than the reversal they repay fell short."""
    recovered = (
        sa.select(_e.c.source_id, (-sa.func.sum(_e.c.points)).label("points"))
        .where(_e.c.source_type == SHORTFALL_RECOVERY, _e.c.kind == "adjust")
        .group_by(_e.c.source_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(recovered.c.source_id, recovered.c.points, _e.c.shortfall)
        .outerjoin(_e, sa.cast(_e.c.id, sa.Text) == recovered.c.source_id)
        .where(sa.or_(_e.c.id.is_(None), recovered.c.points > _e.c.shortfall))
        .order_by(recovered.c.source_id)
    )
    for source_id, points, shortfall in rows:
        yield (
            f"recoveries of {points} points name entry {source_id}, whose shortfall is "
            f"{shortfall if shortfall is not None else 'unknown (no such entry)'}"
        )


def _idempotency(conn: Connection) -> Iterator[str]:
    """Each key holds a request hash and the id of the entry or member it answered with."""
    entry_refs: dict[int, str] = {}
    member_refs: dict[str, str] = {}
    for key, request_hash, response in conn.execute(
        sa.select(idempotency.c.key, idempotency.c.request_hash, idempotency.c.response)
    ):
        if not _HASH.fullmatch(request_hash or ""):
            yield f"idempotency key {key!r}: request hash {request_hash!r} is not a SHA-256"
        try:
            document: Any = json.loads(response)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("entry_id"), int):
            entry_refs[document["entry_id"]] = key
        elif isinstance(document, dict) and isinstance(document.get("member_id"), str):
            member_refs[document["member_id"]] = key
        else:
            yield f"idempotency key {key!r}: response {response!r} names no entry or member"
    for ids, column in ((entry_refs, _e.c.id), (member_refs, members.c.member_id)):
        wanted = list(ids)
        found: set[Any] = set()
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            found.update(conn.execute(sa.select(column).where(column.in_(chunk))).scalars())
        for missing in sorted(set(wanted) - found, key=str):
            yield f"idempotency key {ids[missing]!r} answers with {missing!r}, which does not exist"
