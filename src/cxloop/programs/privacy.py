"""Personal data rights in the programs' store: what it holds about a person, and erasure.

The ledger is append-only (finance relies on it), so an erased person's entries stay, but
nothing in the store names them any more: the member's link to their profile is replaced by
a random token, and stored idempotent answers that quoted the profile id are dropped. The
member id is random and the entries hold points, reasons and order ids, not the person.

The closed loop (cases, decisions, the outbox) is unlinked the same way in the same
transaction: the person's cases and decisions keep their figures under the same random token
(backlog, SLA and holdout statistics stay whole), their segment memberships are dropped,
messages not yet delivered to them are deleted (nothing is sent to an erased person), and
delivered or dead messages have the profile id replaced by the token.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cxloop.config import WorkspaceConfig
from cxloop.programs import tables as t
from cxloop.programs.store import ProgramStore

EMBEDDED_FILE = "programs.sqlite"
ERASED_PREFIX = "erased:"


def _store(workspace: Path, config: WorkspaceConfig) -> ProgramStore | None:
    """The workspace's program store, if it has one (an erasure never creates one)."""
    url = config.programs.database_url or None
    if url is None and not (workspace / EMBEDDED_FILE).exists():
        return None
    return ProgramStore.open(workspace, url)


def program_data(workspace: Path, config: WorkspaceConfig, profile_id: str | None) -> Any:
    """The person's membership, entries and lots, or None when they are not a member."""
    if profile_id is None:
        return None
    store = _store(workspace, config)
    if store is None:
        return None
    try:
        from cxloop.programs.loyalty.ledger import Ledger

        ledger = Ledger(store)
        member = ledger.member_for_profile(profile_id)
        if member is None:
            return None
        entries = []
        before: int | None = None
        while batch := ledger.entries(member.member_id, limit=1000, before=before):
            entries += [asdict(e) for e in batch]
            before = batch[-1].entry_id
        return {
            "member": asdict(member),
            "lots": [asdict(lot) for lot in ledger.lots(member.member_id)],
            "entries": entries,
        }
    finally:
        store.close()


def forget_member(workspace: Path, config: WorkspaceConfig, profile_id: str | None) -> int:
    """Unlink the person from their membership; the count of members unlinked (0 or 1)."""
    if profile_id is None:
        return 0
    store = _store(workspace, config)
    if store is None:
        return 0
    try:
        with store.write() as conn:
            unlinked = conn.execute(
                sa.update(t.members)
                .where(t.members.c.profile_id == profile_id)
                .values(profile_id=ERASED_PREFIX + secrets.token_hex(12))
            ).rowcount
            conn.execute(
                sa.delete(t.idempotency).where(t.idempotency.c.response.contains(profile_id))
            )
            _forget_in_closed_loop(conn, profile_id, ERASED_PREFIX + secrets.token_hex(12))
            _forget_in_advocacy(conn, profile_id, ERASED_PREFIX + secrets.token_hex(12))
        return int(unlinked or 0)
    finally:
        store.close()


def _forget_in_closed_loop(conn: sa.Connection, profile_id: str, token: str) -> None:
    from cxloop.programs import closed_loop_tables as loop

    conn.execute(
        sa.update(loop.cases)
        .where(loop.cases.c.profile_id == profile_id)
        .values(profile_id=token, customer_ref=None, timezone=None)
    )
    conn.execute(
        sa.update(loop.action_log)
        .where(loop.action_log.c.profile_id == profile_id)
        .values(profile_id=token)
    )
    conn.execute(
        sa.delete(loop.segment_members).where(loop.segment_members.c.profile_id == profile_id)
    )
    naming = loop.outbox.c.payload.contains(profile_id)
    conn.execute(sa.delete(loop.outbox).where(naming, loop.outbox.c.status == "pending"))
    conn.execute(
        sa.update(loop.outbox)
        .where(naming)
        .values(payload=sa.func.replace(loop.outbox.c.payload, profile_id, token))
    )


def closed_loop_data(workspace: Path, config: WorkspaceConfig, profile_id: str | None) -> Any:
    """The person's cases (with their history) and the actions decided for them."""
    if profile_id is None:
        return None
    store = _store(workspace, config)
    if store is None:
        return None
    from cxloop.programs import closed_loop_tables as loop

    def plain(row: Any) -> dict[str, Any]:
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}

    try:
        with store.read() as conn:
            cases = [
                plain(r)
                for r in conn.execute(
                    sa.select(loop.cases).where(loop.cases.c.profile_id == profile_id)
                ).mappings()
            ]
            ids = [c["case_id"] for c in cases]
            history = [
                plain(r)
                for r in conn.execute(
                    sa.select(loop.case_events)
                    .where(loop.case_events.c.case_id.in_(ids))
                    .order_by(loop.case_events.c.id)
                ).mappings()
            ]
            actions = [
                plain(r)
                for r in conn.execute(
                    sa.select(loop.action_log)
                    .where(loop.action_log.c.profile_id == profile_id)
                    .order_by(loop.action_log.c.id)
                ).mappings()
            ]
        return {"cases": cases, "case_history": history, "actions": actions}
    finally:
        store.close()


def _forget_in_advocacy(conn: sa.Connection, profile_id: str, token: str) -> None:
    """The advocacy program keeps its figures under the token (asks, conversions, rewards);
    the person's referral code is deleted, so it attributes nothing any more."""
    from cxloop.programs.advocacy import tables as adv

    for table, column in (
        (adv.advocates, adv.advocates.c.profile_id),
        (adv.advocacy_asks, adv.advocacy_asks.c.profile_id),
        (adv.advocacy_rewards, adv.advocacy_rewards.c.profile_id),
        (adv.referral_conversions, adv.referral_conversions.c.referrer_profile),
        (adv.referral_conversions, adv.referral_conversions.c.referee_profile),
    ):
        conn.execute(sa.update(table).where(column == profile_id).values({column.name: token}))
    conn.execute(sa.delete(adv.referral_codes).where(adv.referral_codes.c.profile_id == profile_id))


def advocacy_data(workspace: Path, config: WorkspaceConfig, profile_id: str | None) -> Any:
    """The person's asks, referral code, referral conversions and rewards."""
    if profile_id is None:
        return None
    store = _store(workspace, config)
    if store is None:
        return None
    from cxloop.programs.advocacy import tables as adv

    def rows(query: Any) -> list[dict[str, Any]]:
        return [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in conn.execute(query).mappings()
        ]

    try:
        with store.read() as conn:
            conv = adv.referral_conversions
            return {
                "asks": rows(sa.select(adv.advocacy_asks)
                             .where(adv.advocacy_asks.c.profile_id == profile_id)),
                "referral_code": rows(sa.select(adv.referral_codes)
                                      .where(adv.referral_codes.c.profile_id == profile_id)),
                "referrals": rows(sa.select(conv).where(
                    sa.or_(conv.c.referrer_profile == profile_id,
                           conv.c.referee_profile == profile_id))),
                "rewards": rows(sa.select(adv.advocacy_rewards)
                                .where(adv.advocacy_rewards.c.profile_id == profile_id)),
            }  # fmt: skip
    finally:
        store.close()
