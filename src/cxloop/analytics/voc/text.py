"""Cleaning customer text before it is scored: HTML, blanks, emoji, other languages, length.

Verbatims arrive from survey tools, review sites and social platforms. Some carry HTML
(`<p>`, `&amp;`, even `<script>` from a scraped page), some are blank or a lone emoji, some
are in another language, a few are pages long. A sentiment lexicon scores all of these
without complaint, and badly: markup adds words, a French review gets 0 ("neutral") because
no English word matched, and a pasted document costs seconds. So every text is cleaned and
given a status first, and the status travels with the score:

- `empty`: nothing left after cleaning (None, blanks, markup only, punctuation only);
- `emoji_only`: no letters, but emoji or emoticons (scored: see sentiment.py);
- `non_english`: detected as another language; not scored, because an English lexicon
  would call it neutral, which is a claim we cannot make;
- `truncated`: longer than `max_chars`, cut at a word boundary (scored, with a warning);
- `ok`: everything else.

Language detection is a deliberately small heuristic (no model to download, ~µs per text):

1. Letters outside the Latin script (CJK, Arabic, Cyrillic, Greek, ...): when more than half
   of the letters are, the text is `non-en`.
2. Otherwise the words are counted against two lists: English words (about 250 function
   words, about 180 everyday and customer-service words, all written here, plus the 7,000
   words of VADER's lexicon, which are exactly the words that could move a score) and
   function words of French, German, Spanish, Italian, Portuguese and Dutch (`der`, `und`,
   `très`, `muy`, ...). Words of 5 letters or more ending in -ed or -ly count as English
   too (not -ing: Dutch nouns end so, "levering", "bestelling"); words with a Latin letter
   outside ASCII (é, ü, ñ, ã) that are not English words count as foreign, because English
   feedback almost never has them and French, German, Spanish and Portuguese always do.
3. With at least 3 words: `non-en` when fewer than a quarter of the words are English, or
   when the foreign words are at least as many as the English ones; `en` otherwise. With 1
   or 2 words: `en` if one is English, `non-en` if one is foreign, else `und`
   (undetermined, still scored: "Northwind!!" is not evidence of another language).

Known limits: terse English made only of words in neither list ("Barista forgot oat milk",
"Bike chain squeaks, brakes stiff") reads as `non-en`; such a text has no VADER word either,
so it would have scored exactly 0, but it loses its "neutral" label. Latin-script text that
shares enough words with English ("Service client excellent, livraison rapide") reads as
`en`. The status is stored with every result so both can be reviewed, and a real language
identifier can replace `detect_language` later without changing callers.
"""

from __future__ import annotations

import functools
import html
import importlib.resources
import math
import multiprocessing
import os
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Literal, TypeVar

T = TypeVar("T")

Status = Literal["ok", "empty", "emoji_only", "non_english", "truncated"]
Language = Literal["en", "und", "non-en"]

CLEANING_VERSION = 1
"""Bumped whenever cleaning or language detection changes what a text becomes, so results
cached under the old rules are not reused (it is part of the sentiment cache key)."""

SCORABLE: frozenset[str] = frozenset({"ok", "truncated", "emoji_only"})
"""Statuses whose text is scored; `empty` and `non_english` texts get no score."""

DEFAULT_MAX_CHARS = 5000
"""Longer texts are cut: sentiment of a document is not the sentiment of a verbatim, and a
lexicon's cost grows with length (a 1 MB paste would cost as much as 10,000 answers)."""

PARALLEL_ABOVE = 50_000
"""Distinct texts above which cleaning runs in worker processes: at ~20 µs a text, below it
the work (~1 s) is not worth starting workers and shipping the texts to them."""

MIN_ENGLISH_SHARE = 0.25
"""Below this share of English words (3 words or more) a Latin-script text is `non-en`."""

MAX_NON_LATIN_SHARE = 0.5
"""Above this share of letters outside the Latin script a text is `non-en`."""


class TextTruncatedWarning(UserWarning):
    """Some texts were longer than `max_chars` and were cut before scoring."""


@dataclass(frozen=True, slots=True)
class CleanText:
    """A text ready to score, and what cleaning found."""

    text: str
    status: Status
    language: Language
    note: str = ""

    @property
    def scorable(self) -> bool:
        return self.status in SCORABLE


