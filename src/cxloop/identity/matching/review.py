"""Explaining probabilistic matches: the clerical-review list and a profile's model links.

Each pair is shown as a person would check it: both records side by side, the match
probability and weight, and every comparison's level with its weight in bits (log2 of the
likelihood ratio), so a reviewer sees *why* the model scored the pair as it did. The prior
(how likely two random records are one person) is the rest of the weight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxloop.identity import graph

if TYPE_CHECKING:
    from cxloop.engines.duckdb_engine import DuckDBEngine

RECORD_FIELDS = (
    "source",
    "customer_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "address",
    "postcode",
    "email",
    "phone",
)

_PAIRS_SQL = f"""
SELECT m.status, m.reason, m.match_probability, m.match_weight, m.contributions,
       m.profile_a, m.profile_b,
       {{left}}, {{right}}
FROM identity_matches m
JOIN customers l ON l.source = split_part(m.a, {graph.SEP}, 2)
 AND l.customer_id = split_part(m.a, {graph.SEP}, 3)
JOIN customers r ON r.source = split_part(m.b, {graph.SEP}, 2)
 AND r.customer_id = split_part(m.b, {graph.SEP}, 3)
WHERE {{where}}
ORDER BY m.match_probability DESC, m.a, m.b
LIMIT $limit
"""


def _select(alias: str) -> str:
    return ", ".join(f"CAST({alias}.{f} AS VARCHAR)" for f in RECORD_FIELDS)


def _pairs(engine: DuckDBEngine, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    sql = _PAIRS_SQL.format(left=_select("l"), right=_select("r"), where=where)
    out = []
    for row in engine.fetchall(sql, params):
        status, reason, probability, weight, contributions, pa, pb = row[:7]
        left = dict(zip(RECORD_FIELDS, row[7 : 7 + len(RECORD_FIELDS)], strict=True))
        right = dict(zip(RECORD_FIELDS, row[7 + len(RECORD_FIELDS) :], strict=True))
        out.append(
            {
                "status": status,
                "reason": reason,
                "match_probability": float(probability),
                "match_weight": float(weight),
                "contradicted": status == "review" and pa == pb,
                "left": {**left, "profile_id": pa},
                "right": {**right, "profile_id": pb},
                "comparisons": [
                    {
                        "comparison": c["comparison"],
                        "level": c["level"],
                        "weight": float(c["weight"]),
                    }
                    for c in contributions
                ],
            }
        )
    return out


def review_pairs(engine: DuckDBEngine, *, limit: int = 100) -> list[dict[str, Any]]:
    """Borderline pairs for a person to judge, most probable first (never merged by the
    model), and pairs judged two people that other links joined anyway (`contradicted`)."""
    from cxloop.identity.matching.matcher import CONTRADICTED_SQL

    where = f"m.status = 'review' AND (m.profile_a <> m.profile_b OR {CONTRADICTED_SQL})"
    return _pairs(engine, where, {"limit": limit})


def profile_matches(engine: DuckDBEngine, profile_id: str) -> list[dict[str, Any]]:
    """The model's accepted pairs inside one profile (why the model joined its records)."""
    return _pairs(
        engine,
        "m.status = 'match' AND m.profile_a = $p",
        {"p": profile_id, "limit": 1000},
    )
