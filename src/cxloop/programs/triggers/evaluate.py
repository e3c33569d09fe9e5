"""Trigger evaluation in the warehouse engine: which new rows fire which trigger, and what each
decision is (send, skip with a reason, hold out). Set-based SQL, never a Python loop per row.

Two statements per evaluation, whatever the number of rows:

1. `candidates`: for every `[triggers]` rule on events, feedback or orders, the loaded rows
   that match its conditions, with their profile (`profile_links`, or for a row loaded since
   the last identity build, its customer's profile in `profile_records`), as one UNION ALL into a
   temporary table `__trigger_candidates(trigger, action, argument, marketing, subject,
   profile_id, at)`. The subject (`event:source:id`) is what makes a decision unique.
2. `judge`: every candidate's decision, in this order (the first reason that applies):
   already decided (left out: a re-offered row acts once), no profile, no consent (marketing
   actions; consent read conservatively, see cases/routing.py), complaint suppression (a case
   opened for the profile within `complaint_suppression_days`), not a loyalty member (points),
   the advocacy ladder (review requests: its eligibility check, recording nothing), frequency
   cap (marketing actions already decided for the profile within `cap_days`, sent or held
   out, plus this batch's, most recent moment first, above `cap_messages`), and only then the
   holdout (deterministic: the first 8 hex digits of md5(profile_id:action) modulo 100 below
   `holdout_percent`).

   The holdout is drawn last on purpose: a held-out candidate is one that *would have been
   sent*. Drawn earlier, the holdout would keep the profiles the ladder or the cap take out
   of the sent group (those refused a review request, those already contacted often), and
   the comparison of outcomes would measure that difference, not the action
   (docs/metrics.md#triggered-actions). For the same reason a held-out decision counts
   against the profile's cap like a sent one. The statement is cut in two around the
   ladder's check, the only step that is not SQL.

The store's state the judgement needs (decisions made, recent sends, complaints, members) is
handed to the engine as Arrow tables, like the loyalty membership breakdown does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cxloop.loop_settings import Condition, TriggerRule, TriggersSettings
from cxloop.programs.cases.routing import CONSENT_SQL

if TYPE_CHECKING:
    from cxloop.engines.duckdb_engine import DuckDBEngine
    from cxloop.reactions import LoadedRows

CANDIDATES = "__trigger_candidates"

#: source kind -> (table, id column, time column, profile_links kind)
SOURCES = {
    "event": ("events", "event_id", "occurred_at", "events"),
    "feedback": ("feedback", "response_id", "submitted_at", "feedback"),
    "order": ("orders", "order_id", "ordered_at", "orders"),
}
_COLUMN_SQL = {
    ("order", "status"): "coalesce(t.status, 'completed')",
    ("feedback", "public"): "coalesce(t.public, false)",
}


@dataclass(frozen=True)
class StoreState:
    """What the store knows that a judgement needs (read before judging)."""

    decided: pa.Table  # trigger, subject
    recent_sends: pa.Table  # profile_id, n
    complaints: pa.Table  # profile_id
    members: pa.Table  # profile_id, member_id


@dataclass(frozen=True)
class Decision:
    trigger: str
    action: str
    argument: str | None
    marketing: bool
    subject: str
    profile_id: str | None
    timezone: str | None
    outcome: str  # sent | skipped | holdout
    reason: str | None
    member_id: str | None


def candidates(
    engine: DuckDBEngine,
    loaded: Sequence[LoadedRows],
    rules: Sequence[TriggerRule],
    *,
    not_before: datetime | None = None,
) -> int:
    """Fill `__trigger_candidates` with the loaded rows that fire a rule; returns the count.

    `not_before` leaves out rows whose moment is older (a historic load fires nothing)."""
    parts: list[str] = []
    params: list[Any] = []
    by_kind = {"event": "events", "feedback": "feedback", "order": "orders"}
    for rule in rules:
        if rule.source not in SOURCES:
            continue
        table, id_col, time_col, link_kind = SOURCES[rule.source]
        batches = [r for r in loaded if r.kind == by_kind[rule.source]]
        if not batches:
            continue
        where, where_params = [], []
        for rows in batches:
            predicate, values = rows.predicate
            where.append(f"({predicate})")
            where_params += values
        conditions, condition_params = [], []
        for condition in rule.conditions:
            sql, values = _condition_sql(rule.source, condition)
            conditions.append(sql)
            condition_params += values
        if not_before is not None:
            conditions.append(f"t.{time_col} >= ?")
            condition_params.append(not_before.replace(tzinfo=None))
        anonymous = " OR t.anonymous_id IS NOT NULL" if rule.source == "event" else ""
        parts.append(
            f"SELECT ? AS trigger, ? AS action, ? AS argument, ? AS marketing, "
            f"? || ':' || t.source || ':' || t.{id_col} AS subject, "
            f"coalesce(l.profile_id, pr.profile_id) AS profile_id, t.{time_col} AS at, "
            f"(t.customer_id IS NOT NULL OR t.email IS NOT NULL{anonymous}) AS identified "
            f"FROM (SELECT * FROM {table} WHERE {' OR '.join(where)}) t "
            f"LEFT JOIN profile_links l ON l.kind = ? AND l.source = t.source "
            f"AND l.id = t.{id_col} "
            f"LEFT JOIN profile_records pr ON pr.source = t.source "
            f"AND pr.customer_id = t.customer_id "
            f"WHERE {' AND '.join(conditions) or 'TRUE'}"
        )
        params += [rule.name, rule.action, rule.argument, rule.marketing, rule.source]
        params += where_params
        params.append(link_kind)
        params += condition_params
    empty = (
        "SELECT NULL::VARCHAR AS trigger, NULL::VARCHAR AS action, NULL::VARCHAR AS argument, "
        "NULL::BOOLEAN AS marketing, NULL::VARCHAR AS subject, NULL::VARCHAR AS profile_id, "
        "NULL::TIMESTAMP AS at, NULL::BOOLEAN AS identified WHERE false"
    )
    body = " UNION ALL ".join(parts) if parts else empty
    engine.execute(f"CREATE OR REPLACE TEMP TABLE {CANDIDATES} AS {body}", params or None)
    return int(engine.scalar(f"SELECT count(*) FROM {CANDIDATES}"))


def unresolved_candidates(engine: DuckDBEngine) -> int:
    """Candidates that name someone (a customer id, an email, an anonymous id) whose profile is
    not known yet: the profiles must be rebuilt before they are judged."""
    return int(
        engine.scalar(f"SELECT count(*) FROM {CANDIDATES} WHERE profile_id IS NULL AND identified")
    )


def candidate_subjects(engine: DuckDBEngine) -> list[str]:
    """The distinct subjects in `__trigger_candidates` (what the store is asked about)."""
    return [r[0] for r in engine.fetchall(f"SELECT DISTINCT subject FROM {CANDIDATES}")]


def _condition_sql(source: str, c: Condition) -> tuple[str, list[Any]]:
    column = _COLUMN_SQL.get((source, c.key), f"t.{c.key}")
    if c.key in ("success", "public"):
        wanted = c.value.lower() in ("true", "1", "yes")
        if c.op == "!=":
            return f"{column} IS DISTINCT FROM ?", [wanted]
        return f"{column} = ?", [wanted]
    if c.op in ("=", "!=") and c.key not in ("score", "amount", "duration_s", "items"):
        return f"{column} IS {'' if c.op == '!=' else 'NOT '}DISTINCT FROM ?", [c.value]
    return f"{column} {c.op} ?", [c.number]


def register_state(engine: DuckDBEngine, state: StoreState) -> None:
    for name, table in (
        ("__trigger_decided", state.decided),
        ("__trigger_sends", state.recent_sends),
        ("__trigger_complaints", state.complaints),
        ("__trigger_members", state.members),
    ):
        engine.register(name + "_arrow", table)
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
        engine.unregister(name + "_arrow")


#: (trigger, subject, profile_id) of the review requests still eligible -> why the advocacy
#: ladder would refuse each (absent: it would ask). Checks only: records nothing.
LadderCheck = Callable[[list[tuple[str, str, str]]], dict[tuple[str, str], str]]

JUDGED = "__trigger_judged"

#: Every reason a candidate is skipped before the ladder, and its holdout bucket.
JUDGED_SQL = f"""
CREATE OR REPLACE TEMP TABLE {JUDGED} AS
WITH consent AS ({CONSENT_SQL}),
fresh AS (
    SELECT c.* FROM {CANDIDATES} c
    ANTI JOIN __trigger_decided d ON d.trigger = c.trigger AND d.subject = c.subject
)
SELECT f.*, k.timezone, m.member_id,
       CAST(('0x' || substr(md5(f.profile_id || ':' || f.action), 1, 8)) AS BIGINT) % 100
         AS bucket,
       CASE
         WHEN f.profile_id IS NULL THEN 'no profile'
         WHEN f.marketing AND NOT coalesce(k.consent, false) THEN 'no marketing consent'
         WHEN f.marketing AND q.profile_id IS NOT NULL THEN 'complaint suppression'
         WHEN f.action = 'points' AND m.member_id IS NULL THEN 'not a loyalty member'
       END AS reason
