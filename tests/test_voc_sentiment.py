"""Voice of the customer: text cleaning, language detection, sentiment and its cache.

Every example text below was written for these tests.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

import cxloop
from cxloop.analytics.voc import text as text_module
from cxloop.analytics.voc.sentiment import (
    TABLE,
    SentimentBackend,
    VaderBackend,
    cache_key,
    label_of,
    labels_of,
    score_texts,
    sentiment_of,
    text_hash,
)
from cxloop.analytics.voc.text import (
    CleanText,
    TextTruncatedWarning,
    clean_text,
    clean_texts,
    detect_language,
    map_chunks,
)
from cxloop.generate import generate
from cxloop.generate import text as bank

ENGLISH = [
    "The parcel arrived two days late and nobody told me why.",
    "Great value for money, I will definitely order again.",
    "Customer service was rude and unhelpful.",
    "Parcel arrived damaged, courier rude, refund pending.",
    "Shipping was slow. Tracking never updated. Disappointed.",
    "Love it",
    "Terrible.",
    "10/10 would buy again",
    "The café next to the store was lovely.",
]
FOREIGN = {
    "fr": [
        "Le produit est arrivé en retard et le service client est nul.",
        "Je suis très déçu de ma commande.",
        "Livraison rapide, produit de très bonne qualité.",
    ],
    "de": [
        "Die Lieferung war schnell und das Produkt ist super.",
        "Der Kundenservice hat mir nicht geholfen.",
        "Sehr gut, gerne wieder!",
    ],
    "es": [
        "El pedido llegó tarde y el servicio al cliente fue terrible.",
        "Muy buena calidad, lo recomiendo.",
        "No me gustó nada el producto.",
    ],
    "zh": ["这个产品很好，送货也很快。", "质量太差了，客服也不回复。"],
    "ar": ["المنتج رائع والتوصيل سريع", "خدمة العملاء سيئة جدا"],
    "ru": ["Отличный товар, быстрая доставка."],
    "it": ["Il prodotto è arrivato rotto, molto deluso."],
    "pt": ["O produto chegou rápido e a qualidade é ótima."],
    "nl": ["De levering was snel en het product is goed."],
}


class CountingBackend:
    """A backend that remembers every text it was asked to score."""

    name = "counting"

    def __init__(self, version: str = "1") -> None:
        self.version = version
        self.seen: list[str] = []

    def score(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([0.5 if "good" in t.lower() else -0.5 for t in texts])


# -- cleaning ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ENGLISH)
def test_english_is_detected(text):
    result = clean_text(text)
    assert (result.status, result.language) == ("ok", "en"), result.note
    assert result.scorable


@pytest.mark.parametrize(
    ("lang", "text"), [(lang, t) for lang, texts in FOREIGN.items() for t in texts]
)
def test_other_languages_are_marked_not_english(lang, text):
    result = clean_text(text)
    assert (result.status, result.language) == ("non_english", "non-en"), (lang, result)
    assert not result.scorable
    assert result.note  # says why


def test_non_latin_script_note_gives_the_share():
    assert clean_text("质量太差了").note == "100% of letters outside the Latin script"


def test_too_few_unknown_words_are_undetermined_and_still_scored():
    for text in ("Northwind!!", "XR-200"):
        result = clean_text(text)
        assert result.language == "und"
        assert result.status == "ok" and result.scorable
    assert detect_language("Great!") == ("en", "")
    assert detect_language("Très bien")[0] == "non-en"


def test_every_generator_phrase_combination_is_english():
    """The generator's banks are what the benchmark and the demo score: none may be lost."""
    texts = []
    for (theme, sentiment), cores in bank.CORE.items():
        openers = ("", *bank.OPENERS[sentiment], *bank.SOCIAL_OPENERS[sentiment])
        for core in cores:
            for opener in openers:
                for detail in ("", *bank.DETAIL[sentiment][theme]):
                    for closer in ("", *bank.CLOSERS[sentiment]):
                        parts = (opener, core, detail, closer)
                        texts.append(" ".join(p for p in parts if p).replace("{brand}", "Acme"))
    cleaned = clean_texts(texts)
    assert len(texts) > 10_000
    assert [t for t, c in zip(texts, cleaned, strict=True) if c.language != "en"] == []


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "\n\t \u200b", "<p></p>", "<script>alert('bad')</script>", "..."]
)
def test_empty_texts(raw):
    result = clean_text(raw)
    assert result.status == "empty" and result.text == "" and not result.scorable


