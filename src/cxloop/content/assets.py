"""Content assets and their workflow: idea -> planned -> approved -> published -> retired.

An asset is a piece of content (a guide, a video, a calculator, a review showcase) made for a
persona at a journey moment, aiming at one level of customer value. Its status moves through a
simple editorial workflow; every change is recorded with its date and who made it, so the
catalogue can say when an asset went live. The moves allowed:

    idea -> planned | retired          planned -> approved | idea | retired
    approved -> published | planned | retired          published -> retired

(a step forward, a step back for rework before publication, or retirement; nothing comes
back from `retired`, and a published asset is retired rather than unpublished, so its
measured lift stays attached to dates it was live).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxloop.programs.errors import ProgramError

STATUSES = ("idea", "planned", "approved", "published", "retired")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "idea": ("planned", "retired"),
    "planned": ("approved", "idea", "retired"),
    "approved": ("published", "planned", "retired"),
    "published": ("retired",),
    "retired": (),
}
TYPES = ("guide", "video", "calculator", "review_showcase", "article", "email", "tool", "other")
VALUE_LEVELS = ("functional", "personal", "catalytic")
STATUS_DATES = {s: f"{s}_at" for s in STATUSES if s != "idea"}
"""The file column holding the date an asset reached each status (`planned_at`, ...)."""
MAX_TEXT = 500


class ContentError(ProgramError):
    """A bad asset (unknown value, missing field); HTTP 400 in the API."""

    http_status = 400


class InvalidTransition(ContentError):
    """A status change the workflow does not allow; HTTP 409 in the API."""

    http_status = 409


@dataclass(frozen=True)
class Asset:
    """One content asset as the catalogue holds it."""

    content_id: str
    title: str
    type: str
    persona: str
    moment: str
    value_level: str
    status: str
    owner: str | None
    status_dates: dict[str, datetime] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_id": self.content_id,
            "title": self.title,
            "type": self.type,
            "persona": self.persona,
            "moment": self.moment,
            "value_level": self.value_level,
            "status": self.status,
            "owner": self.owner,
            "status_dates": {k: v.isoformat() for k, v in self.status_dates.items()},
        }


def check_transition(content_id: str, current: str, target: str) -> None:
    """Raise `InvalidTransition` unless the workflow allows `current` -> `target`."""
    if target not in STATUSES:
        raise ContentError(f"unknown status {target!r} (expected one of {', '.join(STATUSES)})")
    if target == current:
        return
    allowed = TRANSITIONS[current]
    if target not in allowed:
        nxt = ", ".join(allowed) if allowed else "nothing (retired is final)"
        raise InvalidTransition(
            f"content {content_id}: {current} -> {target} is not allowed (from {current}: {nxt})"
        )


def path_to(status: str) -> list[str]:
    """The statuses a new asset passes through to reach `status` (idea first).

    A new asset loaded as `published` went idea -> planned -> approved -> published; one
    loaded as `retired` is recorded as retired straight from idea (its life before is
    unknown unless its dates say so).
    """
    if status == "retired":
        return ["idea", "retired"]
    return list(STATUSES[: STATUSES.index(status) + 1])


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """`value` lower-cased if it is one of `choices`, else a `ContentError` naming them."""
    v = value.strip().lower()
    if v not in choices:
        raise ContentError(f"{what} {value!r} is not one of {', '.join(choices)}")
    return v
