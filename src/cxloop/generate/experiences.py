"""Own-stage experiences after each order: delivery, onboarding, support, returns.

Besides the event rows, the facts that drive the planted effects (which delivery was late,
which contact was left unresolved, whose onboarding worked) are returned in numeric form, so
the survey answers can depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxloop.generate.arrays import lognormal_seconds
from cxloop.generate.catalogue import CH, TP
from cxloop.generate.events import EventPart, event_part
from cxloop.generate.people import Persons
from cxloop.generate.purchases import Orders
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.strings import choose, json_number

SUPPORT_REASONS = ("late_delivery", "product_question", "billing", "damaged_item", "account")
RETURN_REASONS = ("arrived_late", "wrong_size", "damaged", "not_as_described", "changed_mind")


@dataclass(frozen=True)
class Deliveries:
    """Delivered online orders (cancelled ones never ship)."""

    order: np.ndarray
    person: np.ndarray
    t: np.ndarray
    late: np.ndarray


@dataclass(frozen=True)
class Contacts:
    """Support calls, e-mails and chats about an order."""

    order: np.ndarray
    person: np.ndarray
    t: np.ndarray
    resolved: np.ndarray
    source: np.ndarray
    touchpoint: np.ndarray
    channel: np.ndarray


@dataclass(frozen=True)
class Onboardings:
    """The welcome series after a first order."""

    order: np.ndarray
    person: np.ndarray
    t: np.ndarray
    success: np.ndarray


@dataclass(frozen=True)
class OwnStage:
    """Everything that happened after the sale, per order batch."""

    events: list[EventPart]
    deliveries: Deliveries
    contacts: Contacts
    onboardings: Onboardings
    settled_at: np.ndarray  # per order: delivery day online, purchase day in a store


def own_stage(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    orders: Orders,
    order_index: np.ndarray,
) -> OwnStage:
    """Simulate deliveries, onboarding, support contacts and returns of `orders`."""
    n = orders.count
    source = np.where(orders.web, 1, 2).astype(np.int8)
    shipped = orders.web & ~orders.cancelled
    delivered_at = orders.t + rng.uniform(1.5, 4.0, n) + orders.late_days
    settled_at = np.where(shipped, delivered_at, orders.t)
    events: list[EventPart] = []

    d = np.flatnonzero(shipped)
    late = orders.late_days[d] > 0
    events.append(
        event_part(orders.person[d], delivered_at[d], "delivery", "partner", source=1,
                   success=~late, properties=json_number("late_days", orders.late_days[d]),
                   order=order_index[d])
    )  # fmt: skip
    deliveries = Deliveries(order_index[d], orders.person[d], delivered_at[d], late)

    f = np.flatnonzero(orders.first & ~orders.cancelled)
    onboarding_t = settled_at[f] + rng.uniform(0.5, 3.0, len(f))
    success = rng.random(len(f)) < s.onboarding_success_share
    channel = np.where(orders.app[f], CH["app"], CH["email"])
    events.append(
        event_part(orders.person[f], onboarding_t, "onboarding", channel, source=source[f],
                   duration=lognormal_seconds(rng, 240.0, 0.7, len(f)), success=success,
                   order=order_index[f])
    )  # fmt: skip
    onboardings = Onboardings(order_index[f], orders.person[f], onboarding_t, success)

    contacts, contact_events = _support(rng, s, persons, orders, order_index, settled_at)
    events += contact_events

    r = np.flatnonzero(orders.returned)
    reason = np.where(
        (orders.late_days[r] > 0) & (rng.random(len(r)) < 0.5), 0, rng.integers(1, 5, len(r))
    )
    events.append(
        event_part(orders.person[r], settled_at[r] + rng.uniform(3.0, 25.0, len(r)), "return",
                   np.where(orders.web[r], CH["web"], CH["store"]), source=source[r],
                   duration=lognormal_seconds(rng, 300.0, 0.6, len(r)), success=True,
                   properties=choose(reason, *(f'{{"reason": "{x}"}}' for x in RETURN_REASONS)),
                   order=order_index[r])
    )  # fmt: skip
    return OwnStage(events, deliveries, contacts, onboardings, settled_at)


def _support(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    orders: Orders,
    order_index: np.ndarray,
    settled_at: np.ndarray,
) -> tuple[Contacts, list[EventPart]]:
    """Support contacts: more likely after a late delivery; some are left unresolved."""
    late = orders.late_days > 0
    share = np.where(late, s.support_share_after_late, s.support_share)
    c = np.flatnonzero(~orders.cancelled & (rng.random(orders.count) < share))
    person = orders.person[c]
    late_c = late[c]
    waiting = orders.t[c] + 4.0 + rng.uniform(0.0, 1.0, len(c)) * orders.late_days[c]
    t = np.where(late_c, waiting, settled_at[c] + rng.uniform(0.1, 6.0, len(c)))
    chat = rng.random(len(c)) < 0.35
    touchpoint = np.where(chat, TP["chat"], TP["support_contact"]).astype(np.int8)
    channel = np.where(
        chat, CH["chat"], np.where(rng.random(len(c)) < 0.65, CH["call_center"], CH["email"])
    ).astype(np.int8)
    source = np.where(persons.has_crm[person], 0, np.where(orders.web[c], 1, 2)).astype(np.int8)
    resolved = rng.random(len(c)) < s.support_resolved_share
    duration = np.where(
        resolved,
        lognormal_seconds(rng, 420.0, 0.6, len(c)),
        lognormal_seconds(rng, 900.0, 0.6, len(c)),
    )
    reason = np.where(late_c, 0, rng.integers(1, len(SUPPORT_REASONS), len(c)))
    properties = choose(
        reason * 2 + resolved,
        *(
            f'{{"reason": "{why}", "resolved": {"true" if ok else "false"}}}'
            for why in SUPPORT_REASONS
            for ok in (False, True)
        ),
    )
    parts = []
    for code, name in ((TP["support_contact"], "support_contact"), (TP["chat"], "chat")):
        m = touchpoint == code
        parts.append(
            event_part(person[m], t[m], name, channel[m], source=source[m],
                       duration=duration[m], success=resolved[m],
                       properties=properties.filter(m), order=order_index[c][m])
        )  # fmt: skip
    contacts = Contacts(order_index[c], person, t, resolved, source, touchpoint, channel)
    return contacts, parts
