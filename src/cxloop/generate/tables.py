"""Turn the simulated world into the contract's tables (text ids, ISO timestamps, JSON).

Rows of every kind are ordered by time and numbered in that order, as exports usually are.
Timestamps are UTC with `Z`, except where a source system writes otherwise: store orders carry
the store's offset (`-05:00`), survey answers `+00:00`, and referrals have naive timestamps
(which the contract reads as UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.generate.advocacy import referral_code
from cxloop.generate.catalogue import CHANNELS, STAGES, TOUCHPOINTS, touchpoints_table
from cxloop.generate.dirty import duplicate_rows
from cxloop.generate.feedback import METRICS, SURVEY
from cxloop.generate.records import email_text
from cxloop.generate.settings import SOURCES
from cxloop.generate.social import KINDS, PLATFORMS
from cxloop.generate.strings import bank, digits, ids, join, masked, timestamps, unique_ints
from cxloop.generate.world import World

_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Export:
    """The tables of every kind, and what the truth and the dirt need to know about rows."""

    tables: dict[str, pa.Table]
    event_person: np.ndarray
    event_cookie: np.ndarray
    event_source: np.ndarray
    anonymous_ids: pa.Array  # per anonymous id index
    referral_orders: np.ndarray  # rows of orders that converted a referral
    cookies_of_persons: int  # anonymous ids below this index belong to persons
    event_twin: np.ndarray  # event rows exported twice (both copies)

    @property
    def duplicate_events(self) -> int:
        """Event rows that repeat an earlier row."""
        return int(self.event_twin.sum()) // 2


def export_tables(world: World) -> Export:
    """Build every kind's table from the world."""
    orders = world.orders
    order_rank = np.empty(orders.count, dtype=np.int64)
    order_rank[np.argsort(orders.t, kind="stable")] = np.arange(orders.count)
    order_ids = ids("O", 100_001 + order_rank, 9)
    n_cookies = int(world.persons.devices.sum()) + world.visitors
    anonymous_ids = join("anon-", hex_text(unique_ints(world.export_rng, n_cookies, 2**48), 12))
    tables: dict[str, pa.Table] = {"customers": world.customers.table}
    events, person, cookie, source, twin = _events(world, order_ids, anonymous_ids)
    tables["events"] = events
    tables["orders"], referral_rows = _orders(world, order_ids, order_rank)
    tables["feedback"] = _feedback(world, order_ids)
    tables["mentions"] = _mentions(world)
    tables["referrals"] = _referrals(world, order_ids)
    tables["touchpoints"] = touchpoints_table()
    return Export(
        tables, person, cookie, source, anonymous_ids, referral_rows,
        int(world.persons.devices.sum()), twin,
    )  # fmt: skip


