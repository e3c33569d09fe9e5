"""Attribution of conversions to touchpoints: Markov-chain removal effects beside first touch,
last touch and linear (equal split).

Pure numpy over paths given as data; the engine (or a caller) builds the path table.

Conventions
-----------
- A **path** is the ordered touchpoints (channel or touchpoint names, oldest first) of one
  customer journey up to its conversion, or up to the end of the observation window when it did
  not convert. A journey that did not convert is a **null path**. The conversion itself is not
  a touchpoint.
- Paths may be aggregated: row ``i`` stands for ``counts[i]`` journeys with that path (1 when
  ``counts`` is not given), of which ``conversions[i]`` converted (so with one journey per row
  ``conversions`` is a 0/1 flag) and ``counts[i] - conversions[i]`` are null paths;
  ``values[i]``, when given, is the total conversion value of those conversions.
- Every path holds at least one touchpoint. A conversion with no touchpoint before it cannot be
  attributed to one: give it an explicit touchpoint (e.g. ``"direct"``) or leave it out.
- The chain has three special states: **START** (initial: every journey begins there),
  **CONVERSION** and **NULL** (absorbing: a journey ends in one of them). Touchpoint names may not
  be these names, nor empty.
- **Repeats** (the same touchpoint twice in a row) are kept by default. For a first-order chain
  this costs nothing: a run A, A, ... only adds the self-loop A -> A, and a self-loop with
  probability s merely rescales A's other transitions by 1 / (1 - s), so the conversion
  probability and every removal effect are the same with repeats kept or collapsed, while the
  transition matrix keeps the observed revisits and the linear model counts every real touch.
  In a chain of order k >= 2 repeats do change the states ((A, A) is a state of its own);
  ``collapse_repeats=True`` then treats a run of one touchpoint as one visit, for every model.
- **Order k**: a state is the last k touchpoints seen (fewer at the start of a path), which
  turns a k-th order chain into a first-order chain over k-tuples (Anderl et al. 2016, §3.2).
  Removing a touchpoint removes every state that contains it.
- **No conversions at all**: removal effects are undefined (0 / 0). They are reported as 0 with
  a ``note`` rather than raised, so an empty period still gets a report; every figure is finite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxloop.errors import CxloopError

Float = NDArray[np.float64]

START, CONVERSION, NULL = "START", "CONVERSION", "NULL"
RESERVED = frozenset({START, CONVERSION, NULL})
NO_CONVERSIONS = "no conversions: removal effects are undefined and reported as 0"


@dataclass(frozen=True)
class Journeys:
    """Validated path table: one row per distinct path (after collapsing repeats if asked)."""

    paths: tuple[tuple[str, ...], ...]
    counts: Float
    conversions: Float
    values: Float | None
    touchpoints: tuple[str, ...]  # result order: the catalogue's, else sorted by name


def _weights(x: ArrayLike, n: int, name: str) -> Float:
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (n,):
        raise CxloopError(f"{name} must give one number per path ({n}), not shape {a.shape}")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise CxloopError(f"{name} must be finite and not negative; path {i} has {a[i]}")
    return a


def _collapse(path: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for j, t in enumerate(path) if j == 0 or t != path[j - 1])


def journeys(
    paths: Sequence[Sequence[str]],
    conversions: ArrayLike,
    /,
    *,
    counts: ArrayLike | None = None,
    values: ArrayLike | None = None,
    touchpoints: Iterable[str] | None = None,
    collapse_repeats: bool = False,
) -> Journeys:
    """Check a path table against the conventions above and return it as arrays.

    ``touchpoints``, when given, is the touchpoint catalogue: a name outside it is an error, and
    the result lists every catalogue touchpoint (zeros for those no path reaches).
    """
    rows = list(paths)
    if not rows:
        raise CxloopError("attribution needs at least one path")
    n = len(rows)
    conv = _weights(conversions, n, "conversions")
    cnt = np.ones(n) if counts is None else _weights(counts, n, "counts")
    over = conv > cnt
    if over.any():
        i = int(np.argmax(over))
        raise CxloopError(
            f"path {i} has {conv[i]:g} conversions but {cnt[i]:g} journeys "
            "(counts default to 1 journey per path)"
        )
    val = None if values is None else _weights(values, n, "values")
    if val is not None and ((val > 0) & (conv == 0)).any():
        i = int(np.argmax((val > 0) & (conv == 0)))
        raise CxloopError(f"path {i} has a conversion value but no conversions")
    catalogue = None if touchpoints is None else tuple(dict.fromkeys(touchpoints))
    known = None if catalogue is None else frozenset(catalogue)
    for name in catalogue or ():
        _check_name(name, "the touchpoint catalogue")
    clean: list[tuple[str, ...]] = []
    for i, row in enumerate(rows):
        if isinstance(row, str):
            raise CxloopError(f"path {i} is a string; give a sequence of touchpoint names")
        path = tuple(row)
        if not path:
            raise CxloopError(
                f"path {i} is empty: a journey needs at least one touchpoint "
                "(name direct conversions, e.g. 'direct', or leave them out)"
            )
        for j, name in enumerate(path):
            _check_name(name, f"path {i}, step {j}")
            if known is not None and name not in known:
                raise CxloopError(f"path {i}, step {j}: unknown touchpoint {name!r}")
        clean.append(_collapse(path) if collapse_repeats else path)
    seen = sorted({t for path in clean for t in path})
    return Journeys(tuple(clean), cnt, conv, val, catalogue or tuple(seen))


def _check_name(name: object, where: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise CxloopError(f"{where}: touchpoint names must be non-empty text, not {name!r}")
    if name in RESERVED:
        raise CxloopError(f"{where}: {name!r} is reserved for the chain's own states")


@dataclass(frozen=True)
class MarkovChain:
    """An absorbing Markov chain fitted to paths by counting transitions (the maximum-likelihood
    estimate), each journey weighted by its count.

    Matrix rows and columns follow ``labels``: START, the touchpoint states (k-tuples, shown
    as "A > B"), CONVERSION, NULL; rows sum to 1 and the last two states are absorbing.
    """

    order: int
    states: tuple[tuple[str, ...], ...]  # the touchpoint states, in matrix order after START
    transitions: Float

    @property
    def labels(self) -> tuple[str, ...]:
        return (START, *(" > ".join(s) for s in self.states), CONVERSION, NULL)

    def transition(self, source: str, target: str) -> float:
        """Probability of one step from ``source`` to ``target`` (labels as in ``labels``)."""
        labels = self.labels
        return float(self.transitions[labels.index(source), labels.index(target)])

    def conversion_probability(self, *, without: Iterable[str] = ()) -> float:
        """P(a journey from START is absorbed in CONVERSION), optionally with touchpoints removed.

        Absorption probabilities x of the transient states solve (I - Q) x = r, with Q the
        transient-to-transient block and r the column into CONVERSION (Kemeny & Snell 1960,
        Finite Markov Chains, Thm 3.3.7: B = (I - Q)^-1 R). Removing a touchpoint drops every
        state containing it; the transitions into those states then lead nowhere, which is
        sending them to NULL (Anderl et al. 2016; Archak, Mirrokni & Muthukrishnan 2010). I - Q
        is invertible because every observed state has a path to absorption (each journey ends).
        """
        removed = frozenset(without)
        keep = [i + 1 for i, s in enumerate(self.states) if removed.isdisjoint(s)]
        transient = np.array([0, *keep])
        q = self.transitions[np.ix_(transient, transient)]
        r = self.transitions[transient, len(self.states) + 1]
        x = np.linalg.solve(np.eye(len(transient)) - q, r)
        return float(x[0])

    def removal_effects(self, touchpoints: Sequence[str]) -> Float:
        """1 - P(conversion without the touchpoint) / P(conversion), per touchpoint, in [0, 1];
        zeros when P(conversion) is 0 (undefined)."""
        base = self.conversion_probability()
        if base <= 0:
            return np.zeros(len(touchpoints))
        without = np.array([self.conversion_probability(without=(t,)) for t in touchpoints])
        # Removing states only sends mass to NULL, so 0 <= effect <= 1 up to rounding.
        return np.clip(1.0 - without / base, 0.0, 1.0)


def fit_markov_chain(data: Journeys, /, *, order: int = 1) -> MarkovChain:
    """Count transitions START -> s1 -> ... -> sn -> CONVERSION | NULL over the paths.

    Each step of a path's row counts ``counts[i]`` times; its last state goes to CONVERSION
    ``conversions[i]`` times and to NULL ``counts[i] - conversions[i]`` times. Fitted so, the
    chain's P(conversion) equals the observed conversion rate (the observed visit counts solve
    the chain's flow equations), a check the tests make.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise CxloopError(f"the Markov chain's order must be a whole number >= 1, not {order!r}")
    rows = zip(data.paths, data.counts, data.conversions, strict=True)
    live = [(p, float(n), float(c)) for p, n, c in rows if n > 0]
    walks = [[p[max(0, j + 1 - order) : j + 1] for j in range(len(p))] for p, _, _ in live]
    states = sorted({s for walk in walks for s in walk})
    index = {s: i + 1 for i, s in enumerate(states)}
    m = len(states)
    conv_at, null_at = m + 1, m + 2
    source: list[int] = []
    target: list[int] = []
    weight: list[float] = []
    for walk, (_, n, c) in zip(walks, live, strict=True):
        ids = [0, *(index[s] for s in walk)]
        source += [*ids, ids[-1]]
        target += [*ids[1:], conv_at, null_at]
        weight += [n] * len(walk) + [c, n - c]
    counts = np.zeros((m + 3, m + 3))
    np.add.at(counts, (np.array(source), np.array(target)), np.array(weight))
    out = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(out > 0, counts / out, 0.0)
    matrix[conv_at, conv_at] = matrix[null_at, null_at] = 1.0
    return MarkovChain(order, tuple(states), matrix)


