"""Sentiment of customer text: a score in [-1, 1] and a label, cached in the workspace.

The default backend is VADER (Hutto & Gilbert 2014, "VADER: A Parsimonious Rule-based Model
for Sentiment Analysis of Social Media Text", ICWSM-14): a lexicon and rules, built for
short informal text, shipped with its lexicon, no model to download, and explainable (every
point of a score comes from a word a person can read). Its compound score is the score; the
label uses the authors' thresholds: >= 0.05 positive, <= -0.05 negative, neutral between.
A stronger model can be added later as another `SentimentBackend`; nothing else changes.

Texts are cleaned first (text.py) and the status is kept with the score:
- `empty` and `non_english` texts get no score and no label: an English lexicon finds no
  words in French and would say "neutral", a claim nobody measured;
- `emoji_only` texts are scored: VADER replaces each emoji by its description from its own
  emoji list ("😀" -> "grinning face", "😢" -> "crying face") and scores those words.
  Dropping them would drop a signal customers give on purpose; the status says how thin
  the evidence is. Emoji whose description holds no lexicon word ("👍" "thumbs up", "😡"
  "pouting face") score 0, neutral;
- `truncated` texts are scored on their first `max_chars` characters.

Speed: identical cleaned texts are scored once (feedback and generated text repeat a lot),
and VADER, pure Python at ~50 µs a short text, runs in worker processes when there are more
than `PARALLEL_ABOVE` distinct texts, in-process below that (cleaning does the same, see
text.py). A million distinct short texts take about a minute on two cores.

Cache: results are stored in the workspace table `voc_sentiment`, keyed by a hash of the raw
text and by the backend's name and version with the cleaning rules, so a re-run scores only
texts it has not seen. The table holds hashes, never the texts themselves: erasing a
customer's feedback leaves nothing readable behind.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.analytics.voc.text import (
    CLEANING_VERSION,
    DEFAULT_MAX_CHARS,
    SCORABLE,
    CleanText,
    available_cpus,
    clean_texts,
    map_chunks,
)

if TYPE_CHECKING:
    from cxloop.engines.duckdb_engine import DuckDBEngine

Label = Literal["positive", "negative", "neutral"]

POSITIVE_AT = 0.05
"""Compound score from which a text is positive (Hutto & Gilbert 2014)."""
NEGATIVE_AT = -0.05
"""Compound score up to which a text is negative (Hutto & Gilbert 2014)."""

PARALLEL_ABOVE = 20_000
"""Distinct texts above which VADER runs in worker processes: below it (~1 s of work) the
cost of starting workers and shipping texts to them is not worth it."""

TABLE = "voc_sentiment"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    text_hash VARCHAR,
    backend VARCHAR,
    score DOUBLE,
    label VARCHAR,
    status VARCHAR,
    language VARCHAR,
    note VARCHAR,
    PRIMARY KEY (text_hash, backend)
)
"""

RESULT_SCHEMA = pa.schema(
    [
        ("score", pa.float64()),
        ("label", pa.string()),
        ("status", pa.string()),
        ("language", pa.string()),
        ("note", pa.string()),
    ]
)
"""Columns of `sentiment_of`; `score_texts` adds kind, id, text_hash and backend."""

_WANTED = "__voc_sentiment_wanted"
_FRESH = "__voc_sentiment_fresh"


@runtime_checkable
class SentimentBackend(Protocol):
    """Anything that scores cleaned English texts in [-1, 1].

    `name` and `version` are part of the cache key: a new model or a new version of one
    never reuses the scores of another.
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def score(self, texts: list[str]) -> np.ndarray:
        """One float64 score in [-1, 1] per text, in order."""
        ...


class VaderBackend:
    """VADER's compound score, in worker processes for large inputs."""

    name = "vader"

    def __init__(self, *, workers: int | None = None, parallel_above: int = PARALLEL_ABOVE) -> None:
        self.version = importlib.metadata.version("vaderSentiment")
        self.workers = workers if workers is not None else available_cpus()
        self.parallel_above = parallel_above

    def score(self, texts: list[str]) -> np.ndarray:
        if len(texts) <= self.parallel_above or self.workers < 2:
            return _vader_compound(texts)
        _analyzer()  # loaded here once; forked workers inherit it
        return np.concatenate(map_chunks(_vader_compound, texts, self.workers))


@cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _vader_compound(texts: list[str]) -> np.ndarray:
    analyzer = _analyzer()
    return np.fromiter(
        (analyzer.polarity_scores(t)["compound"] for t in texts), np.float64, count=len(texts)
    )


def label_of(score: float) -> Label:
    """positive (>= 0.05), negative (<= -0.05) or neutral: VADER's thresholds (Hutto &
    Gilbert 2014)."""
    if math.isnan(score):
        raise ValueError("a NaN score has no label")
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def labels_of(scores: np.ndarray) -> np.ndarray:
    """`label_of` for an array of scores (NaN scores get "neutral"; mask them yourself)."""
    return np.where(
        scores >= POSITIVE_AT, "positive", np.where(scores <= NEGATIVE_AT, "negative", "neutral")
    )


def _checked(scores: Any, n: int, backend: SentimentBackend) -> np.ndarray:
    """A backend's answer, refused unless it is n finite numbers in [-1, 1]."""
    array = np.asarray(scores, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"backend {backend.name} returned shape {array.shape} for {n} texts")
    if n and (not np.isfinite(array).all() or np.abs(array).max() > 1.0):
        raise ValueError(f"backend {backend.name} returned scores outside [-1, 1]")
    return array