FROM fresh f
LEFT JOIN consent k ON k.profile_id = f.profile_id
LEFT JOIN (SELECT DISTINCT profile_id FROM __trigger_complaints) q
  ON q.profile_id = f.profile_id
LEFT JOIN __trigger_members m ON m.profile_id = f.profile_id"""

#: The ladder's refusals, then the frequency cap, then the holdout among the rest.
DECIDE_SQL = f"""
WITH judged AS (
    SELECT j.*, coalesce(j.reason, 'advocacy ladder: ' || l.reason) AS verdict
    FROM {JUDGED} j
    LEFT JOIN __trigger_ladder l ON l.trigger = j.trigger AND l.subject = j.subject
), ranked AS (
    SELECT j.*,
           CASE WHEN j.verdict IS NULL AND j.marketing THEN
             row_number() OVER (
               PARTITION BY j.profile_id, (j.verdict IS NULL AND j.marketing)
               ORDER BY j.at DESC, j.trigger, j.subject)
           END AS rank,
           coalesce(s.n, 0) AS already_sent
    FROM judged j LEFT JOIN __trigger_sends s ON s.profile_id = j.profile_id
), capped AS (
    SELECT *,
           rank IS NOT NULL AND $cap > 0 AND already_sent + rank > $cap AS capped,
           action <> 'case' AND bucket < $holdout AS held
    FROM ranked
)
SELECT trigger, action, argument, marketing, subject, profile_id, timezone,
       CASE WHEN verdict IS NOT NULL OR capped THEN 'skipped'
            WHEN held THEN 'holdout'
            ELSE 'sent' END AS outcome,
       CASE WHEN verdict IS NOT NULL THEN verdict
            WHEN capped THEN 'frequency cap'
            WHEN held THEN 'holdout group'
       END AS reason,
       member_id
