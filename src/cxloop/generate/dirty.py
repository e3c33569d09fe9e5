"""Export artefacts: duplicated event rows and rows that break the data contract.

Dirty rows exercise the loader's rejects. They are placed only where rejecting them changes no
planted truth: an event naming a customer record but no anonymous id (so no stitch is lost), a
record of a person nothing else refers to (so the person simply drops out), any feedback,
mention or referral row, and any order but those that converted a referral. Each dirty row
breaks the contract in exactly one way, and clean rows break it in none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MISSING = "missing required value"
BAD_TIME = "unparsable timestamp"

# kind -> (column, dirty value or None for an empty cell, reason)
DIRT: dict[str, tuple[tuple[str, str | int | None, str], ...]] = {
    "customers": (
        ("customer_id", None, MISSING),
        ("created_at", "2025-13-45", BAD_TIME),
        ("created_at", "yesterday", BAD_TIME),
        ("date_of_birth", "31/02/1985", "unparsable date"),
    ),
    "events": (
        ("event_id", None, MISSING),
        ("occurred_at", None, MISSING),
        ("occurred_at", "2025-13-45", BAD_TIME),
        ("occurred_at", "yesterday", BAD_TIME),
        ("touchpoint", None, MISSING),
        ("stage", "purchase", "unknown stage"),
        ("stage", "loyalty", "unknown stage"),
    ),
    "orders": (
        ("order_id", None, MISSING),
        ("ordered_at", "2025-13-45", BAD_TIME),
        ("amount", "-19.99", "negative amount"),
        ("amount", "12,50", "non-numeric amount"),
        ("amount", None, MISSING),
    ),
    "feedback": (
        ("response_id", None, MISSING),
        ("submitted_at", "yesterday", BAD_TIME),
        ("metric", None, MISSING),
        ("score", "out of range", "score out of range"),
    ),
    "mentions": (
        ("posted_at", "2025-13-45", BAD_TIME),
        ("author", None, MISSING),
        ("brand", None, MISSING),
        ("kind", "repost", "unknown kind"),
    ),
    "referrals": (
        ("referrer_id", None, MISSING),
        ("created_at", "yesterday", BAD_TIME),
        ("created_at", "2025-13-45", BAD_TIME),
    ),
}

OUT_OF_RANGE = {"nps": 11, "ces": 0, "csat": 6, "rating": 0}
"""A score just off each metric's scale."""


@dataclass(frozen=True)
class Reject:
    """One planted contract violation (row is 0-based among the data rows)."""

    kind: str
    row: int
    column: str
    value: str
    reason: str


def duplicate_rows(rng: np.random.Generator, n: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Row order with a few rows exported twice, next to each other as overlapping pages are.

    Returns the take-indices of the new table and a mask of its rows that are (or have) a twin.
    """
    if n == 0:
        return np.arange(0), np.zeros(0, dtype=bool)
    twins = np.sort(rng.choice(n, size=max(1, round(share * n)), replace=False))
    take = np.sort(np.concatenate([np.arange(n), twins]), kind="stable")
    return take, np.isin(take, twins)


def make_dirty(
    rng: np.random.Generator, kind: str, table: pa.Table, eligible: np.ndarray, rate: float
) -> tuple[pa.Table, list[Reject]]:
    """Replace `rate` of the rows (at least one, among `eligible`) by contract violations."""
    if rate <= 0 or kind not in DIRT or table.num_rows == 0:
        return table, []
    candidates = np.flatnonzero(eligible)
    if kind == "feedback":
        scored = pc.is_valid(table.column("score")).to_numpy(zero_copy_only=False)
        candidates = candidates[scored[candidates]]  # every dirt type applies to scored rows
    count = min(len(candidates), max(1, round(rate * table.num_rows)))
    rows = np.sort(rng.choice(candidates, size=count, replace=False))
    dirt = DIRT[kind]
    kinds = rng.integers(0, len(dirt), count)
    rejects: list[Reject] = []
    for k, (column, value, reason) in enumerate(dirt):
        chosen = rows[kinds == k]
        if not len(chosen):
            continue
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[chosen] = True
        col = table.column(column).combine_chunks()
        if kind == "feedback" and column == "score":
            metric = table.column("metric").take(pa.array(chosen)).to_pylist()
            values: list[str | int | None] = [OUT_OF_RANGE[m] for m in metric]
        else:
            values = [value] * len(chosen)
        replacement = pa.array(values, col.type)
        col = pc.replace_with_mask(col, pa.array(mask), replacement)
        table = table.set_column(table.schema.get_field_index(column), column, col)
        rejects += [
            Reject(kind, int(r), column, "" if v is None else str(v), reason)
            for r, v in zip(chosen, values, strict=True)
        ]
    rejects.sort(key=lambda r: r.row)
    return table, rejects