def hex_text(values: np.ndarray, width: int) -> pa.Array:
    """Integers as lower-case hexadecimal text of fixed width (vectorised over digits)."""
    v = np.asarray(values, dtype=np.uint64)
    shifts = (np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4))[None, :]
    nibbles = ((v[:, None] >> shifts) & np.uint64(15)).astype(np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    raw = np.ascontiguousarray(chars).view(f"S{width}").ravel()
    return pa.array(raw, pa.binary(width)).cast(pa.string())


def _stamp(world: World, t: np.ndarray, suffix: str = "Z", shift_hours: int = 0) -> pa.Array:
    seconds = world.settings.epoch_s + np.round(t * _SECONDS_PER_DAY).astype(np.int64)
    return timestamps(seconds + shift_hours * 3600, suffix)


def _customer_ids(world: World, source: np.ndarray, person: np.ndarray) -> pa.Array:
    """The customer id of each (source, person) pair; null where source < 0."""
    named = (source >= 0) & (person >= 0)
    row = world.customers.index_of[np.where(named, source, 0), np.where(named, person, 0)]
    if np.any(named & (row < 0)):
        raise AssertionError("a reference names a record that does not exist")
    return world.customers.customer_id.take(pa.array(np.where(named, row, 0), mask=~named))


def _sources(source: np.ndarray, names: tuple[str, ...] = SOURCES) -> pa.Array:
    return bank(names, np.maximum(source, 0)).take(
        pa.array(np.arange(len(source)), mask=source < 0)
    )


def _events(
    world: World, order_ids: pa.Array, anonymous_ids: pa.Array
) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events in time order, a few exported twice (same id, same content, adjacent)."""
    s = world.settings
    e = world.events
    keep = np.flatnonzero((e.t >= 0.0) & (e.t < s.window_days))
    keep = keep[np.argsort(e.t[keep], kind="stable")]
    rng = world.export_rng
    number = 1 + np.arange(len(keep))
    show_stage = rng.random(len(keep)) < 0.5
    take, twin = duplicate_rows(rng, len(keep), s.duplicate_event_share)
    keep, number, show_stage = keep[take], number[take], show_stage[take]
    person, cookie, source = e.person[keep], e.cookie[keep], e.source[keep]
    order = e.order[keep]
    props = e.properties.take(pa.array(keep))
    linked = order >= 0
    order_id = order_ids.take(pa.array(np.where(linked, order, 0)))
    rest = pc.if_else(
        pc.is_null(props), "}", join(", ", pc.utf8_slice_codeunits(props, 1, 1 << 20))
    )
    props = pc.if_else(pa.array(linked), join('{"order_id": "', order_id, '"', rest), props)
    duration = e.duration[keep]
    success = e.success[keep]
    table = pa.table(
        {
            "event_id": ids("E", number, 10),
            "customer_id": _customer_ids(world, source, person),
            "source": _sources(np.where(person >= 0, source, -1)),
            "anonymous_id": anonymous_ids.take(pa.array(np.maximum(cookie, 0), mask=cookie < 0)),
            "occurred_at": _stamp(world, e.t[keep]),
            "touchpoint": bank([tp[0] for tp in TOUCHPOINTS], e.touchpoint[keep]),
            "channel": bank(CHANNELS, e.channel[keep]),
            "stage": masked(bank(STAGES, e.touchpoint[keep]), show_stage),
            "duration_s": pa.array(
                np.nan_to_num(duration).astype(np.int64), mask=np.isnan(duration)
            ),
            "success": pa.array(success == 1, mask=success < 0),
            "properties": props,
        }
    )
    return table, person, cookie, source, twin


def _orders(
    world: World, order_ids: pa.Array, order_rank: np.ndarray
) -> tuple[pa.Table, np.ndarray]:
    o = world.orders
    by_time = np.argsort(order_rank)
    source = np.where(o.web, 1, 2)[by_time]
    person = o.person[by_time]
    cents = np.round(o.amount[by_time] * 100).astype(np.int64)
    status = np.where(o.cancelled, 1, np.where(o.returned, 2, 0))[by_time]
    channel = np.where(o.web, np.where(o.app, 1, 0), 2)[by_time]
    referrer_of = np.full(world.persons.count, -1, dtype=np.int64)
    converted = world.referrals.referee >= 0
    referrer_of[world.referrals.referee[converted]] = world.referrals.referrer[converted]
    referred = o.first[by_time] & (referrer_of[person] >= 0)
    utc = _stamp(world, o.t[by_time])
    local = _stamp(world, o.t[by_time], "-05:00", -5)
    table = pa.table(
        {
            "order_id": order_ids.take(pa.array(by_time)),
            "customer_id": _customer_ids(world, source, person),
            "source": bank(SOURCES, source),
            "ordered_at": pc.if_else(pa.array(source == 2), local, utc),
            "amount": join(digits(cents // 100), ".", digits(cents % 100, 2)),
            "currency": pa.array(["USD"] * o.count, pa.string()),
            "status": bank(("completed", "cancelled", "returned"), status),
            "channel": bank(("web", "app", "store"), channel),
            "items": pa.array(o.items[by_time].astype(np.int64)),
            "referral_code": masked(referral_code(np.maximum(referrer_of[person], 0)), referred),
        }
    )
    return table, np.flatnonzero(referred)


def _feedback(world: World, order_ids: pa.Array) -> pa.Table:
    a = world.answers
    by_time = np.argsort(a.t, kind="stable")
    person, source = a.person[by_time], a.source[by_time]
    n = len(by_time)
    survey = source == SURVEY
    variant = np.where(world.export_rng.random(n) < 0.15, 1, 0)
    email = email_text(
        world.settings, world.persons, person, np.maximum(a.email_code[by_time], 1), variant
    )
    order = a.order[by_time]
    touchpoint = a.touchpoint[by_time]
    score = a.score[by_time]
    return pa.table(
        {
            "response_id": ids("R", 1 + np.arange(n), 9),
            "customer_id": _customer_ids(world, np.where(survey, -1, source), person),
            "source": _sources(source, (*SOURCES, "survey")),
            "email": masked(email, survey),
            "submitted_at": _stamp(world, a.t[by_time], "+00:00"),
            "metric": bank(METRICS, a.metric[by_time]),
            "score": pa.array(np.nan_to_num(score).astype(np.int64), mask=np.isnan(score)),
            "touchpoint": bank([tp[0] for tp in TOUCHPOINTS], np.maximum(touchpoint, 0)).take(
                pa.array(np.arange(n), mask=touchpoint < 0)
            ),
            "order_id": order_ids.take(pa.array(np.maximum(order, 0), mask=order < 0)),
            "channel": bank(CHANNELS, a.channel[by_time]),
            "text": a.text.take(pa.array(by_time)),
            "public": pa.array(a.public[by_time]),
        }
    )


def _mentions(world: World) -> pa.Table:
    m = world.mentions
    by_time = np.argsort(m.t, kind="stable")
    person = m.person[by_time]
    take = pa.array(by_time)
    return pa.table(
        {
            "mention_id": ids("M", 1 + np.arange(len(by_time)), 8),
            "posted_at": _stamp(world, m.t[by_time]),
            "platform": bank(PLATFORMS, m.platform[by_time]),
            "author": m.author.take(take),
            "customer_id": _customer_ids(world, np.where(person >= 0, 0, -1), person),
            "brand": bank(world.settings.brands, m.brand[by_time]),
            "kind": bank(KINDS, m.kind[by_time]),
            "text": m.text.take(take),
            "reach": pa.array(m.reach[by_time]),
            "url": m.url.take(take),
        }
    )


def _referrals(world: World, order_ids: pa.Array) -> pa.Table:
    r = world.referrals
    s = world.settings
    by_time = np.argsort(r.t, kind="stable")
    referrer, referee = r.referrer[by_time], r.referee[by_time]
    n = len(by_time)
    converted = referee >= 0
    friends = world.export_rng.permutation(world.persons.count)[:n]
    email = email_text(
        s, world.persons, np.where(converted, referee, friends),
        np.where(converted, 1, 3), np.zeros(n, dtype=np.int8),
    )  # fmt: skip
    first_order = np.full(world.persons.count, -1, dtype=np.int64)
    o = world.orders
    first_order[o.person[o.first]] = np.flatnonzero(o.first)
    converted_order = first_order[np.where(converted, referee, 0)]
    return pa.table(
        {
            "referral_id": ids("RF", 1 + np.arange(n), 7),
            "referrer_id": _customer_ids(world, np.ones(n, dtype=np.int8), referrer),
            "source": pa.array(["shop"] * n, pa.string()),
            "code": referral_code(referrer),
            "referee_email": email,
            "referee_id": _customer_ids(world, np.where(converted, 1, -1), referee),
            "created_at": _stamp(world, r.t[by_time], ""),
            "converted_order_id": order_ids.take(
                pa.array(np.maximum(converted_order, 0), mask=~converted)
            ),
        }
    )
