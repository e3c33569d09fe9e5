"""What the advocacy program answers with: frozen values, JSON-ready through `to_dict`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

#: A detractor's likelihood-to-recommend answers (0-6), a promoter's (9-10): Reichheld (2003),
#: "The One Number You Need to Grow", HBR 81(12); the scorecard's NPS uses the same cuts.
DETRACTOR_MAX = 6
PROMOTER_MIN = 9


@dataclass(frozen=True)
class AdvocateFacts:
    """What the warehouse says about one profile as of a moment: the inputs of eligibility.

        `latest_nps` is the latest likelihood-to-recommend answer at or before the moment (None
        without one); `last_good_at` the latest good experience (NPS >= 9, CSAT or rating >= 4,
        CES >= 6); the counts are intentional acts (public reviews with text, referrals made) and
    survey answers.
    """

    profile_id: str
    latest_nps: int | None = None
    last_good_at: datetime | None = None
    completed_orders: int = 0
    public_reviews: int = 0
    referrals_made: int = 0
    consent_marketing: bool = False
    survey_answers: int = 0  # answers to NPS, CES or CSAT questions

    @property
    def is_detractor(self) -> bool:
        return self.latest_nps is not None and self.latest_nps <= DETRACTOR_MAX

    @property
    def is_promoter(self) -> bool:
        return self.latest_nps is not None and self.latest_nps >= PROMOTER_MIN

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["is_promoter"], doc["is_detractor"] = self.is_promoter, self.is_detractor
        return doc


@dataclass(frozen=True)
class AskDecision:
    """Whether an ask was issued, why (or why not), and the ask's id when it was.

    `reason` is `eligible` for a new ask; a refusal names the rule that refused it
    (`detractor`, `not_eligible:<condition>`, `cooldown`, `ask_cooldown`, `disabled`).
    A repeated request for the same (profile, ask, source) answers the recorded ask again
    with `replayed = True`.
    """

    issued: bool
    reason: str
    ask_id: str | None
    profile_id: str
    ask: str
    source: str
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RewardOutcome:
    """One reward of a completed act: the ledger entry that paid it, or why none did."""

    act_key: str
    profile_id: str
    points: int
    entry_id: int | None
    status: str  # rewarded, already_rewarded, no_points, not_member
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
