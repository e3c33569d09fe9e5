"""Per-customer behaviour and preference features, and their standardisation.

Counts come from the engine (queries.py); here they become features in original units
(orders per year, average order value, shares, events per order, feedback tone) and then
standardised values. Everything a later run needs to put new customers on the same scale —
the vocabulary, the population shares that small counts are shrunk towards, the imputation
medians, the means and standard deviations — lives in `FeatureSpec`, which is saved with the
model, so assignment never refits any of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.analytics.periods import Period
from cxloop.analytics.personas import queries

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

FEATURES_VERSION = 1
"""Bumped when a feature's definition changes: a model saved under another version is refit."""

MAX_CHANNELS = 8
MAX_TOUCHPOINTS = 10
PRIOR_WEIGHT = 2.0
"""Pseudo-observations of the population mix added to every share. One order says little
about a preference (its channel share is 1 by construction); shrinking towards the
population by two pseudo-orders keeps a single purchase from looking like loyalty to a
channel, and keeps shares continuous, which a Gaussian mixture needs."""
MIN_TENURE_DAYS = 182.0
"""Tenure below half a year counts as half a year: a customer who bought yesterday is not
read as buying 365 times a year."""
LOG_FEATURES = ("orders_per_year", "order_value", "events_per_order")
"""Counts and amounts are right-skewed; log1p puts them on a scale where a mixture of
Gaussians can describe them."""


@dataclass(frozen=True)
class Vocabulary:
    """Which channels and touchpoints are features (the most common; the rest are `other`)."""

    order_channels: tuple[str, ...]
    order_other: bool
    event_channels: tuple[str, ...]
    event_other: bool
    touchpoints: tuple[str, ...]
    touchpoint_other: bool

    def names(self) -> list[str]:
        """Feature names in matrix order."""
        names = ["orders_per_year", "order_value", "q4_share"]
        names += _group("order_channel", self.order_channels, self.order_other)
        names += _group("event_channel", self.event_channels, self.event_other)
        names += _group("touchpoint", self.touchpoints, self.touchpoint_other)
        return [*names, "events_per_order", "sentiment", "nps", "has_feedback"]


def _group(prefix: str, values: tuple[str, ...], other: bool) -> list[str]:
    return [f"{prefix}:{v}" for v in values] + ([f"{prefix}:other"] if other else [])


def choose_vocabulary(ws: Workspace) -> Vocabulary:
    """The most common order channels, event channels and touchpoints of all the data."""

    def top(kind: str, limit: int) -> tuple[tuple[str, ...], bool]:
        rows = ws.engine.fetchall(queries.vocabulary_sql(kind))
        return tuple(str(r[0]) for r in rows[:limit]), len(rows) > limit

    oc, oo = top("order_channel", MAX_CHANNELS)
    ec, eo = top("event_channel", MAX_CHANNELS)
    tp, to = top("touchpoint", MAX_TOUCHPOINTS)
    return Vocabulary(oc, oo, ec, eo, tp, to)


@dataclass
class Counts:
    """The engine's per-customer counts, column-wise, for one snapshot."""

    profile_ids: np.ndarray
    acquired: np.ndarray  # datetime64[D], first day of the acquisition period
    columns: dict[str, np.ndarray]
    as_of: float | None  # epoch seconds of the end of the data (None without customers)

    @property
    def n(self) -> int:
        return len(self.profile_ids)

    def subset(self, mask: np.ndarray) -> Counts:
        return Counts(
            self.profile_ids[mask],
            self.acquired[mask],
            {k: v[mask] for k, v in self.columns.items()},
            self.as_of,
        )


_SENTINEL = ["\x00"]
"""Bound instead of an empty vocabulary, so the list parameter keeps a string type."""
CUSTOMER_COLUMNS = ("orders", "revenue", "first_order", "q4_orders", "orders_with_channel")


