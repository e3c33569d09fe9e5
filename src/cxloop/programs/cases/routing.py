"""Routing: which new feedback answers open a case, for which team, with which priority.

One SQL statement over the answers just loaded (never a Python loop over rows): the `[cases]`
rules become a `CASE WHEN ... THEN rule_index` expression, evaluated with bound parameters
in the warehouse engine, beside the touchpoint's owner from the catalogue, the answer's
profile and the profile's value tier, consent and time zone. Only the matching answers come
back to Python, as `CaseDraft`s.

Value tier: a profile is "high" value when its completed spend is at least the
(1 - high_value_share) quantile of completed spend among profiles with a completed order.

Consent (`contactable`) is read conservatively (docs/triggers.md#consent): a profile may be
contacted for marketing only when it has at least one customer record and every one of its
customer records says `consent_marketing = true`; a record that says false, or says nothing
(the contract's default is false), withholds consent for the whole profile.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cxloop.errors import ConfigError
from cxloop.loop_settings import CasesSettings, Condition, RoutingRule

if TYPE_CHECKING:
    from cxloop.reactions import LoadedRows
    from cxloop.workspace import Workspace

#: Per profile: may it be contacted for marketing (conservative), and its time zone.
CONSENT_SQL = """
SELECT pr.profile_id,
       bool_and(coalesce(c.consent_marketing, false)) AS consent,
       min(json_extract_string(c.attributes, '$.timezone')) AS timezone
FROM profile_records pr JOIN customers c USING (source, customer_id)
GROUP BY pr.profile_id"""

#: Completed spend per profile and whether it is in the top share (value tier "high").
VALUE_SQL = """
WITH spend AS (
    SELECT l.profile_id, sum(o.amount) AS spend
    FROM orders o JOIN profile_links l
      ON l.kind = 'orders' AND l.source = o.source AND l.id = o.order_id
    WHERE coalesce(o.status, 'completed') = 'completed' AND l.profile_id IS NOT NULL
    GROUP BY l.profile_id
), cut AS (SELECT quantile_cont(spend, 1 - $share) AS threshold FROM spend)
SELECT profile_id, CASE WHEN spend >= threshold THEN 'high' ELSE 'standard' END AS tier
FROM spend, cut"""


@dataclass(frozen=True)
class CaseDraft:
    """A case to open: everything routing decided about one answer."""

    feedback_key: str
    profile_id: str | None
    customer_ref: str | None
    team: str
    priority: str
    rule: str
    metric: str | None
    score: float | None
    touchpoint: str | None
    themes: tuple[str, ...]
    answered_at: datetime | None
    contactable: bool
    timezone: str | None


def route(ws: Workspace, loaded: Sequence[LoadedRows], settings: CasesSettings) -> list[CaseDraft]:
    """The cases the answers among `loaded` call for (at most one per answer)."""
    batches = [rows for rows in loaded if rows.kind == "feedback"]
    if not batches:
        return []
    rules = settings.routing
    pinned = ws.config.voc.pinned
    predicates, params = [], []
    for rows in batches:
        where, values = rows.predicate
        predicates.append(f"({where})")
        params += values
    rule_sql, rule_params = _rules_case(rules, pinned)
    uses_sentiment = any(c.key == "sentiment" for r in rules for c in r.conditions)
    sentiment_join = ""
    if uses_sentiment:
        _register_sentiment(ws, " OR ".join(predicates), params)
        sentiment_join = (
            "LEFT JOIN __case_sentiment s ON s.source = f.source AND s.response_id = f.response_id"
        )
    sentiment_col = "s.sentiment" if uses_sentiment else "CAST(NULL AS DOUBLE)"
    sql = f"""