FROM capped
ORDER BY trigger, subject"""


def judge(
    engine: DuckDBEngine, settings: TriggersSettings, *, ladder: LadderCheck | None = None
) -> list[Decision]:
    """Every new candidate's decision (reads `__trigger_candidates` and the state tables).

    `ladder` checks the review requests that passed every other eligibility rule against the
    advocacy ladder (reactions.ladder_check); without it no ladder applies."""
    engine.execute(JUDGED_SQL)
    refusals: dict[tuple[str, str], str] = {}
    if ladder is not None:
        asked = engine.fetchall(
            f"SELECT trigger, subject, profile_id FROM {JUDGED} "
            "WHERE reason IS NULL AND action = 'review_request' ORDER BY trigger, subject"
        )
        if asked:
            refusals = ladder([(t, s, p) for t, s, p in asked])
    refused = pa.table(
        {
            "trigger": pa.array([k[0] for k in refusals], pa.string()),
            "subject": pa.array([k[1] for k in refusals], pa.string()),
            "reason": pa.array(list(refusals.values()), pa.string()),
        }
    )
    engine.register("__trigger_ladder_arrow", refused)
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE __trigger_ladder AS SELECT * FROM __trigger_ladder_arrow"
    )
    engine.unregister("__trigger_ladder_arrow")
    params = {"holdout": settings.holdout_percent, "cap": settings.cap_messages}
    rows = engine.fetchall(DECIDE_SQL, params)
    return [Decision(*row) for row in rows]


def holdout_bucket(profile_id: str, action: str) -> int:
    """The judge's bucket (0-99) in Python: for tests and for explaining a decision."""
    import hashlib

    return int(hashlib.md5(f"{profile_id}:{action}".encode()).hexdigest()[:8], 16) % 100


def cap_since(now: datetime, settings: TriggersSettings) -> datetime:
    return now - timedelta(days=settings.cap_days)