def load_snapshots(
    ws: Workspace, vocab: Vocabulary, period: Period, *, cutoff: datetime | None = None
) -> tuple[Counts, Counts | None]:
    """Per-customer counts over all the data and, with a `cutoff` (naive UTC), over the data
    before it (customers who had bought by then only), from one scan of each table."""
    e = ws.engine
    before = cutoff is not None
    sql, params = queries.customers_sql(
        list(vocab.order_channels),
        period,
        with_sentiment=e.table_exists("voc_texts"),
        before=before,
    )
    if before:
        params["cutoff"] = cutoff
    if "$brand" in sql:  # tone counts texts about us, not posts about competitors
        params["brand"] = ws.config.brand.name
    e.execute(sql, params)
    try:
        table = e.arrow(f"SELECT * FROM {queries.CUSTOMERS_TABLE} ORDER BY row")
        ev_sql, ev_params = queries.events_sql(
            list(vocab.event_channels) or _SENTINEL,
            list(vocab.touchpoints) or _SENTINEL,
            before=before,
        )
        if before:
            ev_params["cutoff"] = cutoff
        events = e.arrow(ev_sql, ev_params)
    finally:
        e.execute(f"DROP TABLE IF EXISTS {queries.CUSTOMERS_TABLE}")
    n = table.num_rows

    def column(name: str) -> np.ndarray:
        return table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)

    ids = np.asarray(table.column("profile_id").to_pylist(), dtype=object)
    acquired = table.column("acquired").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    order_columns = [*CUSTOMER_COLUMNS, *(f"oc_{i}" for i in range(len(vocab.order_channels)))]
    rows = events.column("row").to_numpy(zero_copy_only=False).astype(np.int64)
    channel = events.column("channel").to_numpy(zero_copy_only=False)
    touchpoint = events.column("touchpoint").to_numpy(zero_copy_only=False).astype(np.int64)

    def snapshot(suffix: str, weights: np.ndarray) -> dict[str, np.ndarray]:
        cols = {name: column(name + suffix) for name in order_columns}
        for name in ("sentiment", "nps"):
            cols[name] = column(name + suffix)
        cols.update(_event_columns(n, rows, channel, touchpoint, weights, vocab))
        return cols

    now_end = e.scalar(queries.DATA_END_SQL)
    now = Counts(ids, acquired, snapshot("", _weights(events, "n")), _epoch(now_end))
    if not before:
        return now, None
    then = snapshot("_b", _weights(events, "n_b"))
    then_end = e.scalar(queries.DATA_END_BEFORE_SQL, {"cutoff": cutoff})
    prev = Counts(ids, acquired, then, _epoch(then_end)).subset(then["orders"] > 0)
    return now, prev


def _weights(events: Any, name: str) -> np.ndarray:
    return events.column(name).to_numpy(zero_copy_only=False).astype(np.float64)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _event_columns(
    n: int,
    rows: np.ndarray,
    channel: np.ndarray,
    touchpoint: np.ndarray,
    weights: np.ndarray,
    vocab: Vocabulary,
) -> dict[str, np.ndarray]:
    """Spread grouped event counts into per-customer columns (bincount: one pass each)."""
    out = {"events": np.bincount(rows, weights=weights, minlength=n)}
    has_channel = ~np.isnan(channel.astype(np.float64))
    code = np.where(has_channel, channel, 0).astype(np.int64)
    out["events_with_channel"] = np.bincount(
        rows[has_channel], weights=weights[has_channel], minlength=n
    )
    width = len(vocab.event_channels) + 1
    grid = np.bincount(
        rows[has_channel] * width + code[has_channel],
        weights=weights[has_channel],
        minlength=n * width,
    ).reshape(n, width)
    for i in range(len(vocab.event_channels)):
        out[f"ec_{i}"] = grid[:, i + 1]
    width = len(vocab.touchpoints) + 1
    grid = np.bincount(rows * width + touchpoint, weights=weights, minlength=n * width).reshape(
        n, width
    )
    for i in range(len(vocab.touchpoints)):
        out[f"tp_{i}"] = grid[:, i + 1]
    return out


def _shares(
    counts: Counts, prefix: str, column_prefix: str, size: int, other: bool, total: str
) -> dict[str, np.ndarray]:
    """Raw (unshrunk) counts per vocabulary item and the total they are shares of."""
    c = counts.columns
    out = {f"{prefix}:{i}": c[f"{column_prefix}_{i}"] for i in range(size)}
    if other:
        known = sum((c[f"{column_prefix}_{i}"] for i in range(size)), np.zeros(counts.n))
        out[f"{prefix}:other"] = np.maximum(c[total] - known, 0.0)
    return out


