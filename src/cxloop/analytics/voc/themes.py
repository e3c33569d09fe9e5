"""Themes: what customers talk about, discovered from the texts themselves.

A theme is either *pinned* (the user's own dictionary, theme name -> keywords or phrases) or
*discovered* (a topic of a non-negative matrix factorisation, named by its top terms). Pinned
themes take precedence: a text that contains a pinned keyword (a whole word or phrase, any
case) gets the pinned themes it matches and nothing else, and discovery runs on the other
texts, so the user's categories are never split or renamed by the model and discovery spends
its topics on what the dictionary does not cover.

Discovery, and why each step is as it is:

- Texts are deduplicated first. Real feedback repeats itself ("Great service!", templates)
  and generated corpora repeat even more; every step runs on distinct texts only, and the
  answer is expanded back to the input order at the end.
- The model is fitted on a seeded sample of the distinct texts (`sample`, 50,000 by default),
  drawn from them in sorted order so that the same texts give the same themes in any input
  order. 50,000 distinct short texts pin the topics down; more costs time and changes
  nothing visible. Every distinct text is then put on the topics.
- Terms are unigrams and bigrams of TF-IDF (sublinear term frequency, so one repeated word
  does not dominate a text) after removing sklearn's English stop words and the brand names
  passed in (a brand named in half the posts would otherwise be a theme of its own). A term
  must occur in at least max(2, n / 5000) fitted texts (2 for a few hundred texts, 10 for the
  50,000-text sample, so typos and one-off phrases drop out at any size) and in at most 90%.
- Topics are fitted on the texts AND on the terms' co-occurrence. A short text holds one or
  two sentences, too few words for co-occurrence within a text to tie the different ways of
  saying one thing together: NMF of the TF-IDF matrix alone spends its topics on the most
  frequent exact phrasings (on the generated corpus, with 12 topics, not one of them is
  mostly about customer service, the app or returns). Co-occurrence pooled over the whole
  corpus is the standard remedy for short texts (the biterm topic model, Yan et al. 2013,
  WWW; SeaNMF, Shi et al. 2018, WWW). As in SeaNMF, one NMF factorises the TF-IDF rows of
  the texts stacked on the positive pointwise mutual information (PPMI) rows of the terms
  (counted over the fitted texts), the two sharing the topic-by-term factor. The PPMI block
  is scaled to the same Frobenius norm as the TF-IDF block so neither kind of evidence
  dominates; alone, PPMI lets one large topic take two components and merges two others (on
  the three-topic corpus of tests/test_voc_themes.py). A pair must co-occur in as many
  texts as a term must occur in, so chance pairs carry no weight. Each text is then put on
  the topics by non-negative least squares on its TF-IDF row (`NMF.transform`).
- A text is about a discovered theme when that theme holds at least `min_share` of the
  text's topic weight, so a text has 0..n themes; a text with no term in the vocabulary (too
  short, only stop words) has none.
- A theme's terms are its top terms by relevance (Sievert & Shirley 2014, "LDAvis", ACL
  workshop on interactive language learning), 0.6 log p(term | theme) + 0.4 log lift, over
  the fitted texts assigned to it: frequent in the theme and more frequent there than
  elsewhere. It is named by its first three terms that do not repeat a word ("late /
  delivery / parcel", not "late / delivery late").
- The number of discovered themes k is the one in `k_range` whose themes are most coherent:
  the mean NPMI (normalised pointwise mutual information, Bouma 2009) over the pairs of each
  theme's top-10 terms, probabilities from Boolean document co-occurrence in the fitted
  texts. This is the C_NPMI measure of Röder, Both & Hinneburg (2015), "Exploring the space
  of topic coherence measures", WSDM, which with C_V agreed best with human ratings of
  topics; Boolean documents are the right window for short texts. Pairs where one term
  contains the other ("late", "delivery late") are skipped, since they co-occur by
  construction; a pair never seen together scores -1, its lower bound. Ties go to the
  smaller k.

Speed: one randomized SVD gives the NNDSVDa starting point of every k tried; the sample's
TF-IDF rows are reused when assigning; BLAS is held to one thread while fitting, because
every dense product here is thin (at most k_range[1] columns) and on a 2-core machine
OpenBLAS's threads cost far more than they save (one randomized SVD: 1.2 s with 2 threads,
0.04 s with one). On 2 cores, 1,000,000 generated texts take 2.4 s (7,582 distinct) and
12.6 s when 200,000 of them are distinct (benchmarks/voc_themes.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

TOP_TERMS = 10
"""Terms kept per theme, and the terms whose coherence is scored (the usual top 10)."""
NAME_TERMS = 3
"""A discovered theme is named by this many of its top terms."""
RELEVANCE_LAMBDA = 0.6
"""Weight of log p(term | theme) against log lift in a term's relevance (Sievert & Shirley
2014 found 0.6 best in their user study)."""
MAX_FEATURES = 10_000
"""Vocabulary cap: bounds the term-by-term co-occurrence matrix on huge, varied corpora."""
MAX_DF = 0.9
"""A term in more than this share of texts says nothing about what a text is about."""
CRITERION = (
    "NPMI coherence (Röder et al. 2015): mean over themes of the top-10 term pairs, "
    "Boolean document co-occurrence in the fitted texts"
)
_WORD = re.compile(r"(?u)\b\w\w+\b")
"""sklearn's default token pattern, for stop words, names and the containment check."""


