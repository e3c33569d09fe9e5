"""Every analysis as one call from its user-facing options to its JSON document.

The CLI (`cxloop scorecard WS --period month --json`) and the REST API
(`GET /v1/scorecard?period=month`) both call these functions, so the same options give the
same document, and an option's parsing and validation are written once. Options arrive as
the user typed them (strings for dates), and a bad one raises a `CxloopError` naming it.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.analytics.clv import ClvSettings
    from cxloop.workspace import Workspace


def parse_datetime(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or date-time option, or None when not given."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CxloopError(f"{name} {value!r} is not an ISO 8601 date") from None


def parse_day(value: str | None, name: str) -> date | None:
    """An ISO 8601 day option (a time part, if any, is dropped)."""
    parsed = parse_datetime(value, name)
    return parsed.date() if parsed is not None else None


def scorecard(
    ws: Workspace,
    *,
    period: str | None = None,
    by: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """The composite scorecard (docs/metrics.md)."""
    from cxloop.analytics.periods import Period, parse_period
    from cxloop.analytics.scorecard import Scope, build_scorecard

    scope = Scope(
        period=parse_period(period) if period else Period(ws.config.scorecard.period),
        by=by,
        since=parse_datetime(since, "since"),
        until=parse_datetime(until, "until"),
    )
    return build_scorecard(ws, scope)


def journey(
    ws: Workspace,
    *,
    period: str | None = None,
    cart_window_hours: float | None = None,
    conversion_window_days: float | None = None,
) -> dict[str, Any]:
    """Journeys: the loop, touchpoints, funnel, paths, attribution (docs/journey.md)."""
    from cxloop.analytics.journey import JourneySettings, build_journey

    settings = JourneySettings.from_config(
        ws.config,
        period=period,
        cart_window_hours=cart_window_hours,
        conversion_window_days=conversion_window_days,
    )
    return build_journey(ws, settings)


def moments(ws: Workspace, *, outcome: str = "nps", window_days: int = 180) -> dict[str, Any]:
    """Pivotal moments, ranked (docs/journey.md)."""
    from cxloop.analytics.moments import MomentsSettings, build_moments

    return build_moments(ws, MomentsSettings(outcome=outcome, window_days=window_days))


def architecture(ws: Workspace, *, outcome: str = "nps") -> dict[str, Any]:
    """The experience architecture joined with the data, and its gaps (docs/architecture.md)."""
    from cxloop.experience import build_architecture

    return build_architecture(ws, outcome=outcome)


def content(ws: Workspace, *, outcome: str = "nps", window_days: int = 30) -> dict[str, Any]:
    """Content at the moments: reach, engagement and adjusted lift (docs/metrics.md)."""
    from cxloop.content import ContentSettings, build_content

    return build_content(ws, ContentSettings(outcome=outcome, window_days=window_days))


def voc(ws: Workspace, *, period: str | None = None) -> dict[str, Any]:
    """Voice of the customer (docs/voc.md)."""
    from cxloop.analytics.voc import VocSettings, build_voc

    return build_voc(ws, VocSettings.from_config(ws, period=period))


def segments(ws: Workspace, *, export: Path | None = None) -> dict[str, Any]:
    """Loyalty x advocacy segments (docs/metrics.md)."""
    from cxloop.analytics.segments import SegmentsSettings, build_segments

    return build_segments(ws, SegmentsSettings.from_config(ws), export=export)


def personas(ws: Workspace, *, k: int | None = None, refit: bool = False) -> dict[str, Any]:
    """Personas and their drift (docs/metrics.md)."""
    from cxloop.analytics.personas import PersonasSettings, build_personas

    return build_personas(ws, PersonasSettings.from_config(ws, k=k, refit=refit or None))


def clv(
    ws: Workspace,
    *,
    model: str = "bgnbd",
    calibration_end: str | None = None,
    holdout_end: str | None = None,
    horizon_weeks: float = 52.0,
    discount_rate: float = 0.01,
    time_unit: str = "weeks",
    export: Path | None = None,
) -> dict[str, Any]:
    """Customer lifetime value (docs/clv.md)."""
    from cxloop.analytics.clv import build_clv

    settings = clv_settings(
        model=model,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        horizon_weeks=horizon_weeks,
        discount_rate=discount_rate,
        time_unit=time_unit,
        export=export,
    )
    return build_clv(ws, settings)


def clv_settings(
    *,
    model: str,
    calibration_end: str | None,
    holdout_end: str | None,
    horizon_weeks: float,
    discount_rate: float,
    time_unit: str,
    export: Path | None,
) -> ClvSettings:
    """Checked CLV settings, before any work (a bad option fails before the workspace opens)."""
    from cxloop.analytics.clv import ClvSettings

    settings = ClvSettings(
        model=model,
        calibration_end=parse_day(calibration_end, "calibration_end"),
        holdout_end=parse_day(holdout_end, "holdout_end"),
        horizon_weeks=horizon_weeks,
        discount_rate=discount_rate,
        time_unit=time_unit,
        export=export,
    )
    settings.validate()
    return settings


def profiles_summary(ws: Workspace, *, rebuild: bool = False) -> dict[str, Any]:
    """Counts of unified profiles and merges by rule (docs/identity.md)."""
    if rebuild:
        ws.profiles.build()
    ws.profiles.ensure_current()
    return ws.profiles.summary().to_dict()


def profiles_review(ws: Workspace, *, limit: int = 50) -> list[dict[str, Any]]:
    """Borderline probabilistic matches for clerical review, most probable first."""
    return ws.profiles.review(limit=limit)


def profiles_train(ws: Workspace) -> dict[str, Any]:
    """Train the probabilistic matching model again (saved in the workspace) and rebuild."""
    return ws.profiles.train_matching()


def profile(ws: Workspace, key: str) -> dict[str, Any] | None:
    """One profile with its records, identifiers, links and timeline; None if none matches."""
    ws.profiles.ensure_current()
    return ws.profiles.lookup(key)