@dataclass(frozen=True)
class FeatureSpec:
    """How counts become standardised features; fitted once, saved with the model."""

    vocab: Vocabulary
    names: tuple[str, ...]
    population: dict[str, float]  # population share of every share feature (the prior)
    medians: dict[str, float]  # imputation of sentiment and nps
    means: tuple[float, ...]  # of the transformed features
    sds: tuple[float, ...]

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, vocab: Vocabulary, counts: Counts) -> tuple[FeatureSpec, np.ndarray]:
        """Population shares, medians, means and SDs from the customers of `counts`; and
        their features in original units."""
        names = vocab.names()
        totals = _share_inputs(vocab, counts)
        population = {
            name: float(num.sum() / den.sum()) if den.sum() > 0 else 0.0
            for name, (num, den) in totals.items()
        }
        medians = {}
        for name in ("sentiment", "nps"):
            x = counts.columns[name]
            known = x[np.isfinite(x)]
            medians[name] = float(np.median(known)) if len(known) else 0.0
        raw = cls(vocab, tuple(names), population, medians, (), ()).raw(counts)
        transformed = _transform(raw, names)
        means = transformed.mean(axis=0) if counts.n else np.zeros(len(names))
        sds = transformed.std(axis=0) if counts.n else np.ones(len(names))
        # A feature without variation (one channel for everybody) carries no information;
        # an SD of 1 keeps it at z = 0 instead of dividing by zero.
        sds = np.where(sds > 1e-9, sds, 1.0)
        spec = cls(
            vocab,
            tuple(names),
            population,
            medians,
            tuple(map(float, means)),
            tuple(map(float, sds)),
        )
        return spec, raw

    # -- applying ---------------------------------------------------------------------------
    def raw(self, counts: Counts) -> np.ndarray:
        """Features in original units (customers x features)."""
        c, n = counts.columns, counts.n
        out = np.zeros((n, len(self.names)))
        col = {name: j for j, name in enumerate(self.names)}
        if n == 0:
            return out
        tenure_days = np.maximum(
            ((counts.as_of or 0.0) - c["first_order"]) / 86400.0, MIN_TENURE_DAYS
        )
        out[:, col["orders_per_year"]] = c["orders"] / (tenure_days / 365.25)
        out[:, col["order_value"]] = c["revenue"] / np.maximum(c["orders"], 1.0)
        for name, (num, den) in _share_inputs(self.vocab, counts).items():
            prior = self.population.get(name, 0.0)
            out[:, col[name]] = (num + PRIOR_WEIGHT * prior) / (den + PRIOR_WEIGHT)
        out[:, col["events_per_order"]] = c["events"] / np.maximum(c["orders"], 1.0)
        has_feedback = np.zeros(n, dtype=bool)
        for name in ("sentiment", "nps"):
            x = c[name]
            known = np.isfinite(x)
            has_feedback |= known
            out[:, col[name]] = np.where(known, x, self.medians[name])
        out[:, col["has_feedback"]] = has_feedback.astype(float)
        return out

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """z-scores with the saved means and SDs (features of new customers included)."""
        z = _transform(raw, list(self.names))
        z -= np.asarray(self.means)
        z /= np.asarray(self.sds)
        return z

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["vocab"] = asdict(self.vocab)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        v = d["vocab"]
        vocab = Vocabulary(
            tuple(v["order_channels"]),
            bool(v["order_other"]),
            tuple(v["event_channels"]),
            bool(v["event_other"]),
            tuple(v["touchpoints"]),
            bool(v["touchpoint_other"]),
        )
        return cls(
            vocab,
            tuple(d["names"]),
            {str(k): float(x) for k, x in d["population"].items()},
            {str(k): float(x) for k, x in d["medians"].items()},
            tuple(float(x) for x in d["means"]),
            tuple(float(x) for x in d["sds"]),
        )


def _share_inputs(vocab: Vocabulary, counts: Counts) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Numerator and denominator of every share feature."""
    c = counts.columns
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {"q4_share": (c["q4_orders"], c["orders"])}
    groups = (
        ("order_channel", "oc", vocab.order_channels, vocab.order_other, "orders_with_channel"),
        ("event_channel", "ec", vocab.event_channels, vocab.event_other, "events_with_channel"),
        ("touchpoint", "tp", vocab.touchpoints, vocab.touchpoint_other, "events"),
    )
    for prefix, column_prefix, values, other, total in groups:
        raw = _shares(counts, prefix, column_prefix, len(values), other, total)
        for key, num in raw.items():
            index = key.split(":", 1)[1]
            name = f"{prefix}:other" if index == "other" else f"{prefix}:{values[int(index)]}"
            out[name] = (num, c[total])
    return out


def _transform(raw: np.ndarray, names: list[str]) -> np.ndarray:
    out = raw.copy()
    for j, name in enumerate(names):
        if name in LOG_FEATURES:
            np.log1p(np.maximum(raw[:, j], 0.0), out=out[:, j])
    return out