# -- word lists ---------------------------------------------------------------------------
_FUNCTION_WORDS = """
a about above after again against all almost along already also although always am among an
and another any anybody anyone anything anyway anywhere are aren't around as at away back be
became because become been before behind being below beside besides between both but by can
can't cannot could couldn't did didn't do does doesn't doing don't done down during each
either else enough even ever every everybody everyone everything everywhere few for from
further get gets getting got had hadn't has hasn't have haven't having he her here hers
herself him himself his how however i i'd i'll i'm i've if in instead into is isn't it it's
its itself just least less let let's many may maybe me might mine more most much must my
myself neither never next no nobody none nor not nothing now nowhere of off often on once one
only onto or other others otherwise our ours ourselves out over own per quite rather really
same several she should shouldn't since so some somebody someone something sometimes
somewhere still such than that that's the their theirs them themselves then there there's
these they they're this those though through throughout thus till to together too toward
towards under until up upon us very was wasn't we we're we've well were weren't what what's
whatever when whenever where wherever whether which while who whoever whole whom whose why
will with within without won't would wouldn't yet you you'd you'll you're you've your yours
yourself yourselves
"""

_EVERYDAY_WORDS = """
account ago app arrive arrived asked ask bag bill billing box bought brand buy call called
came card cart cash change charged chat check checkout colour color come coming company
contact cost courier customer customers date day days deliver delivered delivery device door
email exchange expected experience explain first fit found gave give go goes going gone
helped home hour hours item items know last later left like line little look looked looking
made make money month months morning need needed new number online open order ordered orders
package packaging page paid parcel part parts pay payment person phone photo picture place
price prices product products purchase put quality receipt received refund refunds return
returned returns said saw say says second see seems sent service shipment shipping shop
shopping site size sold staff store support take taken team thing things think time times
told took tracking tried try two use used using wait waited waiting want wanted way website
week weeks went work worked works year years yesterday today tomorrow yes yeah okay ok nope
thanks thank please three four five star stars
"""

# Function words of the languages customers most often write in besides English, minus the
# ones English shares ("a", "in", "no", "me"...). "die" and "war" are kept here and taken
# out of the English list: in German they are in every other sentence, in English feedback
# they are rare.
_FOREIGN_WORDS = """
le la les de des du et est une un pas pour avec que qui très mais sont nous vous il elle je
suis été au aux ce cette dans sur par plus ça c'est j'ai n'est ma mon bien bon bonne merci
der die das und ist nicht ich ein eine mit zu auf für sehr war wir sie es den dem bei auch
noch wie aber sind hat habe nach schon mir mich gut gerne wieder danke kein keine
el los las y es en que un una por para con muy fue pero lo su se al del mi está estoy nada
todo buena bueno gracias
il di che è non sono molto ma gli della questo ho
o os um uma não com muito foi mas da do em é
het een niet van met zijn maar ook voor heel op ik dat dit geen naar nog erg goed bij wel
"""

_ENGLISH_SUFFIXES = ("ed", "ly")
_SUFFIX_MIN_LENGTH = 5

# -- patterns -------------------------------------------------------------------------------
# A complete-looking tag or comment: only then is the HTML parser worth running (and "I <3
# it" or "x < 5" stay as they are).
_TAG = re.compile(r"<(?:!--|[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|/[A-Za-z][A-Za-z0-9-]*\s*>)")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_ASCII_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
"""`_WORD` for lower-case ASCII text, which most feedback is; a third faster."""
_NON_LATIN_LETTER = re.compile(r"[^\W\d_A-Za-z\u00aa\u00b5\u00ba\u00c0-\u024f\u1e00-\u1eff]")
_ALNUM = re.compile(r"[^\W_]")
_LETTER = re.compile(r"[^\W\d_]")
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})
_BREAKING_TAGS = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4",
     "h5", "h6", "blockquote", "section", "article", "header", "footer", "hr", "pre"}
)  # fmt: skip
# Invisible characters that split or glue words without being whitespace (the zero-width
# joiner is kept: it builds emoji sequences).
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1b\x7f\u00ad\u200b\u2060\ufeff]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


