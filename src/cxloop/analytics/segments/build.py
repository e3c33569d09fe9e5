"""`build_segments`: loyalty x advocacy segments of a workspace as one JSON-ready document.

Loyalty is not repeat purchase. Dick & Basu (1994) define it by two dimensions, relative
attitude and repeat patronage: both high is loyalty; repeat patronage without attitude is
spurious loyalty (here `captive`: inertia, convenience or lock-in that a competitor's offer
breaks); attitude without patronage is latent loyalty (`fan`). Advocacy is a third, separate
dimension: what customers do for us in public, never counted from likes and shares. The grid
crosses both, and its corner of loyal advocates ("loyads") is the one to protect and grow.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.analytics import stats
from cxloop.analytics.export import check_export_path
from cxloop.analytics.periods import parse_period
from cxloop.analytics.segments import queries
from cxloop.analytics.segments.export import write_profiles
from cxloop.analytics.segments.membership import membership_table
from cxloop.analytics.segments.settings import SegmentsSettings
from cxloop.analytics.segments.state import State, segment_state
from cxloop.analytics.segments.transitions import build_transitions

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

SMALL_MODEL = 100
"""Customers under which a fitted P(alive) is flagged as unreliable in the notes."""

SOURCES = {
    "loyalty": "Dick, A. S. & Basu, K. (1994). Customer loyalty: toward an integrated "
    "conceptual framework. Journal of the Academy of Marketing Science 22(2), 99-113.",
    "p_alive": "Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). 'Counting your customers' "
    "the easy way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.",
    "nps": "Reichheld, F. F. (2003). The one number you need to grow. Harvard Business Review "
    "81(12); interval: Rocks, B. (2016). The American Statistician 70(4).",
    "sentiment": "Hutto, C. J. & Gilbert, E. (2014). VADER. ICWSM (docs/voc.md).",
    "share": "Wilson, E. B. (1927). JASA 22(158); Brown, Cai & DasGupta (2001).",
}


def build_segments(
    ws: Workspace, settings: SegmentsSettings | None = None, *, export: Path | str | None = None
) -> dict[str, Any]:
    """Segment every customer profile by behavioural and attitudinal loyalty and advocacy.

    With `export`, the per-profile file of `export_segments` is written from the same state
    (one model fit instead of two) and `doc["export"]` gives its path and rows.
    """
    settings = settings or SegmentsSettings.from_config(ws)
    settings.validate()
    period = parse_period(settings.period)
    if export is not None:
        check_export_path(Path(export))
    written: dict[str, Any] | None = None
    with segment_state(ws, settings) as state:
        rows = _stats(ws)
        periods, transitions = build_transitions(ws, state, period, settings.periods)
        membership = membership_table(ws)
        if export is not None:
            written = {"path": str(export), "rows": write_profiles(ws, Path(export))}
    total = rows[(None, None)]
    doc: dict[str, Any] = {
        "as_of": state.end.isoformat() if state.end else None,
        "settings": asdict(settings),
        "brand": ws.config.brand.name,
        "profiles": int(total["profiles"]),
        "revenue": float(total["revenue"]),
        "segments": [_segment(s, rows, total) for s in queries.SEGMENTS],
        "grid": [_cell(s, adv, rows, total) for s in queries.SEGMENTS for adv in (True, False)],
        "loyads": _loyads(rows, total),
        "advocacy": _advocacy(total),
        "attitude": {a: int(total[a]) for a in queries.ATTITUDES},
        "periods": periods,
        "transitions": transitions,
        "membership": membership,
        "clv": state.alive.to_dict(),
        "definitions": definitions(settings, state),
        "notes": _notes(state, total, periods),
        "export": written,
    }
    return doc


def _zero(total: dict[str, Any]) -> dict[str, Any]:
    """A group with no profiles, shaped like the overall row (which always exists)."""
    return {k: None if k.endswith(("_mean", "_var")) else 0 for k in total}


def _stats(ws: Workspace) -> dict[tuple[str | None, bool | None], dict[str, Any]]:
    """STATS rows keyed by (segment, advocate); None stands for 'all' on that dimension."""
    cursor = ws.engine.execute(queries.STATS)
    names = [d[0] for d in cursor.description]
    out: dict[tuple[str | None, bool | None], dict[str, Any]] = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        segment = None if row["g_segment"] else row["segment"]
        advocate = None if row["g_advocate"] else bool(row["advocate"])
        out[(segment, advocate)] = row
    return out


def _figures(row: dict[str, Any], total: dict[str, Any]) -> dict[str, Any]:
    """Profiles, share, revenue share, average value and CLV, NPS and referral revenue."""
    n, population = int(row["profiles"]), int(total["profiles"])
    revenue = float(row["revenue"])
    value = stats.mean([n], [row["value_mean"] or 0.0], [row["value_var"] or 0.0])
    clv_n = int(row["clv_n"])
    clv = stats.mean([clv_n], [row["clv_mean"] or 0.0], [row["clv_var"] or 0.0])
    promoters, passives, detractors = (int(row[k]) for k in ("promoters", "passives", "detractors"))
    nps = stats.nps([promoters], [passives], [detractors])
    return {
        "profiles": n,
        "share": stats.pick(stats.proportion([n], [population]), 0),
        "revenue": revenue,
        "revenue_share": revenue / float(total["revenue"]) if total["revenue"] else None,
        "avg_value": stats.pick(value, 0),
        "avg_clv": stats.pick(clv, 0),
        "nps": {
            **stats.pick(nps, 0),
            "promoters": promoters,
            "passives": passives,
            "detractors": detractors,
        },
        "referral_revenue": float(row["referral_revenue"]),
        "advocates": int(row["advocates"]),
        "amplifiers_only": int(row["amplifiers_only"]),
    }


def _segment(
    segment: str, rows: dict[tuple[str | None, bool | None], dict[str, Any]], total: dict[str, Any]
) -> dict[str, Any]:
    row = rows.get((segment, None)) or _zero(total)
    out = {"segment": segment, **_figures(row, total)}
    out["advocate_share"] = stats.pick(stats.proportion([row["advocates"]], [row["profiles"]]), 0)
    if segment == "other":
        # Repeat buyers whose attitude is not known are not captives: say how many there are.
        out["behavioural_attitude_unknown"] = int(row["behavioural_unknown"])
        out["behavioural_attitude_neutral"] = int(row["behavioural_neutral"])
    return out


def _cell(
    segment: str,
    advocate: bool,
    rows: dict[tuple[str | None, bool | None], dict[str, Any]],
    total: dict[str, Any],
) -> dict[str, Any]:
    row = rows.get((segment, advocate)) or _zero(total)
    out = {
        "segment": segment,
        "advocate": advocate,
        "loyad": segment == "loyal" and advocate,
        **_figures(row, total),
    }
    out.pop("advocates")
    return out


def _loyads(
    rows: dict[tuple[str | None, bool | None], dict[str, Any]], total: dict[str, Any]
) -> dict[str, Any]:
    """Loyal advocates: the figures of the cell, and how they sit within loyal and advocates."""
    cell = rows.get(("loyal", True)) or _zero(total)
    loyal = rows.get(("loyal", None)) or _zero(total)
    n = int(cell["profiles"])
    return {
        **_figures(cell, total),
        "share_of_loyal": stats.pick(stats.proportion([n], [loyal["profiles"]]), 0),
        "share_of_advocates": stats.pick(stats.proportion([n], [total["advocates"]]), 0),
    }


def _advocacy(total: dict[str, Any]) -> dict[str, Any]:
    return {
        "advocates": int(total["advocates"]),
        "share": stats.pick(stats.proportion([total["advocates"]], [total["profiles"]]), 0),
        "amplifiers_only": int(total["amplifiers_only"]),
        "referral_revenue": float(total["referral_revenue"]),
    }


def definitions(settings: SegmentsSettings, state: State) -> dict[str, Any]:
    """The rules as applied in this document (thresholds filled in), with their sources."""
    s = settings
    window = (
        f"within {s.advocacy_days} days of the end of the data"
        if s.advocacy_days
        else "over all the data"
    )
    alive = (
        f"AND P(alive) >= {s.min_p_alive} (BG/NBD fitted on the workspace, calibrated to the "
        "end of the data)"
        if state.use_clv
        else f"(the P(alive) criterion is skipped: {state.alive.reason})"
    )
    return {
        "end_of_data": "the last day with an order, a feedback answer or an event (UTC)",
        "population": "profiles that are known (a customer record, a reference or an email) or "
        "have a completed order, an NPS answer, a text about us or an advocacy act; anonymous "
        "visitors with web events only are left out",
        "behavioural": f"at least {s.min_orders} completed orders, the last within "
        f"{s.active_days} days of the end of the data, {alive}",
        "p_alive_applied": state.use_clv,
        "affinity": f"latest NPS answer (0-10) >= {s.affinity_min_nps}; without one, mean "
        f"sentiment of the profile's texts about us (feedback, mentions of our brand) >= "
        f"{s.affinity_min_sentiment}",
        "no_affinity": f"latest NPS answer <= {s.no_affinity_max_nps}; without one, mean "
        f"sentiment <= {s.no_affinity_max_sentiment}",
        "neutral": "an answer or sentiment between the two thresholds",
        "unknown": "no NPS answer and no scored text about us",
        "segments": {
            "loyal": "behavioural AND affinity (Dick & Basu: loyalty)",
            "captive": "behavioural AND no affinity: repeat buyers without affinity, at risk "
            "(spurious loyalty)",
            "fan": "affinity AND NOT behavioural: fans without (recent) purchases (latent loyalty)",
            "other": "everything else, including behavioural with a neutral or unknown "
            "attitude (counted apart as behavioural_attitude_neutral / _unknown)",
        },
        "advocate": "at least one intentional act "
        f"{window}: a referral made, a converted referral, a public rating of 4-5 stars, or a "
        "mention of our brand with genuine advocacy intent; likes and shares without own words "
        "(intent amplification) are counted apart and never make an advocate",
        "loyad": "loyal AND advocate",
        "membership": "profiles enrolled in the loyalty program now (the programs' store), per "
        "segment: members, non_members, member_share (of the segment's profiles), "
        "share_of_members and share_of_non_members (of all segmented members / non-members), "
        "Wilson intervals",
        "revenue_share": "completed revenue of the group / completed revenue of all segmented "
        "profiles",
        "avg_value": "mean historical completed revenue per profile (Student t interval)",
        "avg_clv": "mean predicted CLV over the group's profiles with a prediction (buyers)",
        "nps": "NPS of the latest NPS answer of each of the group's profiles who answered "
        "(adjusted Wald interval)",
        "referral_revenue": "completed amount of the orders that converted the group's "
        "referrals, credited to the referrer",
        "transitions": f"segment at the end of each of the last {s.periods} {s.period}s "
        "computed with only the data up to that day; 'new' = not yet a customer then",
        "sources": SOURCES,
    }


def _notes(state: State, total: dict[str, Any], periods: list[dict[str, Any]]) -> list[str]:
    notes: list[str] = []
    if state.end is None:
        return ["no orders, feedback answers or events: nothing to segment"]
    if not state.use_clv:
        notes.append(f"behavioural loyalty without the P(alive) criterion: {state.alive.reason}")
    customers = state.alive.info.get("customers", 0)
    if state.use_clv and customers < SMALL_MODEL:
        notes.append(
            f"P(alive) comes from a purchase model fitted on only {customers} customers: "
            "it is unreliable at this size (use_clv=False leaves the criterion out)"
        )
    notes.extend(f"CLV model: {w}" for w in state.alive.info.get("warnings", []))
    if not total["profiles"]:
        notes.append("no customer profiles to segment")
    elif total["unknown"]:
        notes.append(
            f"{int(total['unknown']):,} of {int(total['profiles']):,} profiles have no NPS "
            "answer and no scored text: their attitude is unknown (never loyal, captive or fan)"
        )
    if total["behavioural_unknown"]:
        notes.append(
            f"{int(total['behavioural_unknown']):,} behaviourally loyal profiles have an "
            "unknown attitude: they are in 'other', not 'captive'"
        )
    if len(periods) < 2:
        notes.append("fewer than two periods of data: no transitions")
    elif not periods[-1]["complete"]:
        notes.append(
            f"the last period ({periods[-1]['period']}) is not complete: its segments are as "
            f"of {periods[-1]['as_of']}"
        )
    return notes
