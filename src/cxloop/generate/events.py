"""Event rows in numeric form, built in blocks and turned into text once at the end."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cxloop.generate.catalogue import CH, TP


@dataclass(frozen=True)
class EventPart:
    """A block of events; every field is an array of the block's length.

    `source` is the customer record the event names (-1 none, else a SOURCES code) of `person`;
    `cookie` the anonymous id (-1 none); `success` -1 when unknown; `duration` NaN when
    unknown; `order` an index into the orders (its id goes into `properties` when written).
    """

    person: np.ndarray
    t: np.ndarray
    touchpoint: np.ndarray
    channel: np.ndarray
    source: np.ndarray
    cookie: np.ndarray
    duration: np.ndarray
    success: np.ndarray
    properties: pa.Array
    order: np.ndarray  # the order the event belongs to (-1 none), written into `properties`

    @property
    def count(self) -> int:
        """Number of events in the block."""
        return len(self.person)


def event_part(
    person: np.ndarray,
    t: np.ndarray,
    touchpoint: str,
    channel: str | np.ndarray,
    *,
    source: int | np.ndarray = -1,
    cookie: np.ndarray | None = None,
    duration: np.ndarray | None = None,
    success: bool | np.ndarray | None = None,
    properties: pa.Array | None = None,
    order: np.ndarray | None = None,
) -> EventPart:
    """One block of events at one touchpoint; scalars are repeated for every row."""
    n = len(person)

    def full(value: object, dtype: type) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()

    ch = full(CH[channel], np.int8) if isinstance(channel, str) else channel.astype(np.int8)
    if success is None:
        ok = full(-1, np.int8)
    else:
        ok = full(success, np.int8) if isinstance(success, bool) else success.astype(np.int8)
    return EventPart(
        person=np.asarray(person, dtype=np.int64),
        t=np.asarray(t, dtype=np.float64),
        touchpoint=full(TP[touchpoint], np.int8),
        channel=ch,
        source=full(source, np.int8),
        cookie=full(-1, np.int64) if cookie is None else cookie.astype(np.int64),
        duration=full(np.nan, np.float64) if duration is None else duration.astype(np.float64),
        success=ok,
        properties=pa.nulls(n, pa.string()) if properties is None else properties,
        order=full(-1, np.int64) if order is None else order.astype(np.int64),
    )
