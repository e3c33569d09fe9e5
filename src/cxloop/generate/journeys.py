"""Buy-stage sessions: browsing, carts, checkouts, store visits, anonymous visitors.

Web and app events before login carry only the device's anonymous id; the checkout (and an
add-to-cart while logged in) carries both the anonymous id and the shop customer id, which is
what stitches a cookie to a person. Persons without a shop account and the extra visitors
browse anonymously and never identify. How much a person browses, how many pages a session
holds, how many of them are searches and how often the app is used follow their persona.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cxloop.generate.arrays import expand, lognormal_seconds
from cxloop.generate.catalogue import CH
from cxloop.generate.events import EventPart, event_part
from cxloop.generate.people import Persons
from cxloop.generate.personas import persona_values
from cxloop.generate.purchases import Orders
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.strings import digits, join, json_number

SHOP, STORE = 1, 2
MINUTE = 1.0 / 1440.0
VISITOR_VIEWS, VISITOR_SEARCH_SHARE = 3.5, 0.25
"""Extra anonymous visitors have no persona: mean views per session and share of searches."""


def cookie_offsets(persons: Persons) -> np.ndarray:
    """Index of each person's first device in the global list of anonymous ids."""
    return np.cumsum(persons.devices) - persons.devices


def _pick_cookie(rng: np.random.Generator, persons: Persons, person: np.ndarray) -> np.ndarray:
    """One of the person's devices, at random."""
    offsets = cookie_offsets(persons)
    return offsets[person] + (rng.random(len(person)) * persons.devices[person]).astype(np.int64)


def _views(
    rng: np.random.Generator,
    person: np.ndarray,
    cookie: np.ndarray,
    start: np.ndarray,
    gap: np.ndarray,
    count: np.ndarray,
    channel: np.ndarray,
    search_share: np.ndarray,
) -> list[EventPart]:
    """`count` product views and searches per session, `gap` days apart from `start`; each is
    a search with the session's `search_share`."""
    group, position = expand(count)
    t = start[group] + position * gap[group]
    search = rng.random(len(group)) < search_share[group]
    view, find = ~search, search
    results = np.where(rng.random(find.sum()) < 0.08, 0, 1 + rng.poisson(11, find.sum()))
    sku = rng.integers(10_000, 99_999, view.sum())
    return [
        event_part(
            person[group][view],
            t[view],
            "product_view",
            channel[group][view],
            cookie=cookie[group][view],
            duration=lognormal_seconds(rng, 45.0, 0.8, view.sum()),
            properties=join('{"sku": "NW-', digits(sku), '"}'),
        ),
        event_part(
            person[group][find],
            t[find],
            "search",
            channel[group][find],
            cookie=cookie[group][find],
            duration=lognormal_seconds(rng, 15.0, 0.6, find.sum()),
            success=results > 0,
            properties=json_number("results", results),
        ),
    ]


def _page_count(rng: np.random.Generator, s: GeneratorSettings, persona: np.ndarray) -> np.ndarray:
    """Product views and searches in a session: 1 + Poisson(persona's mean - 1)."""
    mean = persona_values(s, "views_per_session")[persona]
    return 1 + rng.poisson(np.maximum(mean - 1.0, 0.0))