@dataclass(frozen=True)
class Theme:
    """One theme: its name, its defining terms (top terms or pinned keywords), its origin."""

    name: str
    terms: tuple[str, ...]
    pinned: bool


@dataclass(frozen=True)
class ThemeModel:
    """Pinned and discovered themes, how k was chosen, and what `assign` needs.

    `scores` is the coherence of each k tried; `fitted_on` the number of distinct texts the
    discovery was fitted on (after the pinned ones were set aside). `vectorizer` and `nmf`
    are kept so that `assign` puts new texts on the same themes.
    """

    themes: tuple[Theme, ...]
    k_chosen: int
    criterion: str
    scores: dict[int, float]
    min_share: float = 0.25
    fitted_on: int = 0
    vectorizer: TfidfVectorizer | None = field(default=None, repr=False, compare=False)
    nmf: NMF | None = field(default=None, repr=False, compare=False)

    @property
    def discovered(self) -> tuple[Theme, ...]:
        return tuple(t for t in self.themes if not t.pinned)

    @property
    def pinned(self) -> tuple[Theme, ...]:
        return tuple(t for t in self.themes if t.pinned)

    def assign(self, texts: Sequence[str | None]) -> list[tuple[str, ...]]:
        """Theme names of each text, in input order: its pinned themes if it has any, else
        its discovered themes by falling share. Each distinct text is processed once."""
        unique, inverse = _deduplicate(texts)
        with threadpool_limits(limits=1, user_api="blas"):
            per_unique = self._assign_unique(unique)
        return [per_unique[i] for i in inverse]

    def _assign_unique(
        self,
        unique: list[str],
        pinned: list[tuple[str, ...]] | None = None,
        known: _Rows | None = None,
    ) -> list[tuple[str, ...]]:
        """Themes of distinct texts; `pinned` is their pinned matches and `known` TF-IDF rows
        of some of them, when already computed."""
        if pinned is None:
            pinned = _match_pinned(unique, self.pinned)
        out: list[tuple[str, ...]] = list(pinned)
        rest = [i for i, names in enumerate(pinned) if not names]
        if self.vectorizer is None or self.nmf is None or not rest:
            return out
        rows = _vectorize(self.vectorizer, [unique[i] for i in rest], known)
        weights = self.nmf.transform(rows)
        names = [t.name for t in self.discovered]
        for i, assigned in zip(rest, _names_by_share(weights, names, self.min_share), strict=True):
            out[i] = assigned
        return out


@dataclass(frozen=True)
class _Rows:
    """TF-IDF rows already computed for some texts (the fitted sample)."""

    texts: list[str]
    rows: sparse.csr_matrix


def discover_themes(
    texts: Sequence[str],
    *,
    pinned: Mapping[str, Sequence[str]] | None = None,
    k: int | None = None,
    k_range: tuple[int, int] = (4, 12),
    stop_words: Sequence[str] = (),
    sample: int = 50_000,
    seed: int = 0,
    min_share: float = 0.25,
) -> tuple[ThemeModel, list[tuple[str, ...]]]:
    """Pinned and discovered themes of `texts`, and the theme names of each text.

    `k` fixes the number of discovered themes; otherwise it is chosen in `k_range` (both
    ends included) by coherence, see the module docstring. `stop_words` are extra words to
    ignore, such as brand names. Returns the model and, per input text in input order, its
    theme names (empty for a text with none).
    """
    _check(k, k_range, sample, min_share)
    pinned_themes = tuple(
        Theme(str(name), tuple(w.strip() for w in words if w.strip()), True)
        for name, words in (pinned or {}).items()
    )
    unique, inverse = _deduplicate(texts)
    matched = _match_pinned(unique, pinned_themes)
    rest = sorted(u for u, names in zip(unique, matched, strict=True) if not names and u.strip())
    with threadpool_limits(limits=1, user_api="blas"):
        model, known = _discover(
            rest,
            pinned_themes,
            k=k,
            k_range=k_range,
            stop_words=stop_words,
            sample=sample,
            seed=seed,
            min_share=min_share,
        )
        per_unique = model._assign_unique(unique, matched, known)
    return model, [per_unique[i] for i in inverse]


