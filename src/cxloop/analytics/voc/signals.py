"""Per-text signals of the voice of the customer, kept in the workspace.

`ensure_signals(ws)` gives every text of the corpus (corpus.py) its sentiment (cached by text
hash, sentiment.py) and, for mentions, its advocacy intent (intent.py), and stores them in
the table `voc_texts`, stamped with the workspace's data version. The scorecard's social
value, the VoC document, the export and later issues (segments, cases) all read this one
table, so a text is judged the same way everywhere. It is rebuilt only when data changed.

Themes are heavier (a model fitted on the corpus) and are stored by `build_voc` in
`voc_text_themes` (kind, source, id, theme), with the same stamp.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import pyarrow as pa

from cxloop.analytics.voc.corpus import load_corpus
from cxloop.analytics.voc.intent import classify_intents
from cxloop.analytics.voc.sentiment import VaderBackend, cache_key, score_texts
from cxloop.analytics.voc.text import TextTruncatedWarning, clean_texts

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

SIGNALS_SCHEMA = 2
"""Bumped when the shape or the rules of `voc_texts` change, so old tables are rebuilt."""

_STAMP = "voc_texts_version"
_NEW = "__voc_texts_new"
_HASHES = "__voc_texts_hashes"
UNCLASSIFIED = "unclassified"
"""Intent of a mention whose words cannot be read (another language, nothing but symbols):
counted apart, never guessed as neutral."""


CONTENT_SQL = """
SELECT (SELECT count(*) FROM feedback) || ':' ||
       coalesce((SELECT bit_xor(hash(source, response_id, text, score)) FROM feedback), 0) || ':' ||
       (SELECT count(*) FROM mentions) || ':' ||
       coalesce((SELECT bit_xor(hash(mention_id, brand, kind, text)) FROM mentions), 0)"""
"""A fingerprint of the texts themselves: a row erased or edited outside the loader (which
does not move the data version) still makes `voc_texts` stale."""


def _stamp(ws: Workspace) -> str:
    """Everything `voc_texts` depends on: the texts, the profiles build (it stores profile
    ids), the sentiment backend and cleaning rules, and the rules of this module."""
    profiles = ws.engine.scalar("SELECT value FROM meta WHERE key = 'profiles_build'")
    backend = cache_key(VaderBackend(), ws.config.voc.max_chars)
    content = ws.engine.scalar(CONTENT_SQL)
    return f"{SIGNALS_SCHEMA}|{ws.data_version}|{profiles}|{backend}|{content}"


def _stored_stamp(ws: Workspace, key: str) -> str | None:
    return ws.engine.scalar("SELECT value FROM meta WHERE key = ?", [key])


def _set_stamp(ws: Workspace, key: str, value: str) -> None:
    ws.engine.execute("DELETE FROM meta WHERE key = ?", [key])
    ws.engine.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [key, value])


def signals_current(ws: Workspace, stamp: str | None = None) -> bool:
    """Whether `voc_texts` reflects the data as loaded now (`stamp`: `_stamp(ws)` if known)."""
    if not ws.engine.table_exists("voc_texts"):
        return False
    return _stored_stamp(ws, _STAMP) == (stamp if stamp is not None else _stamp(ws))


class Signals:
    """`ws.signals`: the texts' signals as derived state of the workspace, like
    `ws.profiles` (a lake read by another engine holds them prepared instead)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def ensure_current(self) -> None:
        ensure_signals(self.ws)


def ensure_signals(ws: Workspace) -> None:
    """Build `voc_texts` when missing or stale (new data, other text limit, new rules); one
    rebuild at a time per process (`Workspace.derive_lock`)."""
    with ws.derive_lock:
        _ensure_signals(ws)


