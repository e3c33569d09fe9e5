"""Connected components of the identity graph, computed in the engine until they converge.

Each node starts as its own label (its `nid`). A round *hooks*: every node looks at the
smallest label among its neighbours, and the root a node points to adopts the smallest label
any of its members saw, so whole trees merge at once rather than one node per round. Then
*pointer jumping* (label := label of label) is repeated until every node points straight at
its root. Hooking only ever lowers labels, so the rounds stop when no label changes; the result
is then exactly the connected components, each labelled by its smallest `nid`.

Because every round works on whole trees and jumping halves their depth each time, a chain of
n records needs a handful of rounds (grows with log of the diameter), never n. The loops have
hard caps: hitting one means a bug or a pathological graph, and we raise rather than return
silently split profiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cxloop.engines.duckdb_engine import DuckDBEngine

MAX_ROUNDS = 100  # hook rounds; real graphs converge in a handful
MAX_JUMPS = 64  # pointer jumps per round; depth halves each time, so 2**64 nodes at most


class ConvergenceError(RuntimeError):
    """Connected components did not converge within the safety cap (never returned silently)."""


# One hook round over `{labels}` (nid, label) and the symmetric `{edges}` (a, b) into `{out}`.
# `best` is the smallest label a node sees (its own or a neighbour's); a root adopts the
# smallest `best` of the nodes pointing at it. `old` keeps the label before the round.
HOOK_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
WITH seen AS (
    SELECT e.a AS nid, min(n.label) AS label FROM {edges} e
    JOIN {labels} n ON n.nid = e.b GROUP BY e.a
), best AS (
    SELECT l.nid, l.label AS old, least(l.label, coalesce(s.label, l.label)) AS best
    FROM {labels} l LEFT JOIN seen s USING (nid)
), hooked AS (
    SELECT old AS nid, min(best) AS best FROM best GROUP BY old
)
SELECT b.nid, least(b.best, coalesce(h.best, b.best)) AS label, b.old
FROM best b LEFT JOIN hooked h USING (nid)
"""

CHANGED_SQL = "SELECT count(*) FROM {table} WHERE label <> old"

# label := label of label; `old` then marks nodes that moved, so the loop knows when to stop.
JUMP_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
SELECT x.nid, j.label, x.label AS old FROM {src} x JOIN {src} j ON j.nid = x.label
"""


def connected_components(
    engine: DuckDBEngine, nodes: str, edges: str, labels: str, *, max_rounds: int | None = None
) -> int:
    """Label every nid of `nodes` with the smallest nid of its component, into `labels`.

    `edges` must hold both directions of every edge. Returns the number of hook rounds (the
    last one is the round that found nothing to change). Raises ConvergenceError if a cap is
    hit, so a too-long chain can never come back as two profiles.
    """
    cap = MAX_ROUNDS if max_rounds is None else max_rounds
    work, spare = f"{labels}_next", f"{labels}_jump"
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {labels} AS SELECT nid, nid AS label FROM {nodes}"
    )
    rounds = 0
    while True:
        if rounds >= cap:
            raise ConvergenceError(
                f"identity graph did not converge in {cap} rounds; profiles were not written"
            )
        rounds += 1
        engine.execute(HOOK_SQL.format(out=work, labels=labels, edges=edges))
        if not engine.scalar(CHANGED_SQL.format(table=work)):
            break
        src, dst = work, spare
        for _ in range(MAX_JUMPS):
            engine.execute(JUMP_SQL.format(out=dst, src=src))
            src, dst = dst, src
            if not engine.scalar(CHANGED_SQL.format(table=src)):
                break
        else:
            raise ConvergenceError(f"pointer jumping did not settle in {MAX_JUMPS} steps")
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {labels} AS SELECT nid, label FROM {src}")
    for table in (work, spare):
        engine.execute(f"DROP TABLE IF EXISTS {table}")
    return rounds
