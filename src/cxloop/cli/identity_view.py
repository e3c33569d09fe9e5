"""Tables of probabilistic identity matches: the clerical-review list and a profile's matches.

Each pair is printed as a reviewer reads it: the two records field by field, then each
comparison's level and weight in bits, so the score can be checked by eye.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from cxloop.cli.render import table
from cxloop.identity.matching.review import RECORD_FIELDS


def print_pairs(out: Console, title: str, pairs: list[dict[str, Any]]) -> None:
    """One table per pair: both records side by side, then the comparisons' weights."""
    for i, pair in enumerate(pairs, 1):
        left, right = pair["left"], pair["right"]
        head = (
            f"{title} {i}/{len(pairs)}: probability {pair['match_probability']:.4f}, "
            f"weight {pair['match_weight']:+.2f}"
            + (f" ({pair['reason']})" if pair.get("reason") else "")
        )
        rows: list[list[Any]] = [[f, left.get(f), right.get(f)] for f in RECORD_FIELDS]
        rows.append(["profile", left["profile_id"], right["profile_id"]])
        if pair.get("contradicted"):
            rows.append(["note", "judged two people, but other links joined them", ""])
        out.print(table(head, ["field", "left", "right"], rows))
        out.print(
            table(
                "  why",
                ["comparison", "level", "weight (bits)"],
                [[c["comparison"], c["level"], f"{c['weight']:+.2f}"] for c in pair["comparisons"]],
            )
        )


def print_review(out: Console, pairs: list[dict[str, Any]], *, total: int) -> None:
    """The review list, or a line saying there is nothing to review."""
    if not pairs:
        out.print("No pairs await review (probabilistic matching off, or no borderline pairs).")
        return
    print_pairs(out, "Review", pairs)
    if total > len(pairs):
        out.print(f"{len(pairs)} of {total} pairs shown (--limit).")
