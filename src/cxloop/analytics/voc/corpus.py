"""The texts of the voice of the customer, gathered from the workspace in one shape.

Three channels of voice (docs/voc.md):
- `survey`: verbatims of survey answers (feedback that is not public), with the answer's
  metric and score, so text sentiment can be checked against what the customer scored;
- `review`: public feedback (ratings with a review text);
- `social`: mentions with a text (posts, replies, reviews on social platforms), of any brand;
  likes and shares carry no words of their own but are kept: they are amplification.

Every row keeps its key in the source table (`kind`, `source`, `id`) so results can be joined
back, exported per text and erased with the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

CORPUS_SQL = """
SELECT 'feedback' AS kind, f.source, f.response_id AS id,
       CASE WHEN coalesce(f.public, false) THEN 'review' ELSE 'survey' END AS channel,
       l.profile_id, f.submitted_at AS occurred_at, f.text, f.metric,
       CAST(f.score AS DOUBLE) AS score, f.touchpoint,
       CAST(NULL AS VARCHAR) AS brand, CAST(NULL AS VARCHAR) AS mention_kind,
       CAST(NULL AS BIGINT) AS reach, CAST(NULL AS VARCHAR) AS platform
FROM feedback f
LEFT JOIN profile_links l ON l.kind = 'feedback' AND l.source = f.source AND l.id = f.response_id
WHERE f.text IS NOT NULL
UNION ALL
SELECT 'mentions', 'default', m.mention_id, 'social', l.profile_id, m.posted_at, m.text,
       NULL, NULL, NULL, m.brand, lower(trim(m.kind)), m.reach, m.platform
FROM mentions m
LEFT JOIN profile_links l ON l.kind = 'mentions' AND l.id = m.mention_id
"""


@dataclass(frozen=True)
class Corpus:
    """All texts, column-wise (an Arrow table in the order of CORPUS_SQL's columns)."""

    table: pa.Table

    @property
    def size(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list:
        return self.table.column(name).to_pylist()


def load_corpus(ws: Workspace) -> Corpus:
    """Every feedback text and every mention (with or without text), keyed to its source."""
    table = ws.engine.arrow(f"SELECT * FROM ({CORPUS_SQL}) ORDER BY kind, source, id")
    return Corpus(table)