WITH consent AS ({CONSENT_SQL}), tier AS ({VALUE_SQL}),
answers AS (
    SELECT f.*, tp.owner AS owner, coalesce(l.profile_id, pr.profile_id) AS profile_id,
           coalesce(v.tier, 'standard') AS value_tier, {sentiment_col} AS sentiment
    FROM (SELECT * FROM feedback WHERE {" OR ".join(predicates)}) f
    LEFT JOIN touchpoints tp ON tp.touchpoint = f.touchpoint
    LEFT JOIN profile_links l
      ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
    LEFT JOIN profile_records pr ON pr.source = f.source AND pr.customer_id = f.customer_id
    LEFT JOIN tier v ON v.profile_id = coalesce(l.profile_id, pr.profile_id)
    {sentiment_join}
), routed AS (SELECT *, {rule_sql} AS rule_index FROM answers)
SELECT r.source, r.response_id, r.profile_id, r.customer_id, r.metric, r.score, r.touchpoint,
       nullif(trim(r.owner), '') AS owner, r.text, r.submitted_at, r.rule_index,
       coalesce(c.consent, false) AS consent, c.timezone
FROM routed r LEFT JOIN consent c ON c.profile_id = r.profile_id
WHERE r.rule_index IS NOT NULL
ORDER BY r.submitted_at, r.source, r.response_id"""
    bound = {"share": settings.high_value_share}
    sql, all_params = _positional(sql, params, rule_params, bound)
    rows = ws.engine.fetchall(sql, all_params)
    themes_of = _theme_matcher(pinned)
    drafts = []
    for (
        source,
        response_id,
        profile_id,
        customer_id,
        metric,
        score,
        touchpoint,
        owner,
        text,
        submitted_at,
        rule_index,
        consent,
        timezone,
    ) in rows:
        rule = rules[int(rule_index)]
        drafts.append(
            CaseDraft(
                feedback_key=f"feedback:{source}:{response_id}",
                profile_id=profile_id,
                customer_ref=None if customer_id is None else f"{source}:{customer_id}",
                team=_team(rule, touchpoint, owner, settings),
                priority=rule.priority,
                rule=rule.text,
                metric=metric,
                score=None if score is None else float(score),
                touchpoint=touchpoint,
                themes=themes_of(text),
                answered_at=None if submitted_at is None else submitted_at.replace(tzinfo=UTC),
                contactable=bool(consent),
                timezone=timezone,
            )
        )
    return drafts


def unresolved_answers(ws: Workspace, loaded: Sequence[LoadedRows]) -> int:
    """New answers that name someone (a customer id or an email) whose profile is not known
    yet (neither linked nor a known customer record): the profiles must be rebuilt first."""
    predicates, params = [], []
    for rows in loaded:
        if rows.kind == "feedback":
            where, values = rows.predicate
            predicates.append(f"({where})")
            params += values
    if not predicates:
        return 0
    sql = f"""