class _TextOnly(HTMLParser):
    """Text content of an HTML fragment: script and style bodies dropped, tags that separate
    blocks turned into spaces (so "<p>late</p><p>again</p>" keeps two words), entities
    unescaped by the parser itself (`convert_charrefs`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> tuple[str, bool]:
    """`text` without markup, entities unescaped; and whether there was any markup."""
    if _TAG.search(text):
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        return "".join(parser.parts), True
    if "&" in text:
        plain = html.unescape(text)
        return plain, plain != text
    return text, False


@functools.cache
def _vader_words() -> frozenset[str]:
    """Every entry of VADER's lexicon: its 7,000 words and its emoticons (":)", "<3")."""
    lexicon = importlib.resources.files("vaderSentiment") / "vader_lexicon.txt"
    keys = (line.split("\t", 1)[0] for line in lexicon.read_text(encoding="utf-8").splitlines())
    return frozenset(k for k in keys if k)


@functools.cache
def _word_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(English words, foreign function words), disjoint."""
    foreign = frozenset(_FOREIGN_WORDS.split())
    vader = {w for w in _vader_words() if _WORD.fullmatch(w)}
    english = (set(_FUNCTION_WORDS.split()) | set(_EVERYDAY_WORDS.split()) | vader) - foreign
    return frozenset(english), foreign


@functools.cache
def _emoticons() -> frozenset[str]:
    """VADER's emoticons without letters (":)", "<3", ":-("): tokens that make a
    text without words worth scoring."""
    return frozenset(k for k in _vader_words() if not _LETTER.search(k))


def detect_language(text: str) -> tuple[Language, str]:
    """(language, why) of a cleaned text by the heuristic in the module docstring."""
    lowered = text.lower()
    ascii_only = lowered.isascii()
    if ascii_only:
        words = _ASCII_WORD.findall(lowered)
    else:
        lowered = lowered.translate(_APOSTROPHES)
        words = _WORD.findall(lowered)
    if not words:
        return "und", "no words"
    n = len(words)
    if not ascii_only:
        letters = sum(map(len, words))
        non_latin = len(_NON_LATIN_LETTER.findall(lowered))
        if non_latin > MAX_NON_LATIN_SHARE * letters:
            return "non-en", f"{non_latin / letters:.0%} of letters outside the Latin script"
    english, foreign = _word_lists()
    en = sum(map(english.__contains__, words))
    other = sum(map(foreign.__contains__, words))
    if en < n:
        unknown = [w for w in words if w not in english and w not in foreign]
        en += sum(len(w) >= _SUFFIX_MIN_LENGTH and w.endswith(_ENGLISH_SUFFIXES) for w in unknown)
        if not ascii_only:
            other += sum(not w.isascii() for w in unknown)
    if n < 3:
        if en:
            return "en", ""
        if other:
            return "non-en", "foreign words"
        return "und", "too few words to tell the language"
    if en < MIN_ENGLISH_SHARE * n:
        return "non-en", f"{en} of {n} words are English"
    if other >= en:
        return "non-en", f"{other} foreign and {en} English words of {n}"
    return "en", ""


def _is_emoji_only(text: str) -> bool:
    """No letters, and at least one emoji (a Unicode symbol) or emoticon (some have digits:
    "<3")."""
    if _LETTER.search(text):
        return False
    if any(unicodedata.category(ch) == "So" for ch in text):
        return True
    emoticons = _emoticons()
    return any(token in emoticons for token in text.split())


def _truncate(text: str, max_chars: int) -> str:
    """The first `max_chars` characters, cut at the last space if one is near the end."""
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > 0.8 * max_chars else cut


def _check_max_chars(max_chars: int) -> None:
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")


def _clean(raw: str | None, max_chars: int) -> CleanText:
    if raw is None:
        return CleanText("", "empty", "und", "no text")
    text, had_markup = strip_html(raw)
    text = " ".join(_INVISIBLE.sub("", text).split())
    notes = ["markup removed"] if had_markup else []
    if not text:
        return CleanText("", "empty", "und", "; ".join([*notes, "no text"]))
    if _is_emoji_only(text):
        return CleanText(text, "emoji_only", "und", "; ".join(notes))
    if not _ALNUM.search(text):
        return CleanText("", "empty", "und", "; ".join([*notes, "punctuation only"]))
    status: Status = "ok"
    if len(text) > max_chars:
        notes.append(f"truncated from {len(text):,} to {max_chars:,} characters")
        text = _truncate(text, max_chars)
        status = "truncated"
    language, why = detect_language(text)
    if language == "non-en":
        return CleanText(text, "non_english", language, "; ".join([*notes, why]))
    return CleanText(text, status, language, "; ".join(n for n in [*notes, why] if n))


def clean_text(raw: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> CleanText:
    """One text cleaned and classified (see the module docstring); warns when truncated."""
    _check_max_chars(max_chars)
    result = _clean(raw, max_chars)
    if result.status == "truncated":
        warnings.warn(
            f"text truncated to {max_chars:,} characters ({result.note})",
            TextTruncatedWarning,
            stacklevel=2,
        )
    return result


def clean_texts(
    texts: Sequence[str | None],
    max_chars: int = DEFAULT_MAX_CHARS,
    *,
    workers: int | None = None,
) -> list[CleanText]:
    """`clean_text` for many texts, each distinct text cleaned once.

    Feedback repeats itself ("Great service!", template answers, generated data), so the
    work is proportional to the distinct texts, and the result list shares one `CleanText`
    per distinct text. Above `PARALLEL_ABOVE` distinct texts the cleaning runs in `workers`
    processes (default: the CPUs available). One warning counts all truncated texts (a
    million warnings would bury the message).
    """
    _check_max_chars(max_chars)
    position: dict[str | None, int] = {}
    distinct: list[str | None] = []
    rows: list[int] = []
    for raw in texts:
        j = position.get(raw)
        if j is None:
            j = position[raw] = len(distinct)
            distinct.append(raw)
        rows.append(j)
    workers = available_cpus() if workers is None else workers
    if len(distinct) > PARALLEL_ABOVE and workers > 1:
        _word_lists(), _emoticons()  # built here once; forked workers inherit them
        chunks = map_chunks(functools.partial(_clean_rows, max_chars=max_chars), distinct, workers)
        cleaned = [CleanText(*row) for chunk in chunks for row in chunk]
    else:
        cleaned = [_clean(raw, max_chars) for raw in distinct]
    out = [cleaned[j] for j in rows]
    truncated = sum(1 for c in out if c.status == "truncated")
    if truncated:
        warnings.warn(
            f"{truncated:,} text(s) longer than {max_chars:,} characters were truncated "
            "before scoring (status 'truncated')",
            TextTruncatedWarning,
            stacklevel=2,
        )
    return out


def _clean_rows(raws: list[str | None], max_chars: int) -> list[tuple[str, str, str, str]]:
    """`_clean` in a worker, answered as tuples: they cross processes ten times faster than
    dataclass instances do."""
    return [(c.text, c.status, c.language, c.note) for c in (_clean(r, max_chars) for r in raws)]


# -- worker processes -----------------------------------------------------------------------
def available_cpus() -> int:
    """CPUs this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_context() -> Any:
    """How workers start: by fork where the platform forks safely (Linux), else spawn.

    Fork costs ~10 ms a worker, inherits what the parent has loaded (word lists, lexicon)
    and works from any caller, including a script without an `if __name__ == "__main__":`
    guard, which spawn and forkserver would re-run in every worker. The usual objection to
    fork, copying a parent that holds threads and connections (DuckDB's), does not bite
    here: a worker only runs pure Python on the items it is sent and never touches what it
    inherited. macOS system libraries are not fork-safe, so there (and on Windows) workers
    are spawned.
    """
    fork = sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if fork else "spawn")


def map_chunks(fn: Callable[[list[Any]], T], items: list[Any], workers: int) -> list[T]:
    """`fn` over consecutive chunks of `items` in `workers` processes, results in order.

    Four chunks per worker balance the load without paying a message per item. `fn` must be
    a module-level function (or a partial of one). If a worker dies (out of memory, a
    spawned worker re-running an unguarded script) the work is done here instead, with a
    warning: the answer is owed either way, only slower.
    """
    size = max(1, math.ceil(len(items) / (4 * workers)))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
            return list(pool.map(fn, chunks))
    except BrokenProcessPool as exc:
        warnings.warn(
            f"worker processes failed ({exc}); continuing in this process",
            RuntimeWarning,
            stacklevel=2,
        )
        return [fn(items)]
