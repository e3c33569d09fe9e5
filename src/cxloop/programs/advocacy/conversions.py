"""Referral conversions through their states, and the double-sided rewards.

`process_referrals` brings the store in line with what the warehouse holds now:

- a new conversion is `holding` until `holding_days` after its order, `flagged` when a fraud
  check flagged it (held for an operator), or `void` when its order was already returned or
  cancelled;
- a `holding` one is flagged when a check flags it later (a ring that grew), and voided when
  its order is returned or cancelled, taking back any reward already paid for it (a run that
  paid and died before marking it `rewarded`, or one paying at the same moment);
- a due `holding` one (and one an operator approved) is paid: `referrer_points` to the
  referrer and `referee_points` to the referee, each once through the ledger (`rewarded`);
- a `rewarded` one whose order is returned or cancelled has both rewards reversed
  (`reversed`).

Every change is a conditional update from the state it was read in, so two processes
running at once move each conversion once; the rewards are idempotent anyway. A run whose
payment lands after another run voided the conversion sees its own `holding -> rewarded`
update match nothing and reverses what it paid.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cxloop.config import AdvocacySettings
from cxloop.programs.advocacy.models import RewardOutcome
from cxloop.programs.advocacy.referrals import Candidate, find_conversions
from cxloop.programs.advocacy.rewards import reverse_reward, reward_act
from cxloop.programs.advocacy.tables import referral_conversions
from cxloop.programs.errors import ProgramError
from cxloop.programs.loyalty.ledger import Ledger
from cxloop.programs.store import ProgramStore, retrying

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

_REVERSING = frozenset({"returned", "cancelled"})


def process_referrals(
    ws: Workspace,
    ledger: Ledger,
    settings: AdvocacySettings,
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """Record, flag, pay and reverse conversions (see the module docstring); counts."""
    store = ledger.store
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    candidates, unknown = find_conversions(ws, store, settings)
    counts: Counter[str] = Counter()
    counts["unknown_code_orders"] = unknown
    known = _known(store)
    by_id = {c.conversion_id: c for c in candidates}
    holding = timedelta(days=settings.holding_days)
    for c in candidates:
        row = known.get(c.conversion_id)
        completed = c.status not in _REVERSING
        if row is None:
            status = "void" if not completed else ("flagged" if c.flags else "holding")
            if _insert(store, c, status, c.converted_at + holding, moment):
                counts[f"new_{status}"] += 1
            continue
        status, decided = row
        if status in ("holding", "flagged") and not completed:
            if _move(store, c.conversion_id, status, "void", moment):
                counts["voided"] += 1
                # A run that paid and died before marking it rewarded (or one paying right
                # now) leaves rewards behind a `holding` conversion: take them back.
                _reverse_both(ledger, c)
        elif status == "holding" and c.flags and decided is None:
            counts["flagged"] += _move(store, c.conversion_id, status, "flagged", moment, c.flags)
        elif status == "flagged":
            _move(store, c.conversion_id, status, "flagged", moment, c.flags)
        elif status == "rewarded" and not completed:
            _reverse_both(ledger, c)
            counts["reversed"] += _move(store, c.conversion_id, status, "reversed", moment)
    for conversion_id in _due(store, moment):
        c = by_id.get(conversion_id)
        if c is None or c.status in _REVERSING:
            continue
        # With `enrol_on_reward = false` a side who is not a member is paid nothing, now or
        # after enrolling (as the loyalty program does not credit acts before enrolment):
        # counted here so that the run says so.
        outcomes = _pay(ledger, settings, c)
        counts["sides_not_member"] += sum(o.status == "not_member" for o in outcomes)
        if _move(store, conversion_id, "holding", "rewarded", moment):
            counts["rewarded"] += 1
        elif _status(store, conversion_id) != "rewarded":
            # Voided (or flagged) by a concurrent run while this one paid: that run found
            # nothing to reverse yet, so the payment this run made is taken back here.
            _reverse_both(ledger, c)
            counts["reversed_after_pay"] += 1
    return {k: v for k, v in sorted(counts.items()) if v}


def _reverse_both(ledger: Ledger, c: Candidate) -> None:
    """Reverse whatever was paid for the conversion, on both sides (nothing when unpaid)."""
    reference = c.referral_ref or c.conversion_id
    for side, source_type in (("referrer", "referral"), ("referee", "referee")):
        reverse_reward(ledger, f"{side}:{c.conversion_id}", source=(source_type, reference),
                       reason=f"referral order {c.conversion_id} {c.status}")  # fmt: skip


def _pay(ledger: Ledger, settings: AdvocacySettings, c: Candidate) -> list[RewardOutcome]:
    reference = c.referral_ref or c.conversion_id
    referrer = reward_act(
        ledger, settings, act_key=f"referrer:{c.conversion_id}", act="referral",
        profile_id=c.referrer_profile, points=settings.referrer_points,
        reason=f"converted referral {reference}", source_type="referral",
        source_id=reference,
    )  # fmt: skip
    referee = reward_act(
        ledger, settings, act_key=f"referee:{c.conversion_id}", act="referee",
        profile_id=c.referee_profile, points=settings.referee_points,
        reason=f"welcome reward, referred by {reference}", source_type="referee",
        source_id=reference,
    )  # fmt: skip
    return [referrer, referee]


def decide_flagged(store: ProgramStore, conversion_id: str, *, approve: bool, actor: str) -> str:
    """An operator's decision on a flagged conversion: approved ones are paid once their
    holding period has passed (and are not flagged again); rejected ones never are."""
    moment = datetime.now(UTC)
    with store.read() as conn:
        status = conn.execute(
            sa.select(referral_conversions.c.status).where(
                referral_conversions.c.conversion_id == conversion_id
            )
        ).scalar()
    if status is None:
        from cxloop.errors import NotFoundError

        raise NotFoundError(f"no referral conversion {conversion_id!r}")
    if status != "flagged":
        raise ProgramError(f"conversion {conversion_id} is {status}, not flagged")
    target = "holding" if approve else "rejected"
    if not _move(store, conversion_id, "flagged", target, moment, decided_by=actor):
        raise ProgramError(f"conversion {conversion_id} was decided concurrently")
    return target


def conversions(
    store: ProgramStore, *, status: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Conversions (newest first), optionally of one status, as JSON-ready dicts."""
    query = sa.select(referral_conversions).order_by(
        referral_conversions.c.converted_at.desc(), referral_conversions.c.conversion_id
    )
    if status is not None:
        query = query.where(referral_conversions.c.status == status)
    with store.read() as conn:
        rows = conn.execute(query.limit(limit)).all()
    return [
        {
            "conversion_id": r.conversion_id,
            "referrer_profile": r.referrer_profile,
            "referee_profile": r.referee_profile,
            "code": r.code,
            "referral_ref": r.referral_ref,
            "amount": str(Decimal(str(r.amount)).quantize(Decimal("0.01"))),
            "converted_at": r.converted_at.isoformat(),
            "eligible_at": r.eligible_at.isoformat(),
            "status": r.status,
            "flags": [f for f in r.flags.split(",") if f],
            "decided_by": r.decided_by,
        }
        for r in rows
    ]