SELECT count(*) FROM (SELECT * FROM feedback WHERE {" OR ".join(predicates)}) f
LEFT JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
LEFT JOIN profile_records pr ON pr.source = f.source AND pr.customer_id = f.customer_id
WHERE l.profile_id IS NULL AND pr.profile_id IS NULL
  AND (f.customer_id IS NOT NULL OR f.email IS NOT NULL)"""
    return int(ws.engine.scalar(sql, params))


def _team(rule: RoutingRule, touchpoint: str | None, owner: str | None, s: CasesSettings) -> str:
    if rule.team != "owner":
        return rule.team
    if touchpoint is None:
        return s.relational_team
    return owner or s.unowned_team


def _rules_case(
    rules: Sequence[RoutingRule], pinned: dict[str, tuple[str, ...]]
) -> tuple[str, list[Any]]:
    """`CASE WHEN <rule 0> THEN 0 WHEN <rule 1> THEN 1 ... END` with its parameters."""
    parts, params = [], []
    for rule in rules:
        conditions = []
        for condition in rule.conditions:
            sql, values = _condition_sql(condition, pinned, rule)
            conditions.append(sql)
            params += values
        parts.append(f"WHEN {' AND '.join(conditions) or 'TRUE'} THEN {rule.index}")
    if not parts:
        return "CAST(NULL AS INTEGER)", []
    return "CASE " + " ".join(parts) + " END", params


_COLUMNS = {"metric": "metric", "touchpoint": "touchpoint", "channel": "channel"}


def _condition_sql(
    c: Condition, pinned: dict[str, tuple[str, ...]], rule: RoutingRule
) -> tuple[str, list[Any]]:
    negate = c.op == "!="
    if c.key in ("score", "sentiment"):
        return f"{c.key} {c.op} ?", [c.number]
    if c.key in _COLUMNS:
        column = _COLUMNS[c.key]
        if c.key == "touchpoint" and c.value in ("none", "any"):
            empty = c.value == "none"
            return f"{column} IS {'NOT ' if empty == negate else ''}NULL", []
        return f"{column} IS {'' if negate else 'NOT '}DISTINCT FROM ?", [c.value]
    if c.key == "value":
        return f"value_tier {'<>' if negate else '='} ?", [c.value]
    if c.key == "public":
        wanted = (c.value == "true") != negate
        return "coalesce(public, false) = ?", [wanted]
    if c.key == "theme":
        if c.value not in pinned:
            raise ConfigError(
                f"[cases] rules: {rule.text!r} names theme {c.value!r}; themes in rules are "
                f"[voc.pinned] themes (have: {', '.join(sorted(pinned)) or 'none'})"
            )
        match = "regexp_matches(lower(coalesce(text, '')), ?)"
        return (f"NOT {match}" if negate else match), [_keyword_regex(pinned[c.value])]
    raise AssertionError(f"unhandled routing condition {c.key}")  # pragma: no cover


def _keyword_regex(keywords: Sequence[str]) -> str:
    """Whole words or phrases, any case (RE2 syntax: DuckDB and Python agree on it)."""
    words = sorted({re.escape(k.lower()).replace(r"\ ", r"\s+") for k in keywords}, key=len)
    return r"(^|\W)(" + "|".join(reversed(words)) + r")(\W|$)"


def _theme_matcher(pinned: dict[str, tuple[str, ...]]) -> Any:
    patterns = [(name, re.compile(_keyword_regex(words))) for name, words in pinned.items()]

    def themes_of(text: str | None) -> tuple[str, ...]:
        if not text:
            return ()
        lowered = text.lower()
        return tuple(sorted(name for name, p in patterns if p.search(lowered)))

    return themes_of


def _positional(
    sql: str, before: list[Any], rules: list[Any], named: dict[str, Any]
) -> tuple[str, list[Any]]:
    """Bind everything positionally, in the order the placeholders appear: the named `$x`
    of the value CTE first, then the loaded-rows predicate, then the rules' parameters."""
    values: list[Any] = []
    for name in re.findall(r"\$([a-z_]+)", sql.split("answers AS")[0]):
        values.append(named[name])
    sql = re.sub(r"\$[a-z_]+", "?", sql)
    return sql, [*values, *before, *rules]


def _register_sentiment(ws: Workspace, predicate: str, params: list[Any]) -> None:
    """Sentiment (VADER compound, -1..1) of the new answers' texts, as a temporary table."""
    import pyarrow as pa

    from cxloop.analytics.voc.sentiment import sentiment_of

    rows = ws.engine.fetchall(
        f"SELECT source, response_id, text FROM feedback WHERE ({predicate}) AND text IS NOT NULL",
        params,
    )
    scores = sentiment_of([r[2] for r in rows]).column("score").to_pylist() if rows else []
    table = pa.table(
        {
            "source": pa.array([r[0] for r in rows], pa.string()),
            "response_id": pa.array([r[1] for r in rows], pa.string()),
            "sentiment": pa.array(scores, pa.float64()),
        }
    )
    ws.engine.register("__case_sentiment_arrow", table)
    ws.engine.execute(
        "CREATE OR REPLACE TEMP TABLE __case_sentiment AS SELECT * FROM __case_sentiment_arrow"
    )
    ws.engine.unregister("__case_sentiment_arrow")
