"""What the ledger returns: immutable values, points as Python ints, times aware UTC."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One ledger entry: a signed number of points with why, from what, and by whom.

    `points` is signed: + earn and adjust-up (and the reversal of a redemption or a debit),
    - redeem, expire, adjust-down and the reversal of an earn. `reverses` names the entry a
    reversal undoes; `shortfall` is the part of a reversed earn that could not be taken back
    because the member had already spent it (a loss, never a negative balance).
    """

    entry_id: int
    member_id: str
    kind: str
    points: int
    reason: str
    source_type: str | None
    source_id: str | None
    actor: str
    created_at: datetime
    reverses: int | None = None
    shortfall: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True)
class Lot:
    """Points from one earn (or adjust-up), spent first-in first-out and expiring together."""

    lot_id: int
    points: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None
    source_type: str | None
    source_id: str | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["earned_at"] = self.earned_at.isoformat()
        out["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        return out


@dataclass(frozen=True)
class Member:
    """A profile enrolled in the program, with its cached balance and current tier."""

    member_id: str
    profile_id: str
    enrolled_at: datetime
    balance: int
    tier: str
    tier_since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["enrolled_at"] = self.enrolled_at.isoformat()
        out["tier_since"] = self.tier_since.isoformat() if self.tier_since else None
        return out


@dataclass(frozen=True)
class ExpiryReport:
    """What one expiry run did: one expire entry per lot that reached its date."""

    as_of: datetime
    members: int = 0
    lots: int = 0
    points: int = 0
    entry_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["entry_ids"] = list(self.entry_ids)
        return out


@dataclass(frozen=True)
class VerifyReport:
    """The result of checking every invariant of the ledger; no problems means it holds."""

    members: int = 0
    entries: int = 0
    lots: int = 0
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["problems"] = list(self.problems)
        out["ok"] = self.ok
        return out