def npmi_coherence(
    binary: sparse.spmatrix, top: Sequence[Sequence[int]], terms: Sequence[str]
) -> list[float]:
    """Mean NPMI of each theme's top-term pairs (C_NPMI of Röder et al. 2015).

    `binary` is documents x terms (nonzero = the term occurs), `top` the column indices of
    each theme's top terms, `terms` the vocabulary. Pairs where one term's words contain the
    other's are skipped (they co-occur by construction); a theme with no pair scores 0.
    """
    if not top or not any(len(t) for t in top):
        return [0.0] * len(top)
    columns = np.unique(np.concatenate([np.asarray(t, dtype=np.int64) for t in top]))
    where = {int(c): i for i, c in enumerate(columns)}
    sub = (sparse.csc_matrix(binary)[:, columns] != 0).astype(np.float64)
    co = (sub.T @ sub).toarray()
    n = binary.shape[0]
    words = [frozenset(_WORD.findall(str(terms[int(c)]))) for c in columns]
    out: list[float] = []
    for theme in top:
        idx = [where[int(c)] for c in theme]
        values = [
            _npmi(co[a, b] / n, co[a, a] / n, co[b, b] / n)
            for i, a in enumerate(idx)
            for b in idx[i + 1 :]
            if not (words[a] <= words[b] or words[b] <= words[a])
        ]
        out.append(float(np.mean(values)) if values else 0.0)
    return out


def _npmi(joint: float, p_a: float, p_b: float) -> float:
    """NPMI in [-1, 1]: -1 never together, 0 independent, 1 always together (Bouma 2009)."""
    if joint <= 0.0:
        return -1.0
    if joint >= 1.0:
        return 1.0
    return math.log(joint / (p_a * p_b)) / -math.log(joint)


def _discover(
    texts: list[str],
    pinned: tuple[Theme, ...],
    *,
    k: int | None,
    k_range: tuple[int, int],
    stop_words: Sequence[str],
    sample: int,
    seed: int,
    min_share: float,
) -> tuple[ThemeModel, _Rows | None]:
    """Fit the vocabulary and the topics on a sample of `texts` (distinct, sorted, unpinned);
    also returns the sample's TF-IDF rows, for reuse when assigning."""
    criterion = f"fixed k={k}" if k is not None else CRITERION
    empty = ThemeModel(pinned, 0, criterion, {}, min_share, 0), None
    if len(texts) > sample:
        rng = np.random.default_rng(seed)
        texts = [texts[i] for i in np.sort(rng.choice(len(texts), sample, replace=False))]
    min_df = max(2, len(texts) // 5000)
    if len(texts) < min_df:
        return empty
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2),
        stop_words=sorted(_stop_words(stop_words)),
        min_df=min_df,
        max_df=MAX_DF,
        max_features=MAX_FEATURES,
        sublinear_tf=True,
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no term left: texts too short, or only stop words
        return empty
    known = _Rows(texts, matrix)
    matrix = matrix[np.flatnonzero(matrix.getnnz(axis=1))]
    binary = (matrix != 0).astype(np.float64).tocsr()
    ppmi = _ppmi(binary, min_count=min_df)
    most = min(matrix.shape)
    if matrix.nnz == 0 or most < 1:
        return empty
    tried = (
        [min(k, most)]
        if k is not None
        else list(range(min(k_range[0], most), min(k_range[1], most) + 1))
    )
    terms = vectorizer.get_feature_names_out()
    joint = _stack(matrix, ppmi)
    start_w, start_h = _nndsvda(joint, max(tried), seed)
    fits: dict[int, tuple[NMF, list[np.ndarray]]] = {}
    scores: dict[int, float] = {}
    for n in tried:
        nmf = NMF(n_components=n, init="custom", random_state=seed, max_iter=400)
        nmf.fit(joint, W=start_w[:, :n].copy(), H=start_h[:n].copy())
        share = _shares(nmf.transform(matrix))
        top = _top_terms(binary, share >= min_share, nmf.components_)
        fits[n] = (nmf, top)
        scores[n] = float(np.mean(npmi_coherence(binary, top, terms)))
    best = max(tried, key=lambda n: (scores[n], -n))
    nmf, top = fits[best]
    discovered = _name_themes(top, terms, taken={t.name for t in pinned})
    model = ThemeModel(
        (*pinned, *discovered), best, criterion, scores, min_share, len(texts), vectorizer, nmf
    )
    return model, known


