"""Small vectorised building blocks shared by the simulation modules."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

T = TypeVar("T")


def stack(parts: list[T]) -> T:
    """Concatenate dataclasses of equally long arrays, field by field."""
    first = parts[0]
    assert is_dataclass(first)
    values: dict[str, Any] = {}
    for f in fields(first):
        items = [getattr(p, f.name) for p in parts]
        if isinstance(items[0], pa.Array | pa.ChunkedArray):
            values[f.name] = pa.concat_arrays(
                [i.combine_chunks() if isinstance(i, pa.ChunkedArray) else i for i in items]
            )
        else:
            values[f.name] = np.concatenate(items)
    return type(first)(**values)


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of sizes `counts`: the group of every member and its position in the group.

    The standard trick to turn "k events per order" into flat arrays without a Python loop.
    """
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(len(group)) - starts[group]
    return group, position


class PersonTimeline:
    """Sorted (person, time) facts, to count a person's facts inside a time window quickly."""

    _SPAN = 1.0e4  # days per person slot: larger than any simulated time range

    def __init__(self, person: np.ndarray, t: np.ndarray) -> None:
        """Index the facts; `t` in days since the window start (may be slightly negative)."""
        self._keys = np.sort(person.astype(np.float64) * self._SPAN + (t + 1000.0))

    def count(self, person: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Facts of `person` with start <= t < stop, for every row."""
        base = person.astype(np.float64) * self._SPAN + 1000.0
        low = np.searchsorted(self._keys, base + start, side="left")
        high = np.searchsorted(self._keys, base + stop, side="left")
        return high - low


def lognormal_seconds(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    """Durations in whole seconds with the given median (right-skewed, as dwell times are)."""
    return np.maximum(1.0, np.round(rng.lognormal(np.log(median), sigma, n)))
