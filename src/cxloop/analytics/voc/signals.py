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
from cxloop.analytics.voc.sentiment import score_texts
from cxloop.analytics.voc.text import TextTruncatedWarning

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

SIGNALS_SCHEMA = 1
"""Bumped when the shape or the rules of `voc_texts` change, so old tables are rebuilt."""

_STAMP = "voc_texts_version"
_NEW = "__voc_texts_new"


def _stamp(ws: Workspace) -> str:
    return f"{ws.data_version}:{SIGNALS_SCHEMA}:{ws.config.voc.max_chars}"


def _stored_stamp(ws: Workspace, key: str) -> str | None:
    return ws.engine.scalar("SELECT value FROM meta WHERE key = ?", [key])


def _set_stamp(ws: Workspace, key: str, value: str) -> None:
    ws.engine.execute("DELETE FROM meta WHERE key = ?", [key])
    ws.engine.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [key, value])


def signals_current(ws: Workspace) -> bool:
    """Whether `voc_texts` reflects the data as loaded now."""
    return ws.engine.table_exists("voc_texts") and _stored_stamp(ws, _STAMP) == _stamp(ws)


def ensure_signals(ws: Workspace) -> None:
    """Build `voc_texts` when missing or stale (new data, other text limit, new rules)."""
    if signals_current(ws):
        return
    ws.profiles.ensure_current()
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
        classify_intents(
            [texts[j] for j in mentions],
            [mention_kind[j] for j in mentions],
            [columns["sentiment"][j] for j in mentions],
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
    e.con.register(_NEW, table)
    try:
        with e.transaction():
            e.execute(f"CREATE OR REPLACE TABLE voc_texts AS SELECT * FROM {_NEW}")
            _set_stamp(ws, _STAMP, _stamp(ws))
    finally:
        e.con.unregister(_NEW)


def themes_stamp(ws: Workspace) -> str:
    """What `voc_text_themes` must have been built from to be current."""
    v = ws.config.voc
    pinned = sorted((k, tuple(w)) for k, w in v.pinned.items())
    return f"{_stamp(ws)}:{v.themes}:{v.min_themes}:{v.max_themes}:{v.theme_share}:{pinned}"


def themes_current(ws: Workspace) -> bool:
    return ws.engine.table_exists("voc_text_themes") and _stored_stamp(
        ws, "voc_themes_version"
    ) == themes_stamp(ws)


def store_themes(ws: Workspace, rows: pa.Table, model_json: str) -> None:
    """Replace `voc_text_themes` (kind, source, id, theme) and the model's description."""
    e = ws.engine
    e.con.register(_NEW, rows)
    try:
        with e.transaction():
            e.execute(f"CREATE OR REPLACE TABLE voc_text_themes AS SELECT * FROM {_NEW}")
            _set_stamp(ws, "voc_themes_version", themes_stamp(ws))
            _set_stamp(ws, "voc_themes_model", model_json)
    finally:
        e.con.unregister(_NEW)


def stored_theme_model(ws: Workspace) -> str | None:
    return _stored_stamp(ws, "voc_themes_model")
