"""What `build_segments` computes: the thresholds of `[segments]` plus a few run options.

The thresholds live in `cxloop.toml` so a team agrees on them once; a CLI option or a caller
may override any of them for one run. Validation repeats the config's checks because an
override bypasses the config loader.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from cxloop.analytics.periods import parse_period
from cxloop.config import SegmentsConfig
from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


@dataclass(frozen=True)
class SegmentsSettings(SegmentsConfig):
    """Loyalty x advocacy segments (docs/metrics.md#segments-cxloop-segments): the `[segments]`
    thresholds (inherited, with their defaults and meanings) plus run options."""

    # Transitions: segments at the end of each of the last `periods` periods.
    periods: int = 8
    # Fit the BG/NBD model for P(alive); False skips that criterion (faster, documented).
    use_clv: bool = True

    @classmethod
    def from_config(cls, ws: Workspace, **overrides: Any) -> SegmentsSettings:
        """`[segments]` of the workspace's cxloop.toml, then explicit values (None = keep)."""
        values: dict[str, Any] = asdict(ws.config.segments)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise CxloopError(f"unknown segments setting(s): {', '.join(unknown)}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**{k: v for k, v in values.items() if k in known})
        settings.validate()
        return settings

    def validate(self) -> None:
        """The same rules as the config loader (config.py), for values that bypass it."""
        if self.min_orders < 1 or self.active_days < 1 or not 0 < self.min_p_alive < 1:
            raise CxloopError(
                "segments need min_orders >= 1, active_days >= 1 and 0 < min_p_alive < 1"
            )
        if not 0 <= self.no_affinity_max_nps < self.affinity_min_nps <= 10:
            raise CxloopError("segments need 0 <= no_affinity_max_nps < affinity_min_nps <= 10")
        if not -1 <= self.no_affinity_max_sentiment < self.affinity_min_sentiment <= 1:
            raise CxloopError(
                "segments need -1 <= no_affinity_max_sentiment < affinity_min_sentiment <= 1"
            )
        if self.advocacy_days < 0:
            raise CxloopError("advocacy_days must be >= 0 (0 = all the data)")
        if self.periods < 2:
            raise CxloopError("transitions need at least 2 periods")
        parse_period(self.period)