def _ensure_signals(ws: Workspace) -> None:
    ws.profiles.ensure_current()
    stamp = _stamp(ws)  # fingerprints every text: computed once per call
    if signals_current(ws, stamp):
        return
    corpus = load_corpus(ws).table
    texts = corpus.column("text").to_pylist()
    keys = [
        f"{s}\x1f{i}"
        for s, i in zip(
            corpus.column("source").to_pylist(), corpus.column("id").to_pylist(), strict=True
        )
    ]
    kinds = corpus.column("kind").to_pylist()
    with_text = [j for j, t in enumerate(texts) if t is not None]
    with warnings.catch_warnings():  # truncation is reported in the document's notes
        warnings.simplefilter("ignore", TextTruncatedWarning)
        scored = score_texts(
            ws.engine,
            [(kinds[j], keys[j], texts[j]) for j in with_text],
            max_chars=ws.config.voc.max_chars,
        )
    n = corpus.num_rows
    columns: dict[str, list] = {
        c: [None] * n for c in ("sentiment", "label", "status", "language", "note")
    }
    names = {
        "sentiment": "score",
        "label": "label",
        "status": "status",
        "language": "language",
        "note": "note",
    }
    for column, source in names.items():
        values = scored.column(source).to_pylist()
        target = columns[column]
        for j, value in zip(with_text, values, strict=True):
            target[j] = value
    for j, text in enumerate(texts):
        if text is None:
            columns["status"][j] = "no_text"
    mention_kind = corpus.column("mention_kind").to_pylist()
    intent: list[str | None] = [None] * n
    mentions = [j for j in range(n) if kinds[j] == "mentions"]
    for j, label in zip(
        mentions,
        _intents(
            [texts[j] for j in mentions],
            [mention_kind[j] for j in mentions],
            [columns["sentiment"][j] for j in mentions],
            [columns["status"][j] for j in mentions],
            ws.config.voc.max_chars,
        ),
        strict=True,
    ):
        intent[j] = label
    table = corpus.drop_columns(["text"]).append_column(
        "sentiment", pa.array(columns["sentiment"], pa.float64())
    )
    for column in ("label", "status", "language", "note"):
        table = table.append_column(column, pa.array(columns[column], pa.string()))
    table = table.append_column("intent", pa.array(intent, pa.string()))
    e = ws.engine
    e.register(_NEW, table)
    e.register(_HASHES, scored.select(["text_hash"]))
    try:
        with e.transaction():
            e.execute(f"CREATE OR REPLACE TABLE voc_texts AS SELECT * FROM {_NEW}")
            # Results of texts no longer held (erased, edited) leave the cache too.
            e.execute(
                "DELETE FROM voc_sentiment WHERE text_hash NOT IN "
                f"(SELECT text_hash FROM {_HASHES})"
            )
            _set_stamp(ws, _STAMP, stamp)
    finally:
        e.unregister(_NEW)
        e.unregister(_HASHES)


def _intents(
    texts: list[str | None],
    kinds: list[str | None],
    sentiments: list[float | None],
    statuses: list[str | None],
    max_chars: int,
) -> list[str]:
    """Advocacy intent of mentions, judged on the cleaned text (no HTML), once per distinct
    (text, kind, sentiment) — mentions repeat (reposts, templates). Words in another language
    or an empty text give `unclassified`; a like or a share without text is amplification."""
    out: list[str] = []
    todo: dict[tuple[str | None, str | None, float | None], int] = {}
    order: list[tuple[str | None, str | None, float | None]] = []
    for text, kind, score, status in zip(texts, kinds, sentiments, statuses, strict=True):
        if status in {"non_english", "empty"}:
            key = (None, "__unclassified__", None)
        else:
            key = (text, kind, None if score is None else round(score, 4))
        if key not in todo:
            todo[key] = len(order)
            order.append(key)
        out.append(key)  # type: ignore[arg-type]
    readable = [k for k in order if k[1] != "__unclassified__"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TextTruncatedWarning)
        cleaned = clean_texts([k[0] for k in readable], max_chars)
    labels = dict(
        zip(
            readable,
            classify_intents(
                [None if k[0] is None else c.text for k, c in zip(readable, cleaned, strict=True)],
                [k[1] for k in readable],
                [k[2] for k in readable],
            ),
            strict=True,
        )
    )
    labels[(None, "__unclassified__", None)] = UNCLASSIFIED
    return [labels[k] for k in out]  # type: ignore[index]


def themes_stamp(ws: Workspace) -> str:
    """What `voc_text_themes` must have been built from to be current: the texts (and all
    `voc_texts` depends on), the theme settings, and the brand names (stop words)."""
    v = ws.config.voc
    pinned = sorted((k, tuple(w)) for k, w in v.pinned.items())
    brands = [ws.config.brand.name, *ws.config.brand.competitors]
    return (
        f"{_stored_stamp(ws, _STAMP)}:{v.themes}:{v.min_themes}:{v.max_themes}:"
        f"{v.theme_share}:{pinned}:{brands}"
    )


def themes_current(ws: Workspace) -> bool:
    return ws.engine.table_exists("voc_text_themes") and _stored_stamp(
        ws, "voc_themes_version"
    ) == themes_stamp(ws)


def store_themes(ws: Workspace, rows: pa.Table, model_json: str) -> None:
    """Replace `voc_text_themes` (kind, source, id, theme) and the model's description."""
    e = ws.engine
    e.register(_NEW, rows)
    try:
        with e.transaction():
            e.execute(f"CREATE OR REPLACE TABLE voc_text_themes AS SELECT * FROM {_NEW}")
            _set_stamp(ws, "voc_themes_version", themes_stamp(ws))
            _set_stamp(ws, "voc_themes_model", model_json)
    finally:
        e.unregister(_NEW)


def stored_theme_model(ws: Workspace) -> str | None:
    return _stored_stamp(ws, "voc_themes_model")