def order_sessions(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    orders: Orders,
    order_index: np.ndarray,
) -> list[EventPart]:
    """The session that led to each order: browse, cart and checkout online, or a store visit."""
    parts: list[EventPart] = []
    web = np.flatnonzero(orders.web)
    person, t = orders.person[web], orders.t[web]
    persona = persons.persona[person]
    channel = np.where(orders.app[web], CH["app"], CH["web"]).astype(np.int8)
    cookie = _pick_cookie(rng, persons, person)
    gap = rng.uniform(1.5, 6.0, len(web)) * MINUTE
    count = _page_count(rng, s, persona)
    search_share = persona_values(s, "search_share")[persona]
    parts += _views(rng, person, cookie, t - (count + 1) * gap, gap, count, channel, search_share)
    items = orders.items[web]
    parts.append(
        event_part(person, t - gap, "add_to_cart", channel, cookie=cookie,
                   duration=lognormal_seconds(rng, 8.0, 0.5, len(web)), success=True,
                   properties=json_number("items", items), order=order_index[web])
    )  # fmt: skip
    parts.append(
        event_part(person, t, "checkout", channel, source=SHOP, cookie=cookie,
                   duration=lognormal_seconds(rng, 150.0, 0.5, len(web)), success=True,
                   order=order_index[web])
    )  # fmt: skip
    store = np.flatnonzero(~orders.web)
    person, t = orders.person[store], orders.t[store]
    minutes = rng.uniform(8.0, 50.0, len(store))
    parts.append(
        event_part(person, t - minutes * MINUTE, "store_visit", "store", source=STORE,
                   duration=np.round(minutes * 60.0), success=True, order=order_index[store])
    )  # fmt: skip
    parts.append(
        event_part(person, t, "checkout", "store", source=STORE,
                   duration=lognormal_seconds(rng, 90.0, 0.4, len(store)), success=True,
                   order=order_index[store])
    )  # fmt: skip
    return parts


def browse_sessions(
    rng: np.random.Generator, s: GeneratorSettings, persons: Persons
) -> tuple[list[EventPart], int]:
    """Sessions that lead to no order: window shopping, abandoned carts, failed payments.

    Returns the event blocks and the number of extra anonymous visitors, whose anonymous ids
    follow the persons' devices in the global list.
    """
    end = s.window_days
    devices = np.flatnonzero(persons.devices > 0)
    shop = persons.has_shop[devices]
    mean = persona_values(s, "browse_sessions")[persons.persona[devices]]
    sessions = rng.poisson(np.where(shop, mean, 0.5 * mean))
    owner, _ = expand(sessions)
    person = devices[owner]
    cookie = _pick_cookie(rng, persons, person)
    is_shop = persons.has_shop[person]
    n_visitors = round(s.anonymous_visitor_share * s.people)
    visitor_sessions = 1 + rng.poisson(0.8, n_visitors)
    visitor, _ = expand(visitor_sessions)
    total_cookies = int(persons.devices.sum())
    person = np.concatenate([person, np.full(len(visitor), -1)])
    cookie = np.concatenate([cookie, total_cookies + visitor])
    is_shop = np.concatenate([is_shop, np.zeros(len(visitor), dtype=bool)])

    n = len(person)
    known = person >= 0
    persona = persons.persona[np.where(known, person, 0)]
    start = rng.uniform(0.0, end, n)
    gap = rng.uniform(1.0, 5.0, n) * MINUTE
    count = np.where(known, _page_count(rng, s, persona), 1 + rng.poisson(VISITOR_VIEWS - 1.0, n))
    app = is_shop & (rng.random(n) < persona_values(s, "app_share")[persona])
    channel = np.where(app, CH["app"], CH["web"]).astype(np.int8)
    search_share = np.where(known, persona_values(s, "search_share")[persona], VISITOR_SEARCH_SHARE)
    parts = _views(rng, person, cookie, start, gap, count, channel, search_share)

    cart = rng.random(n) < np.where(is_shop, 0.35, 0.15)
    login = cart & is_shop & (rng.random(n) < 0.5)
    at = start + count * gap
    c = np.flatnonzero(cart)
    parts.append(
        event_part(person[c], at[c], "add_to_cart", channel[c], cookie=cookie[c],
                   source=np.where(login[c], SHOP, -1),
                   duration=lognormal_seconds(rng, 8.0, 0.5, len(c)), success=True,
                   properties=json_number("items", 1 + rng.poisson(0.5, len(c))))
    )  # fmt: skip
    failed = np.flatnonzero(login & (rng.random(n) < 0.2))
    parts.append(
        event_part(person[failed], at[failed] + 2 * gap[failed], "checkout", channel[failed],
                   cookie=cookie[failed], source=SHOP, success=False,
                   duration=lognormal_seconds(rng, 200.0, 0.5, len(failed)),
                   properties=pa.array(['{"payment": "declined"}'] * len(failed), pa.string()))
    )  # fmt: skip
    return parts, n_visitors