@dataclass(frozen=True)
class TouchpointAttribution:
    """Conversions (and value) credited to one touchpoint by each model; shares of the total."""

    touchpoint: str
    removal_effect: float
    markov_conversions: float
    first_touch: float
    last_touch: float
    linear: float
    markov_share: float
    first_touch_share: float
    last_touch_share: float
    linear_share: float
    markov_value: float | None = None
    first_touch_value: float | None = None
    last_touch_value: float | None = None
    linear_value: float | None = None

    def to_dict(self) -> dict[str, str | float | None]:
        return {k: (v if isinstance(v, str) else _clean(v)) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Attribution:
    """Attribution of every touchpoint, with the chain's overall conversion probability."""

    touchpoints: tuple[TouchpointAttribution, ...]
    conversion_probability: float
    conversions: float
    journeys: float
    value: float | None
    order: int
    collapse_repeats: bool
    note: str | None = None

    def __getitem__(self, touchpoint: str) -> TouchpointAttribution:
        for row in self.touchpoints:
            if row.touchpoint == touchpoint:
                return row
        raise KeyError(touchpoint)

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversion_probability": _clean(self.conversion_probability),
            "conversions": _clean(self.conversions),
            "journeys": _clean(self.journeys),
            "value": _clean(self.value),
            "order": self.order,
            "collapse_repeats": self.collapse_repeats,
            "note": self.note,
            "touchpoints": [row.to_dict() for row in self.touchpoints],
        }