@pytest.mark.parametrize("raw", ["😀😀", "😡", "👍 👍", ":)", "<3 <3", "🎉!!"])
def test_emoji_only(raw):
    result = clean_text(raw)
    assert result.status == "emoji_only" and result.scorable
    assert result.text == raw


def test_html_is_stripped_with_scripts_styles_and_entities():
    raw = (
        "<div class='review'><p>Great <b>service</b> &amp; fast&nbsp;delivery</p>"
        "<script>var verdict = 'terrible awful';</script><style>.x { color: red }</style>"
        "<p>Would&#39;nt change a thing &eacute;</p><!-- hidden: hate --></div>"
    )
    result = clean_text(raw)
    assert result.text == "Great service & fast delivery Would'nt change a thing é"
    assert result.status == "ok" and "markup removed" in result.note


def test_html_blocks_keep_words_apart_and_text_that_only_looks_like_html_stays():
    assert clean_text("<p>late</p><p>again</p>").text == "late again"
    assert clean_text("line one<br>line two").text == "line one line two"
    assert clean_text("I <3 this shop").text == "I <3 this shop"
    assert clean_text("Paid 5 < 10 and got > 3").text == "Paid 5 < 10 and got > 3"
    assert clean_text("Fish &amp; chips").text == "Fish & chips"
    assert clean_text("<p>Unclosed <b>bold text").text == "Unclosed bold text"


def test_whitespace_and_invisible_characters_are_collapsed():
    result = clean_text("  Great\u200bservice \n\n and\tfriendly\u00a0staff\x00 ")
    assert result.text == "Greatservice and friendly staff"


def test_long_text_is_truncated_at_a_word_with_a_warning():
    raw = "The delivery was great. " * 500  # 12,000 characters
    with pytest.warns(TextTruncatedWarning, match="truncated"):
        result = clean_text(raw, max_chars=1000)
    assert result.status == "truncated" and result.scorable
    assert 800 < len(result.text) <= 1000
    assert raw.startswith(result.text) and raw[len(result.text)] == " "  # a whole word
    assert "11,999" in result.note  # the cleaned length before the cut


