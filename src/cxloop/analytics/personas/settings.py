"""The settings of a personas run: the workspace's `[personas]` plus the run's own choices."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from cxloop.analytics.periods import parse_period
from cxloop.config import PersonasConfig
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


@dataclass(frozen=True)
class PersonasSettings(PersonasConfig):
    """The `[personas]` settings (inherited, with their defaults) plus the run's own choices
    (a fixed k, a refit)."""

    k: int | None = None
    refit: bool = False

    @classmethod
    def from_config(cls, ws: Workspace, **overrides: Any) -> PersonasSettings:
        """The workspace's settings; overrides given as None keep the configured value."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise CxloopError(f"unknown personas setting {unknown[0]!r}")
        base = cls(**asdict(ws.config.personas))
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def validate(self) -> None:
        parse_period(self.period)
        if not 2 <= self.min_personas <= self.max_personas:
            raise CxloopError("personas need 2 <= min_personas <= max_personas")
        if self.k is not None and self.k < 2:
            raise CxloopError(f"--k must be at least 2 personas, not {self.k}")
        if not 0 < self.drift_alpha < 1:
            raise CxloopError("drift_alpha must be between 0 and 1")