def _vectorize(
    vectorizer: TfidfVectorizer, texts: list[str], known: _Rows | None
) -> sparse.csr_matrix:
    """TF-IDF rows of distinct `texts`, reusing `known` rows (the fitted sample's) rather than
    tokenising those texts twice: tokenising is most of the time on a large corpus."""
    if known is None:
        return vectorizer.transform(texts)
    at = {t: i for i, t in enumerate(known.texts)}
    new = [t for t in texts if t not in at]
    rows = known.rows
    if new:
        rows = sparse.vstack([rows, vectorizer.transform(new)], format="csr")
    fresh = iter(range(len(known.texts), len(known.texts) + len(new)))
    return rows[[at[t] if t in at else next(fresh) for t in texts]]


def _nndsvda(matrix: sparse.csr_matrix, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """NNDSVDa starting factors for n topics (Boutsidis & Gallopoulos 2008, as sklearn's
    init="nndsvda"), from one truncated SVD shared by every k tried.

    Topic j's start depends only on the j-th singular triplet, so the start for k topics is
    the first k columns (rows) of the start for the largest k: one SVD instead of one per k,
    which was a third of the time on a varied corpus. The SVD is randomized, so the start
    (and the model) for a given k can differ slightly between two `k_range`s with different
    upper ends; the same arguments always give the same model.
    """
    u, s, vt = randomized_svd(matrix, n, random_state=seed)
    w, h = np.zeros_like(u), np.zeros_like(vt)
    w[:, 0], h[0] = np.sqrt(s[0]) * np.abs(u[:, 0]), np.sqrt(s[0]) * np.abs(vt[0])
    for j in range(1, n):
        x, y = u[:, j], vt[j]
        xp, yp, xn, yn = np.maximum(x, 0), np.maximum(y, 0), -np.minimum(x, 0), -np.minimum(y, 0)
        norms_p = (np.linalg.norm(xp), np.linalg.norm(yp))
        norms_n = (np.linalg.norm(xn), np.linalg.norm(yn))
        if norms_p[0] * norms_p[1] > norms_n[0] * norms_n[1]:
            (a, b), sigma, norms = (xp, yp), norms_p[0] * norms_p[1], norms_p
        else:
            (a, b), sigma, norms = (xn, yn), norms_n[0] * norms_n[1], norms_n
        scale = np.sqrt(s[j] * sigma)
        w[:, j] = scale * a / norms[0] if norms[0] else 0.0
        h[j] = scale * b / norms[1] if norms[1] else 0.0
    mean = matrix.sum() / (matrix.shape[0] * matrix.shape[1])
    w[w < 1e-6], h[h < 1e-6] = mean, mean
    return w, h


def _stack(documents: sparse.csr_matrix, contexts: sparse.csr_matrix) -> sparse.csr_matrix:
    """Documents over term contexts, the contexts scaled to the documents' Frobenius norm so
    that each kind of evidence weighs the same in the factorisation."""
    norm = sparse_linalg.norm(contexts)
    if norm == 0:
        return documents
    return sparse.vstack([documents, contexts * (sparse_linalg.norm(documents) / norm)]).tocsr()


def _ppmi(binary: sparse.csr_matrix, *, min_count: int) -> sparse.csr_matrix:
    """Positive PMI between terms from Boolean document co-occurrence (terms x terms, sparse,
    zero diagonal); pairs seen in fewer than `min_count` documents are left out."""
    n = binary.shape[0]
    df = np.asarray(binary.sum(axis=0)).ravel()
    co = (binary.T @ binary).tocoo()
    keep = (co.row != co.col) & (co.data >= min_count)
    row, col, count = co.row[keep], co.col[keep], co.data[keep]
    pmi = np.log(count * n / (df[row] * df[col]))
    positive = pmi > 0
    return sparse.csr_matrix(
        (pmi[positive], (row[positive], col[positive])), shape=(len(df), len(df))
    )


def _shares(weights: np.ndarray) -> np.ndarray:
    """Each row's topic weights as shares of the row total (all 0 for a row without any)."""
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def _top_terms(
    binary: sparse.csr_matrix, assigned: np.ndarray, components: np.ndarray
) -> list[np.ndarray]:
    """Per theme, the column indices of its TOP_TERMS most relevant terms over the texts
    assigned to it (Sievert & Shirley 2014); a theme no text has falls back to its weights."""
    n = binary.shape[0]
    p_term = np.asarray(binary.sum(axis=0)).ravel() / n
    counts = np.asarray(binary.T @ assigned.astype(np.float64)).T  # themes x terms
    sizes = assigned.sum(axis=0)
    out: list[np.ndarray] = []
    for j, row in enumerate(components):
        if sizes[j] == 0:
            out.append(np.argsort(-row, kind="stable")[:TOP_TERMS])
            continue
        p = counts[j] / sizes[j]
        seen = np.flatnonzero(p > 0)
        lp = np.log(p[seen])
        relevance = RELEVANCE_LAMBDA * lp + (1 - RELEVANCE_LAMBDA) * (lp - np.log(p_term[seen]))
        out.append(seen[np.argsort(-relevance, kind="stable")[:TOP_TERMS]])
    return out


def _name_themes(top: list[np.ndarray], terms: np.ndarray, taken: set[str]) -> list[Theme]:
    """Each theme named by its first NAME_TERMS top terms that add a new word, joined with
    " / "; a name already taken gets one more term, then a number, until it is unique."""
    themes: list[Theme] = []
    for columns in top:
        ranked = [str(terms[c]) for c in columns]
        picked: list[str] = []
        seen: set[str] = set()
        for term in ranked:
            words = set(_WORD.findall(term))
            if words & seen:
                continue
            picked.append(term)
            seen |= words
            if len(picked) >= NAME_TERMS and " / ".join(picked) not in taken:
                break
        base = " / ".join(picked) or "(no terms)"
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base} ({suffix})", suffix + 1
        taken.add(name)
        themes.append(Theme(name, tuple(ranked), False))
    return themes