def test_clean_texts_cleans_each_distinct_text_once_and_warns_once():
    long = "Good " * 2000
    texts = ["Great!", None, "Great!", long, long, "<b>Bad</b>"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cleaned = clean_texts(texts, max_chars=100)
    assert [w.category for w in caught] == [TextTruncatedWarning]
    assert "2 text(s)" in str(caught[0].message)
    assert [c.status for c in cleaned] == ["ok", "empty", "ok", "truncated", "truncated", "ok"]
    assert cleaned[0] is cleaned[2] and cleaned[3] is cleaned[4]
    assert cleaned[5] == CleanText("Bad", "ok", "en", "markup removed")
    with pytest.raises(ValueError, match="max_chars"):
        clean_texts(["x"], max_chars=0)


def test_parallel_cleaning_matches_in_process(monkeypatch):
    texts = [f"<p>Order {i} was {w}</p>" for i, w in enumerate(["great", "late", "très"] * 30)]
    alone = clean_texts(texts, workers=1)
    monkeypatch.setattr(text_module, "PARALLEL_ABOVE", 10)
    assert clean_texts(texts, workers=2) == alone


_PARENT = os.getpid()


def _count_unless_in_a_worker(items: list[int]) -> int:
    if os.getpid() != _PARENT:
        os._exit(3)  # a worker dying, as on running out of memory
    return len(items)


def test_a_dead_worker_falls_back_to_this_process_with_a_warning():
    with pytest.warns(RuntimeWarning, match="worker processes failed"):
        assert map_chunks(_count_unless_in_a_worker, list(range(100)), 2) == [100]


# -- scoring ------------------------------------------------------------------------------
def test_label_thresholds_are_vaders():
    assert label_of(0.05) == "positive"
    assert label_of(0.0499) == "neutral"
    assert label_of(0.0) == "neutral"
    assert label_of(-0.0499) == "neutral"
    assert label_of(-0.05) == "negative"
    assert label_of(1.0) == "positive" and label_of(-1.0) == "negative"
    with pytest.raises(ValueError):
        label_of(math.nan)
    scores = np.array([-1.0, -0.05, -0.0499, 0.0, 0.0499, 0.05, 1.0])
    assert labels_of(scores).tolist() == [label_of(s) for s in scores]


def test_clear_sentences_get_the_right_sign():
    positive = [
        "I love this shop, the staff were wonderful and helpful.",
        "Excellent quality and super fast delivery. Highly recommend!",
        "Great value, really happy with my order.",
    ]
    negative = [
        "Terrible service, the parcel was damaged and nobody helped.",
        "Awful quality, it broke after one day. Very disappointed.",
        "The worst customer support I have ever dealt with.",
    ]
    table = sentiment_of(positive + negative)
    scores = table.column("score").to_pylist()
    assert all(s >= 0.05 for s in scores[:3]), scores
    assert all(s <= -0.05 for s in scores[3:]), scores
    labels = table.column("label").to_pylist()
    assert labels == ["positive"] * 3 + ["negative"] * 3


def test_bad_input_is_scored_or_marked_never_silently_neutral():
    raw = [None, "", "😀😀", "Le service client est nul et la livraison est en retard.", "😡"]
    rows = sentiment_of([*raw, "<p>Great <script>awful</script>service</p>"]).to_pylist()
    assert [r["status"] for r in rows] == [
        "empty", "empty", "emoji_only", "non_english", "emoji_only", "ok",
    ]  # fmt: skip
    for r in rows[:2] + rows[3:4]:
        assert r["score"] is None and r["label"] is None
    assert rows[2]["score"] > 0.05 and rows[2]["label"] == "positive"
    # "😡" is "pouting face" in VADER's emoji list: no lexicon word, so 0 and neutral.
    assert rows[4]["score"] == 0.0 and rows[4]["label"] == "neutral"
    assert rows[5]["score"] > 0.05  # the script's "awful" did not count
    crying = sentiment_of(["😢😢"]).to_pylist()[0]
    assert crying["status"] == "emoji_only" and crying["label"] == "negative"


def test_truncated_text_is_scored_on_what_is_kept():
    raw = "I love this product. " + "It works. " * 1000 + "I hate everything."
    with pytest.warns(TextTruncatedWarning):
        row = sentiment_of([raw], max_chars=200).to_pylist()[0]
    assert row["status"] == "truncated" and row["score"] > 0.05


def test_identical_texts_are_scored_once():
    backend = CountingBackend()
    texts = ["Good stuff"] * 500 + ["  Good   stuff "] * 500 + ["Bad stuff"] * 10 + [None]
    table = sentiment_of(texts, backend)
    assert sorted(backend.seen) == ["Bad stuff", "Good stuff"]
    assert table.num_rows == len(texts)
    assert table.column("score").null_count == 1


def test_parallel_scoring_matches_in_process():
    texts = [f"Order {i} was {w}" for i, w in enumerate(["great", "awful", "fine"] * 40)]
    alone = VaderBackend(workers=1).score(texts)
    pooled = VaderBackend(workers=2, parallel_above=10).score(texts)
    np.testing.assert_array_equal(alone, pooled)
    assert alone.dtype == np.float64 and np.all(np.abs(alone) <= 1)


def test_backend_protocol_and_checks():
    assert isinstance(VaderBackend(), SentimentBackend)
    assert isinstance(CountingBackend(), SentimentBackend)

    class Broken(CountingBackend):
        def score(self, texts):
            return np.full(len(texts), 2.0)

    class Short(CountingBackend):
        def score(self, texts):
            return np.zeros(len(texts) - 1)

    with pytest.raises(ValueError, match=r"outside \[-1, 1\]"):
        sentiment_of(["Good"], Broken())
    with pytest.raises(ValueError, match="shape"):
        sentiment_of(["Good", "Bad"], Short())


# -- cache --------------------------------------------------------------------------------
def test_cache_scores_only_new_texts(tmp_path: Path):
    items = [
        ("feedback", "r1", "Good service"),
        ("feedback", "r2", "Bad delivery"),
        ("mentions", "m1", "Good service"),
        ("mentions", "m2", None),
        ("feedback", "r3", "Très bien, merci"),
        ("feedback", "r4", "It's good'); DROP TABLE voc_sentiment; --"),
    ]
    backend = CountingBackend()
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        first = score_texts(ws.engine, items, backend)
        assert sorted(backend.seen) == [
            "Bad delivery", "Good service", "It's good'); DROP TABLE voc_sentiment; --",
        ]  # fmt: skip
        assert first.column_names == [
            "kind", "id", "text_hash", "backend", "score", "label", "status", "language", "note",
        ]  # fmt: skip
        assert first.column("id").to_pylist() == ["r1", "r2", "m1", "m2", "r3", "r4"]
        assert first.column("score").to_pylist()[:5] == [0.5, -0.5, 0.5, None, None]
        assert first.column("status").to_pylist()[3:5] == ["empty", "non_english"]
        assert ws.engine.scalar(f"SELECT count(*) FROM {TABLE}") == 5  # distinct raw texts

        backend.seen.clear()
        second = score_texts(ws.engine, items, backend)
        assert backend.seen == []
        assert second.equals(first)

        score_texts(ws.engine, [*items, ("feedback", "r5", "Good again")], backend)
        assert backend.seen == ["Good again"]

    # The cache lives in the workspace: a new process (here, a reopened workspace) reuses it.
    backend.seen.clear()
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        assert score_texts(ws.engine, items, backend).equals(first)
        assert backend.seen == []
        # A new backend version, or another length limit, is another key: all rescored.
        score_texts(ws.engine, items, CountingBackend(version="2"))
        again = CountingBackend()
        score_texts(ws.engine, items, again, max_chars=100)
        assert len(again.seen) == 3
        keys = {r[0] for r in ws.engine.fetchall(f"SELECT DISTINCT backend FROM {TABLE}")}
        assert keys == {
            cache_key(CountingBackend()),
            cache_key(CountingBackend("2")),
            cache_key(CountingBackend(), 100),
        }


def test_cache_stores_hashes_not_texts(tmp_path: Path):
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        score_texts(ws.engine, [("feedback", "1", "My name is Ada and I love it")])
        rows = ws.engine.fetchall(f"SELECT * FROM {TABLE}")
    assert rows[0][0] == text_hash("My name is Ada and I love it")
    assert len(rows[0][0]) == 32
    assert not any("Ada" in str(v) for v in rows[0])
    assert text_hash(None) == text_hash("")


# -- against the generator ----------------------------------------------------------------
@pytest.fixture(scope="module")
def generated_feedback(tmp_path_factory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("voc") / "data"
    generate(out, people=2000, seed=5, dirty_rate=0)
    with open(out / "feedback.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_sentiment_agrees_with_nps_on_generated_data(generated_feedback):
    rows = [r for r in generated_feedback if r["metric"] == "nps" and r["text"].strip()]
    assert len(rows) > 200
    table = sentiment_of([r["text"] for r in rows])
    assert set(table.column("status").to_pylist()) == {"ok"}
    scores = np.array(table.column("score").to_pylist())
    nps = np.array([float(r["score"]) for r in rows])
    rho, p = spearmanr(scores, nps)
    print(f"Spearman(text sentiment, NPS) = {rho:.3f} over {len(rows)} answers (p = {p:.1e})")
    assert rho > 0.3
