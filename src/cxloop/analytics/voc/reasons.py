"""Detractor and promoter reasons: the themes (or terms) that set two groups of texts apart.

"What do detractors talk about?" is not answered by the themes detractors mention most: the
most frequent themes are frequent for everyone. What sets detractors apart is a theme that
holds a larger share of their mentions than of promoters' mentions, by more than chance.
That is the weighted log-odds ratio with an informative Dirichlet prior of Monroe, Colaresi &
Quinn (2008), "Fightin' Words: Lexical feature selection and evaluation for identifying the
content of political conflict", Political Analysis 16(4), section 3.5.1:

    delta_w = log((y_aw + alpha_w) / (n_a + alpha0 - y_aw - alpha_w))
            - log((y_bw + alpha_w) / (n_b + alpha0 - y_bw - alpha_w)),
    z_w     = delta_w / se_w,

where y_gw is the count of item w in group g, n_g the group's total count, alpha_w the
prior's pseudo-count for w and alpha0 their sum. The prior shrinks the log-odds of rare
items towards zero (a theme seen twice among detractors and never among promoters is not a
finding) and keeps every log finite when an item is absent from one group.

Choices made here, and why:

- The prior's shape is the pooled count of each item over both groups (or `prior`, e.g.
  counts from a background corpus), scaled to alpha0. alpha0 defaults to the number of
  items: one pseudo-count per item on average, which never outweighs real counts yet keeps
  zero counts finite, at any corpus size.
- The variance keeps all four terms of the delta method for binomial log-odds,
  1/(y_a + a) + 1/(n_a + alpha0 - y_a - a) + the same for b. Monroe et al.'s approximation
  keeps only 1/(y_a + a) + 1/(y_b + a), the complement terms being negligible for a
  vocabulary of thousands of words; with a dozen themes one theme can hold a third of a
  group's mentions, and there they are not (dropping them would overstate z).
- z is per item and not adjusted for the number of items compared; |z| >= 1.96 is the usual
  two-sided 5% line for one item.

`theme_reasons` applies this to NPS verbatims. Sign convention: group a is promoters (NPS
9-10) and group b detractors (0-6), so a POSITIVE z means more typical of PROMOTERS and a
NEGATIVE z more typical of DETRACTORS; passives (7-8) and texts without a score take no
part. Counts are texts: a text mentioning a theme counts once for it. Any per-text lists of
strings work, so the same function finds distinguishing terms when given each text's terms.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from cxloop.analytics.stats import Z95

RELATIONSHIP = "(relationship)"
"""Touchpoint label for answers about the relationship (no touchpoint), as in the scorecard."""
CONVENTION = (
    "z > 0: more typical of promoters (NPS 9-10); z < 0: more typical of detractors (NPS 0-6)"
)


def log_odds_dirichlet(
    counts_a: Mapping[str, int],
    counts_b: Mapping[str, int],
    *,
    prior: Mapping[str, float] | None = None,
    alpha0: float | None = None,
    n_a: float | None = None,
    n_b: float | None = None,
) -> list[dict]:
    """Weighted log-odds ratio of each item, group a versus group b (Monroe et al. 2008).

    `n_a`, `n_b` are the sizes of the groups when an item is counted at most once per unit
    and a unit can hold several items (themes per text): the odds are then those of a unit
    mentioning the item. Default: the sum of the counts (Monroe et al.'s word counts).
    Items with no contrast left (mentioned by every unit of a group) are not returned.

    Items are those with a count in either group. `prior` gives each item's relative prior
    weight (any scale; default: the pooled counts of a and b) and is scaled to sum to
    `alpha0` (default: the number of items). Returns one row per item, {item, count_a,
    count_b, delta, se, z}, sorted by z descending: a positive z is more typical of a.
    """
    for name, counts in (("counts_a", counts_a), ("counts_b", counts_b)):
        if any(v < 0 for v in counts.values()):
            raise ValueError(f"{name} has a negative count")
    items = sorted({w for w in (*counts_a, *counts_b) if counts_a.get(w, 0) + counts_b.get(w, 0)})
    if not items:
        return []
    if alpha0 is None:
        alpha0 = float(len(items))
    if not alpha0 > 0:
        raise ValueError(f"alpha0 must be > 0, got {alpha0}")
    weights = (
        {w: float(prior.get(w, 0.0)) for w in items}
        if prior is not None
        else {w: float(counts_a.get(w, 0) + counts_b.get(w, 0)) for w in items}
    )
    missing = [w for w, v in weights.items() if not v > 0]
    if missing:
        raise ValueError(f"prior weight must be > 0 for every item; not for {missing[:5]}")
    total = sum(weights.values())
    size_a = float(sum(counts_a.get(w, 0) for w in items)) if n_a is None else float(n_a)
    size_b = float(sum(counts_b.get(w, 0) for w in items)) if n_b is None else float(n_b)
    rows = []
    for w in items:
        alpha = alpha0 * weights[w] / total
        y_a, y_b = float(counts_a.get(w, 0)), float(counts_b.get(w, 0))
        in_a, out_a = y_a + alpha, size_a + alpha0 - y_a - alpha
        in_b, out_b = y_b + alpha, size_b + alpha0 - y_b - alpha
        if out_a <= 0 or out_b <= 0:
            continue
        delta = math.log(in_a / out_a) - math.log(in_b / out_b)
        se = math.sqrt(1 / in_a + 1 / out_a + 1 / in_b + 1 / out_b)
        rows.append(
            {
                "item": w,
                "count_a": int(y_a),
                "count_b": int(y_b),
                "delta": delta,
                "se": se,
                "z": delta / se,
            }
        )
    rows.sort(key=lambda r: (-r["z"], r["item"]))
    return rows


def theme_reasons(
    themes_per_text: Sequence[Sequence[str]],
    nps: Sequence[float | None],
    touchpoint: Sequence[str | None],
    *,
    min_count: int = 5,
) -> dict[str, Any]:
    """Themes that distinguish detractors from promoters, overall and per touchpoint.

    Per text: its themes, its NPS answer (None or NaN: not an NPS answer) and its touchpoint
    (None: about the relationship, listed as "(relationship)"). Returns
    {"convention", "overall": section, "by_touchpoint": {touchpoint: section}} where a
    section is {"detractors", "promoters" (texts in each group), "detractor": rows with
    z <= -1.96, most negative first, "promoter": rows with z >= 1.96, most positive first}.
    A row is {item, detractors, promoters (texts mentioning it), delta, se, z} with z > 0 on
    the promoter side; items seen in fewer than `min_count` texts of the two groups together
    are not listed (they still count towards the totals and the prior).
    """
    if not len(themes_per_text) == len(nps) == len(touchpoint):
        raise ValueError("themes_per_text, nps and touchpoint must have the same length")
    overall: tuple[Counter[str], Counter[str], list[int]] = (Counter(), Counter(), [0, 0])
    by_tp: dict[str, tuple[Counter[str], Counter[str], list[int]]] = {}
    for themes, score, tp in zip(themes_per_text, nps, touchpoint, strict=True):
        group = _group(score)
        if group is None:
            continue
        label = RELATIONSHIP if tp is None else str(tp)
        cell = by_tp.setdefault(label, (Counter(), Counter(), [0, 0]))
        for counts_p, counts_d, sizes in (overall, cell):
            sizes[group] += 1
            (counts_p if group == 0 else counts_d).update(set(themes))
    return {
        "convention": CONVENTION,
        "overall": _section(*overall, min_count),
        "by_touchpoint": {tp: _section(*by_tp[tp], min_count) for tp in sorted(by_tp)},
    }


def _group(score: float | None) -> int | None:
    """0 promoter (9-10), 1 detractor (0-6), None passive or no score."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    if score >= 9:
        return 0
    if score <= 6:
        return 1
    return None


def _section(
    promoters: Counter[str], detractors: Counter[str], sizes: list[int], min_count: int
) -> dict[str, Any]:
    rows = [
        {
            "item": r["item"],
            "detractors": r["count_b"],
            "promoters": r["count_a"],
            "delta": r["delta"],
            "se": r["se"],
            "z": r["z"],
        }
        for r in log_odds_dirichlet(promoters, detractors, n_a=sizes[0], n_b=sizes[1])
        if r["count_a"] + r["count_b"] >= min_count
    ]
    return {
        "promoters": sizes[0],
        "detractors": sizes[1],
        "detractor": sorted((r for r in rows if r["z"] <= -Z95), key=lambda r: r["z"]),
        "promoter": [r for r in rows if r["z"] >= Z95],
    }
