"""Program facts into the analytics: enrolments, earnings and redemptions as contract events.

`facts_to_warehouse` writes them (touchpoints ``loyalty_enrol``, ``loyalty_earn``,
``loyalty_redeem``) through the normal ingest of a JSON Lines file, so the scorecard and
segments can tell members from others.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cxloop.identity.graph import SEP_CHAR as _NODE_SEP
from cxloop.programs.errors import ProgramError
from cxloop.programs.loyalty.ledger import Ledger
from cxloop.programs.loyalty.sync import _fetch, _utc
from cxloop.programs.tables import ledger_entries, lots, members

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

#: The touchpoints of program facts: (name, stage, description); owner team "loyalty".
FACT_TOUCHPOINTS = (
    ("loyalty_enrol", "own", "A customer joins the loyalty program."),
    ("loyalty_earn", "own", "Loyalty points are earned (an order, a review, a referral)."),
    ("loyalty_redeem", "own", "Loyalty points are redeemed."),
)
FACT_OWNER = "loyalty"
FACT_PREFIX = "loyalty-"

# How an event names a profile: its smallest customer record (source, customer_id), else its
# email, else an anonymous id; the identity build links the event back to the same profile.
_REFERENCES_SQL = """
SELECT profile_id,
       min(node) FILTER (WHERE node_type = 'r'),
       min(node) FILTER (WHERE node_type = 'e'),
       min(node) FILTER (WHERE node_type = 'a')
FROM profile_nodes WHERE profile_id IN (SELECT unnest($profiles)) GROUP BY profile_id
"""
_EXPORTED_SQL = """
SELECT event_id FROM events
WHERE starts_with(event_id, $prefix) AND touchpoint IN (SELECT unnest($touchpoints))
"""


def facts_to_warehouse(ws: Workspace, ledger: Ledger) -> int:
    """Write enrolments, earnings and redemptions as contract events; the number loaded.

    Event ids are ``loyalty-enrol-{member_id}`` and ``loyalty-{entry_id}``; facts already in
    the warehouse are not written again, so a second run loads nothing (and, with nothing
    new, does not touch the warehouse at all). Each event names the member's profile by its
    smallest customer record (or email, or anonymous id): identity links it to the profile
    without adding any new link. Members whose profile is no longer in the warehouse are
    left out until it is.
    """
    with ledger.store.read() as conn:
        member_rows = conn.execute(
            sa.select(members.c.member_id, members.c.profile_id, members.c.enrolled_at)
        ).all()
        entry_rows = conn.execute(
            sa.select(
                ledger_entries.c.id,
                ledger_entries.c.member_id,
                ledger_entries.c.kind,
                ledger_entries.c.points,
                ledger_entries.c.reason,
                ledger_entries.c.source_type,
                ledger_entries.c.source_id,
                ledger_entries.c.created_at,
                lots.c.earned_at,
            )
            .outerjoin(lots, lots.c.entry_id == ledger_entries.c.id)
            .where(ledger_entries.c.kind.in_(("earn", "redeem")))
            .order_by(ledger_entries.c.id)
        ).all()
    if not member_rows:
        return 0
    touchpoints = [name for name, _, _ in FACT_TOUCHPOINTS]
    exported = {
        row[0]
        for row in ws.engine.fetchall(
            _EXPORTED_SQL, {"prefix": FACT_PREFIX, "touchpoints": touchpoints}
        )
    }
    profile_of = {m.member_id: m.profile_id for m in member_rows}
    events: list[dict[str, Any]] = []
    for m in member_rows:
        event_id = f"{FACT_PREFIX}enrol-{m.member_id}"
        if event_id not in exported:
            events.append(_event(event_id, m.profile_id, m.enrolled_at, "loyalty_enrol",
                                 {"member_id": m.member_id}))  # fmt: skip
    for e in entry_rows:
        event_id = f"{FACT_PREFIX}{e.id}"
        if event_id in exported:
            continue
        properties = {
            "points": abs(int(e.points)),
            "entry_id": int(e.id),
            "reason": e.reason,
            "member_id": e.member_id,
            "source_type": e.source_type,
            "source_id": e.source_id,
        }
        # An earning happened when its points were earned (an order's date); the entry is
        # only the moment the ledger learnt of it.
        at = e.earned_at if e.kind == "earn" and e.earned_at is not None else e.created_at
        touchpoint = "loyalty_earn" if e.kind == "earn" else "loyalty_redeem"
        events.append(_event(event_id, profile_of[e.member_id], at, touchpoint, properties))
    if not events:
        return 0
    ws.profiles.ensure_current()
    references = _references(ws, sorted({event["_profile"] for event in events}))
    lines = []
    for event in events:
        reference = references.get(event.pop("_profile"))
        if reference is not None:
            lines.append(json.dumps(event | reference, ensure_ascii=False))
    if not lines:
        return 0
    _catalogue_touchpoints(ws)
    return _ingest_lines(ws, "loyalty-facts.jsonl", lines, kind="events")


def _event(
    event_id: str, profile_id: str, at: datetime, touchpoint: str, properties: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": _utc(at).isoformat(),
        "touchpoint": touchpoint,
        "stage": "own",
        "properties": properties,
        "_profile": profile_id,
    }


def _references(ws: Workspace, profiles: list[str]) -> dict[str, dict[str, str]]:
    """The customer reference that links an event to each profile (see `_REFERENCES_SQL`)."""
    out: dict[str, dict[str, str]] = {}
    for profile_id, record, email, anonymous in _fetch(ws, _REFERENCES_SQL, profiles):
        if record is not None:
            _, source, customer_id = record.split(_NODE_SEP, 2)
            out[profile_id] = {"source": source, "customer_id": customer_id}
        elif email is not None:
            out[profile_id] = {"email": email.split(_NODE_SEP, 1)[1]}
        elif anonymous is not None:
            out[profile_id] = {"anonymous_id": anonymous.split(_NODE_SEP, 1)[1]}
    return out


def _catalogue_touchpoints(ws: Workspace) -> None:
    """Add the program's touchpoints to the catalogue unless the company has its own rows."""
    names = [name for name, _, _ in FACT_TOUCHPOINTS]
    present = {
        row[0]
        for row in ws.engine.fetchall(
            "SELECT touchpoint FROM touchpoints WHERE touchpoint IN (SELECT unnest($names))",
            {"names": names},
        )
    }
    lines = [
        json.dumps({"touchpoint": name, "stage": stage, "owner": FACT_OWNER,
                    "description": description})
        for name, stage, description in FACT_TOUCHPOINTS
        if name not in present
    ]  # fmt: skip
    if lines:
        _ingest_lines(ws, "loyalty-touchpoints.jsonl", lines, kind="touchpoints")


def _ingest_lines(ws: Workspace, name: str, lines: list[str], *, kind: str) -> int:
    """Load JSON Lines through the normal ingest (validation, idempotent keys, data version)."""
    with tempfile.TemporaryDirectory(prefix="cxloop-loyalty-") as folder:
        path = Path(folder) / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = ws.ingest([path], kind=kind)
    if report.rejected:
        raise ProgramError(
            f"{report.rejected} loyalty {kind} rows were rejected by the warehouse "
            f"(see {report.rejects_path})"
        )
    return report.loaded