def _names_by_share(
    weights: np.ndarray, names: list[str], min_share: float
) -> list[tuple[str, ...]]:
    """Per row of topic weights, the names of the topics holding >= min_share, largest first."""
    share = _shares(weights)
    order = np.argsort(-share, axis=1, kind="stable")
    count = (np.take_along_axis(share, order, axis=1) >= min_share).sum(axis=1)
    cache: dict[tuple[int, ...], tuple[str, ...]] = {}
    out: list[tuple[str, ...]] = []
    for row, c in zip(order.tolist(), count.tolist(), strict=True):
        key = tuple(row[:c])
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = tuple(names[j] for j in key)
        out.append(hit)
    return out


def _match_pinned(texts: list[str], pinned: Iterable[Theme]) -> list[tuple[str, ...]]:
    """Per text, the pinned themes one of whose keywords it contains as a whole word/phrase."""
    patterns = [(t.name, _keyword_pattern(t.terms)) for t in pinned if t.terms]
    if not patterns:
        return [()] * len(texts)
    return [tuple(name for name, p in patterns if p.search(text)) for text in texts]


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for all keywords: escaped, longest first, whole words
    (lookarounds rather than \\b, so keywords that start or end with punctuation still
    match), any run of whitespace inside a phrase."""
    parts = sorted({re.escape(k).replace(r"\ ", r"\s+") for k in keywords}, key=lambda p: -len(p))
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _stop_words(extra: Sequence[str]) -> set[str]:
    """sklearn's English list plus the words of each extra entry ("Acme Corp" -> acme, corp),
    lower-cased like the tokens they must match."""
    out = set(ENGLISH_STOP_WORDS)
    for entry in extra:
        out.update(_WORD.findall(entry.lower()))
    return out


def _deduplicate(texts: Sequence[str | None]) -> tuple[list[str], list[int]]:
    """Distinct texts (first-seen order; None counts as "") and each input's index into them."""
    index: dict[str, int] = {}
    inverse = [index.setdefault(t or "", len(index)) for t in texts]
    return list(index), inverse


def _check(k: int | None, k_range: tuple[int, int], sample: int, min_share: float) -> None:
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 1 <= k_range[0] <= k_range[1]:
        raise ValueError(f"k_range must satisfy 1 <= low <= high, got {k_range}")
    if sample < 2:
        raise ValueError(f"sample must be >= 2, got {sample}")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