def score_cleaned(
    cleaned: Sequence[CleanText], backend: SentimentBackend | None = None
) -> pa.Table:
    """Score cleaned texts (`RESULT_SCHEMA`, one row per text, in order), each distinct
    scorable text once; `empty` and `non_english` rows get a null score and label."""
    backend = backend if backend is not None else VaderBackend()
    position: dict[str, int] = {}
    distinct: list[str] = []
    rows = np.full(len(cleaned), -1, dtype=np.int64)
    for i, item in enumerate(cleaned):
        if item.status in SCORABLE:
            j = position.get(item.text)
            if j is None:
                j = position[item.text] = len(distinct)
                distinct.append(item.text)
            rows[i] = j
    scores = _checked(backend.score(distinct) if distinct else [], len(distinct), backend)
    unscored = rows < 0
    score = scores[rows] if len(distinct) else np.zeros(len(cleaned))
    return pa.table(
        [
            pa.array(score, type=pa.float64(), mask=unscored),
            pa.array(labels_of(score), type=pa.string(), mask=unscored),
            pa.array([c.status for c in cleaned], type=pa.string()),
            pa.array([c.language for c in cleaned], type=pa.string()),
            pa.array([c.note for c in cleaned], type=pa.string()),
        ],
        schema=RESULT_SCHEMA,
    )


def sentiment_of(
    texts: Sequence[str | None],
    backend: SentimentBackend | None = None,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> pa.Table:
    """Clean and score raw texts, without a workspace (`RESULT_SCHEMA`, in order)."""
    return score_cleaned(clean_texts(texts, max_chars), backend)


def text_hash(raw: str | None) -> str:
    """The cache key of a raw text: BLAKE2b, 128 bits, hex. Stable across processes and
    versions (unlike Python's `hash`), and collisions are out of reach at any corpus size.
    No text and an empty text share a key: both are `empty`."""
    data = b"" if raw is None else raw.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def cache_key(backend: SentimentBackend, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The `backend` column: what produced a result. The cleaning rules and the length limit
    are in it because they change what gets scored as much as the model does."""
    return f"{backend.name} {backend.version}; clean {CLEANING_VERSION}; max {max_chars}"


def score_texts(
    engine: DuckDBEngine,
    items: Sequence[tuple[str, str, str | None]],
    backend: SentimentBackend | None = None,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> pa.Table:
    """Sentiment of (kind, id, raw text) items, scoring only texts the workspace has not seen.

    Returns one row per item, in order: kind, id, text_hash, backend and `RESULT_SCHEMA`'s
    columns. New results are stored in `voc_sentiment` in one transaction.
    """
    backend = backend if backend is not None else VaderBackend()
    key = cache_key(backend, max_chars)
    hash_of: dict[str | None, str] = {}
    hashes: list[str] = []
    for _, _, raw in items:
        h = hash_of.get(raw)
        if h is None:
            h = hash_of[raw] = text_hash(raw)
        hashes.append(h)
    raw_of = {h: raw for raw, h in hash_of.items()}

    engine.execute(DDL)
    known = _cached(engine, list(raw_of), key)
    seen = set(known.column("text_hash").to_pylist())
    new = [h for h in raw_of if h not in seen]
    if new:
        fresh = sentiment_of([raw_of[h] for h in new], backend, max_chars=max_chars)
        fresh = pa.table(
            {"text_hash": pa.array(new, pa.string()), **{n: fresh[n] for n in fresh.column_names}}
        )
        _store(engine, fresh, key)
        known = pa.concat_tables([known, fresh])

    at = pc.index_in(pa.array(hashes, pa.string()), value_set=known.column("text_hash"))
    picked = known.take(at)
    return pa.table(
        {
            "kind": pa.array([k for k, _, _ in items], pa.string()),
            "id": pa.array([i for _, i, _ in items], pa.string()),
            "text_hash": picked.column("text_hash"),
            "backend": pa.array([key] * len(items), pa.string()),
            **{n: picked.column(n) for n in RESULT_SCHEMA.names},
        }
    )


def _cached(engine: DuckDBEngine, hashes: list[str], key: str) -> pa.Table:
    """Stored results for `hashes` under `key` (text_hash then `RESULT_SCHEMA`'s columns)."""
    wanted = pa.table({"text_hash": pa.array(hashes, pa.string())})
    engine.register(_WANTED, wanted)
    try:
        table = engine.arrow(
            f"SELECT v.text_hash, v.score, v.label, v.status, v.language, v.note "
            f"FROM {TABLE} v WHERE v.backend = ? "
            f"AND v.text_hash IN (SELECT text_hash FROM {_WANTED})",
            [key],
        )
    finally:
        engine.unregister(_WANTED)
    schema = pa.schema([("text_hash", pa.string()), *RESULT_SCHEMA])
    return table.cast(schema)


def _store(engine: DuckDBEngine, fresh: pa.Table, key: str) -> None:
    """Insert new results; values travel as an Arrow table, never inside the SQL text."""
    engine.register(_FRESH, fresh)
    try:
        with engine.transaction():
            engine.execute(
                f"INSERT OR IGNORE INTO {TABLE} "
                f"SELECT text_hash, ?, score, label, status, language, note FROM {_FRESH}",
                [key],
            )
    finally:
        engine.unregister(_FRESH)