# -- store ------------------------------------------------------------------------------------
def _known(store: ProgramStore) -> dict[str, tuple[str, str | None]]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                referral_conversions.c.conversion_id,
                referral_conversions.c.status,
                referral_conversions.c.decided_by,
            )
        ).all()
    return {r.conversion_id: (r.status, r.decided_by) for r in rows}


def _status(store: ProgramStore, conversion_id: str) -> str | None:
    with store.read() as conn:
        return conn.execute(
            sa.select(referral_conversions.c.status).where(
                referral_conversions.c.conversion_id == conversion_id
            )
        ).scalar()


def _due(store: ProgramStore, now: datetime) -> list[str]:
    with store.read() as conn:
        return list(
            conn.execute(
                sa.select(referral_conversions.c.conversion_id).where(
                    referral_conversions.c.status == "holding",
                    referral_conversions.c.eligible_at <= now,
                )
            ).scalars()
        )


def _insert(
    store: ProgramStore, c: Candidate, status: str, eligible_at: datetime, now: datetime
) -> bool:
    def transaction() -> bool:
        with store.write() as conn:
            exists = conn.execute(
                sa.select(referral_conversions.c.conversion_id).where(
                    referral_conversions.c.conversion_id == c.conversion_id
                )
            ).first()
            if exists is not None:
                return False
            conn.execute(
                sa.insert(referral_conversions).values(
                    conversion_id=c.conversion_id,
                    referrer_profile=c.referrer_profile,
                    referee_profile=c.referee_profile,
                    code=c.code,
                    referral_ref=c.referral_ref,
                    amount=_amount(store, c),
                    converted_at=c.converted_at,
                    eligible_at=eligible_at,
                    status=status,
                    flags=",".join(c.flags),
                    updated_at=now,
                )
            )
            return True

    try:
        return retrying(transaction)
    except sa.exc.IntegrityError:
        if c.conversion_id in _known(store):  # inserted by a concurrent run
            return False
        raise


def _amount(store: ProgramStore, c: Candidate) -> Any:
    return str(c.amount) if store.dialect == "sqlite" else c.amount


def _move(
    store: ProgramStore,
    conversion_id: str,
    old: str,
    new: str,
    now: datetime,
    flags: tuple[str, ...] | None = None,
    *,
    decided_by: str | None = None,
) -> int:
    """Change a conversion's state if it is still `old`; 1 when this call changed it."""
    values: dict[str, Any] = {"status": new, "updated_at": now}
    if flags is not None:
        values["flags"] = ",".join(flags)
    if decided_by is not None:
        values["decided_by"] = decided_by

    def transaction() -> int:
        with store.write() as conn:
            query = sa.update(referral_conversions).where(
                referral_conversions.c.conversion_id == conversion_id,
                referral_conversions.c.status == old,
            )
            if flags is not None and old == new:
                query = query.where(referral_conversions.c.flags != ",".join(flags))
            result = conn.execute(query.values(**values))
            return int(result.rowcount or 0) if old != new else 0

    return retrying(transaction)