def _clean(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _heuristics(data: Journeys, weight: Float) -> tuple[Float, Float, Float]:
    """First touch, last touch and linear credit of ``weight`` (conversions or value) per path."""
    position = {t: i for i, t in enumerate(data.touchpoints)}
    size = len(position)
    first = np.array([position[p[0]] for p in data.paths])
    last = np.array([position[p[-1]] for p in data.paths])
    lengths = np.array([len(p) for p in data.paths])
    touches = np.array([position[t] for p in data.paths for t in p])
    share = np.repeat(weight / lengths, lengths)  # each touch gets an equal part of its path's
    return (
        np.bincount(first, weights=weight, minlength=size),
        np.bincount(last, weights=weight, minlength=size),
        np.bincount(touches, weights=share, minlength=size),
    )


def _split(total: float, effects: Float) -> Float:
    s = effects.sum()
    return total * effects / s if s > 0 else np.zeros_like(effects)


def attribute_conversions(
    paths: Sequence[Sequence[str]],
    conversions: ArrayLike,
    /,
    *,
    counts: ArrayLike | None = None,
    values: ArrayLike | None = None,
    touchpoints: Iterable[str] | None = None,
    order: int = 1,
    collapse_repeats: bool = False,
) -> Attribution:
    """Credit conversions to touchpoints by Markov removal effects and by three heuristics.

    Markov: removal effect RE(t) = 1 - P(conversion without t) / P(conversion), and t is
    credited total conversions x RE(t) / sum of all RE (Anderl, Becker, von Wangenheim &
    Schumann 2016, "Mapping the customer journey: Lessons learned from graph-based online
    attribution modeling", IJRM 33(3), 457-474; Archak et al. 2010, WWW). Conversion value,
    when given, is credited with the same shares (the chain models conversion, not value).
    First touch credits each converting path's conversions to its first touchpoint, last touch
    to its last, linear in equal parts to each touch (a touchpoint met twice gets two parts).
    See the module docstring for how paths, null paths, repeats and order are defined.
    """
    data = journeys(
        paths,
        conversions,
        counts=counts,
        values=values,
        touchpoints=touchpoints,
        collapse_repeats=collapse_repeats,
    )
    chain = fit_markov_chain(data, order=order)
    total = float(data.conversions.sum())
    effects = chain.removal_effects(data.touchpoints)
    markov = _split(total, effects)
    first, last, linear = _heuristics(data, data.conversions)
    shares = [x / total if total > 0 else np.zeros_like(x) for x in (markov, first, last, linear)]
    total_value = None if data.values is None else float(data.values.sum())
    no_values = np.full(len(effects), np.nan)  # NaN here becomes None in the rows
    valued = (no_values,) * 4
    if data.values is not None and total_value is not None:
        valued = (_split(total_value, effects), *_heuristics(data, data.values))
    rows = tuple(
        TouchpointAttribution(
            touchpoint=t,
            removal_effect=float(effects[i]),
            markov_conversions=float(markov[i]),
            first_touch=float(first[i]),
            last_touch=float(last[i]),
            linear=float(linear[i]),
            markov_share=float(shares[0][i]),
            first_touch_share=float(shares[1][i]),
            last_touch_share=float(shares[2][i]),
            linear_share=float(shares[3][i]),
            markov_value=_clean(valued[0][i]),
            first_touch_value=_clean(valued[1][i]),
            last_touch_value=_clean(valued[2][i]),
            linear_value=_clean(valued[3][i]),
        )
        for i, t in enumerate(data.touchpoints)
    )
    return Attribution(
        touchpoints=rows,
        conversion_probability=chain.conversion_probability() if total > 0 else 0.0,
        conversions=total,
        journeys=float(data.counts.sum()),
        value=total_value,
        order=order,
        collapse_repeats=collapse_repeats,
        note=None if total > 0 else NO_CONVERSIONS,
    )
