"""Segment and schedule triggers: `cxloop triggers run WS` (from cron, or after a load).

A profile *enters* a segment when it is in the segment now and was not at the previous run;
`segment_members` in the store keeps each segment trigger's last membership. The first run of
a trigger only records who is in the segment (nobody "entered" a segment that was never looked
at before), so switching a trigger on never mails the whole segment at once. A schedule
trigger acts on every member of its segment once per period (daily: the date, weekly: the ISO
week, monthly: the month, in the workspace time zone).

Segments (docs/triggers.md#segments), from the loyalty x advocacy state (analytics/segments):
`loyal`, `captive`, `loyad` (loyal and an advocate), `promoter` (latest NPS >= 9),
`detractor` (latest NPS <= 6), `valuable_at_risk` (completed revenue in the top 20% of buyers,
and a probability of being alive below `[segments] min_p_alive`, or, without a purchase model,
no order within `[segments] active_days`).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from cxloop.loop_settings import TriggerRule
from cxloop.programs.closed_loop_tables import segment_members
from cxloop.programs.store import ProgramStore, retrying

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

SEGMENT_WHERE = {
    "loyal": "segment = 'loyal'",
    "captive": "segment = 'captive'",
    "loyad": "segment = 'loyal' AND advocate",
    "promoter": "latest_nps >= 9",
    "detractor": "latest_nps <= 6",
    "valuable_at_risk": (
        "orders > 0 AND revenue >= (SELECT quantile_cont(revenue, 0.8) FROM seg_profiles "
        "WHERE orders > 0) AND coalesce(p_alive < ?, "
        "last_order < CAST(? AS DATE) - CAST(? AS INTEGER))"
    ),
}


def run_scheduled(
    ws: Workspace, store: ProgramStore, *, now: datetime | None = None
) -> dict[str, Any]:
    """Evaluate every segment and schedule trigger; act on the decisions."""
    from cxloop.analytics.segments.settings import SegmentsSettings
    from cxloop.analytics.segments.state import segment_state
    from cxloop.programs.triggers.act import act, read_state
    from cxloop.programs.triggers.evaluate import (
        CANDIDATES,
        candidate_subjects,
        judge,
        register_state,
    )

    config = ws.config
    now = (now or datetime.now(UTC)).astimezone(UTC)
    rules = [r for r in config.triggers.triggers if r.source in ("segment", "schedule")]
    if not config.triggers.enabled or not rules:
        return {"triggers": 0}
    settings = SegmentsSettings(**_segment_options(ws))
    rows: list[dict[str, Any]] = []
    seeded: list[str] = []
    with segment_state(ws, settings) as state:
        for rule in rules:
            members = _members(ws, rule, settings, state.end)
            if rule.source == "segment":
                entered = _entered(store, rule.name, members, now)
                if entered is None:
                    seeded.append(rule.name)
                    continue
                subjects = [(p, f"segment:{p}:{now:%Y-%m-%d}") for p in entered]
            else:
                slot = _slot(rule, now, config.locale.timezone)
                subjects = [(p, f"{rule.schedule}:{slot}:{p}") for p in members]
            rows += [
                {
                    "trigger": rule.name,
                    "action": rule.action,
                    "argument": rule.argument,
                    "marketing": rule.marketing,
                    "subject": subject,
                    "profile_id": profile,
                    "at": now.replace(tzinfo=None),
                }
                for profile, subject in subjects
            ]
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("trigger", pa.string()),
                ("action", pa.string()),
                ("argument", pa.string()),
                ("marketing", pa.bool_()),
                ("subject", pa.string()),
                ("profile_id", pa.string()),
                ("at", pa.timestamp("us")),
            ]
        ),
    )
    ws.engine.register("__trigger_scheduled", table)
    ws.engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {CANDIDATES} AS SELECT * FROM __trigger_scheduled"
    )
    ws.engine.unregister("__trigger_scheduled")
    register_state(
        ws.engine, read_state(store, candidate_subjects(ws.engine), config.triggers, now)
    )
    from cxloop.programs.triggers.ladder import ladder_check
    from cxloop.programs.triggers.reactions import through_the_ladder

    judged = judge(ws.engine, config.triggers, ladder=ladder_check(ws, store, now))
    decisions = through_the_ladder(ws, store, judged, now)
    summary = act(
        store,
        decisions,
        config.triggers,
        config.cases,
        now=now,
        timezone=config.locale.timezone,
        expiry_months=config.loyalty.expiry_months or None,
    )
    return {"triggers": len(rules), "candidates": len(rows), "seeded": seeded, **summary}


def _segment_options(ws: Workspace) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(ws.config.segments)


def _members(ws: Workspace, rule: TriggerRule, settings: Any, end: Any) -> list[str]:
    where = SEGMENT_WHERE[str(rule.segment)]
    params: list[Any] = []
    if rule.segment == "valuable_at_risk":
        params = [settings.min_p_alive, end, settings.active_days]
    rows = ws.engine.fetchall(
        f"SELECT profile_id FROM seg_profiles WHERE {where} ORDER BY profile_id", params or None
    )
    return [r[0] for r in rows]


def _entered(
    store: ProgramStore, trigger: str, members: Sequence[str], now: datetime
) -> list[str] | None:
    """Profiles new to the segment since the last run (None on the first run, which seeds)."""

    def transaction() -> list[str] | None:
        with store.write() as conn:
            before = set(
                conn.execute(
                    sa.select(segment_members.c.profile_id).where(
                        segment_members.c.trigger == trigger
                    )
                ).scalars()
            )
            seen = conn.execute(
                sa.select(sa.func.count())
                .select_from(segment_members)
                .where(segment_members.c.trigger == "__seeded__:" + trigger)
            ).scalar_one()
            now_in = set(members)
            left = before - now_in
            entered = sorted(now_in - before)
            leavers = sorted(left)
            for start in range(0, len(leavers), 1000):  # SQLite caps bound parameters
                conn.execute(
                    segment_members.delete().where(
                        segment_members.c.trigger == trigger,
                        segment_members.c.profile_id.in_(leavers[start : start + 1000]),
                    )
                )
            fresh = [{"trigger": trigger, "profile_id": p, "since": now} for p in entered]
            if not seen:
                fresh.append({"trigger": "__seeded__:" + trigger, "profile_id": "-", "since": now})
            if fresh:
                conn.execute(segment_members.insert(), fresh)
            return entered if seen else None

    return retrying(transaction)


def _slot(rule: TriggerRule, now: datetime, timezone: str) -> str:
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    if rule.schedule == "daily":
        return f"{local:%Y-%m-%d}"
    if rule.schedule == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local:%Y-%m}"
