"""The simulation, start to end: persons, purchases, experiences, voice, advocacy.

Every person's persona, acquisition day and BTYD rate and spend scale are drawn first
(`personas.py`), because the persona decides which records a person holds. The simulation
then runs in two phases because referrals need promoters: phase one simulates the organic
customers up to their relational NPS answers; promoters refer friends, and the converted
friends (held back from the population) are acquired in phase two at their referral's date.
Each stage draws from its own random stream (spawned from the seed), so a change in one stage
does not shift the numbers of the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cxloop.generate.advocacy import Referrals, refer_friends, referral_events, review_events
from cxloop.generate.arrays import stack
from cxloop.generate.events import EventPart
from cxloop.generate.experiences import own_stage
from cxloop.generate.feedback import (
    COMMENT,
    NPS,
    Answers,
    Experience,
    first_order_times,
    relationship_answers,
    transactional_answers,
)
from cxloop.generate.journeys import browse_sessions, order_sessions
from cxloop.generate.people import Persons, draw_persons
from cxloop.generate.personas import Traits, draw_traits, persona_values
from cxloop.generate.purchases import BuyerTruth, Orders, simulate_purchases, web_order_share
from cxloop.generate.records import (
    Customers,
    IdentityPlan,
    build_customers,
    plan_identifiers,
    record_created,
)
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.social import Mentions, share_events, simulate_mentions
from cxloop.generate.value import (
    ValueScale,
    ValueTruth,
    lounge_visits,
    raw_value,
    with_value_effect,
)

Progress = Callable[[str, float], None]
STREAMS = (
    "people", "identifiers", "purchases", "experiences", "voice", "referrals", "social",
    "sessions", "browsing", "records", "advocacy", "export", "lounge", "personas",
    "content",
)  # fmt: skip
"""One random stream per stage; a new stage appends its name (the children of the seed are
numbered, so the streams before it keep their numbers and the data they drew)."""


@dataclass(frozen=True)
class World:
    """Everything simulated, in numeric form, before it is written as text."""

    settings: GeneratorSettings
    persons: Persons
    plan: IdentityPlan
    orders: Orders
    buyers: BuyerTruth
    events: EventPart
    answers: Answers
    mentions: Mentions
    referrals: Referrals
    customers: Customers
    visitors: int
    export_rng: np.random.Generator
    value: ValueTruth
    traits: Traits


def simulate_world(s: GeneratorSettings, progress: Progress) -> World:
    """Run the whole simulation for settings `s` (see the module docstring)."""
    seeds = np.random.SeedSequence(s.seed).spawn(len(STREAMS))
    rng = {name: np.random.default_rng(seq) for name, seq in zip(STREAMS, seeds, strict=True)}
    n = s.people
    traits = draw_traits(rng["personas"], s)
    persons = draw_persons(rng["people"], s, traits)
    plan = plan_identifiers(rng["identifiers"], s, persons)
    has = np.stack([persons.has_crm, persons.has_shop, persons.has_store])
    email_code = plan.reference_email(has)
    online = persona_values(s, "online_share")[persons.persona]
    web_share = web_order_share(online, persons.has_shop, persons.has_store)
    app_share = persona_values(s, "app_share")[persons.persona]
    progress("persons", 0.1)

    def purchases(who: np.ndarray, acquired: np.ndarray) -> tuple[Orders, BuyerTruth]:
        return simulate_purchases(
            rng["purchases"], s, who, acquired, web_share[who],
            lam=traits.lam[who], nu=traits.nu[who], app_share=app_share[who],
        )  # fmt: skip

    organic = np.flatnonzero(persons.buyer & ~persons.reserved)
    orders1, buyers1 = purchases(organic, traits.acquired[organic])
    own1 = own_stage(rng["experiences"], s, persons, orders1, np.arange(orders1.count))
    scale = ValueScale.of(raw_value(orders1, n)[organic])
    value_z = scale.standard(raw_value(orders1, n))
    persons = with_value_effect(s, persons, organic, value_z[organic])
    experience = Experience.of(orders1.count, own1.deliveries, own1.contacts, own1.onboardings)
    first_t = first_order_times(orders1, n)
    nps1 = relationship_answers(
        rng["voice"], s, persons, email_code, organic, first_t, experience,
        metric=NPS, share=s.relational_nps_share,
    )  # fmt: skip
    pool = np.flatnonzero(persons.reserved)
    referrals1, referred_at = refer_friends(rng["referrals"], s, persons, nps1, pool)
    progress("purchases", 0.3)

    acquired2 = np.where(np.isnan(referred_at), traits.acquired[pool], referred_at)
    orders2, buyers2 = purchases(pool, acquired2)
    own2 = own_stage(
        rng["experiences"], s, persons, orders2, orders1.count + np.arange(orders2.count)
    )
    value_z[pool] = scale.standard(raw_value(orders2, n)[pool])
    persons = with_value_effect(s, persons, pool, value_z[pool])
    orders = stack([orders1, orders2])
    deliveries = stack([own1.deliveries, own2.deliveries])
    contacts = stack([own1.contacts, own2.contacts])
    onboardings = stack([own1.onboardings, own2.onboardings])
    settled_at = np.concatenate([own1.settled_at, own2.settled_at])
    experience = Experience.of(orders.count, deliveries, contacts, onboardings)
    first_t = first_order_times(orders, n)
    nps2 = relationship_answers(
        rng["voice"], s, persons, email_code, pool, first_t, experience,
        metric=NPS, share=s.relational_nps_share,
    )  # fmt: skip
    referrals2, _ = refer_friends(rng["referrals"], s, persons, nps2, pool[:0])
    all_buyers = np.flatnonzero(~np.isnan(first_t))
    comments = relationship_answers(
        rng["voice"], s, persons, email_code, all_buyers, first_t, experience,
        metric=COMMENT, share=s.comment_share,
    )  # fmt: skip
    transactional = transactional_answers(
        rng["voice"], s, persons, email_code, orders, settled_at, deliveries, contacts,
        experience,
    )  # fmt: skip
    answers = stack([nps1, nps2, comments, *transactional])
    referrals = stack([referrals1, referrals2])
    progress("experiences", 0.5)

    mentions = simulate_mentions(rng["social"], s, persons, first_t, experience)
    browse, visitors = browse_sessions(rng["browsing"], s, persons)
    lounge, value = lounge_visits(
        rng["lounge"], s, persons, all_buyers, value_z[all_buyers], first_t, scale
    )
    parts = (
        order_sessions(rng["sessions"], s, persons, orders, np.arange(orders.count))
        + own1.events
        + own2.events
        + browse
        + referral_events(rng["advocacy"], referrals)
        + review_events(rng["advocacy"], answers)
        + share_events(rng["advocacy"], mentions)
        + [lounge]
    )
    events = stack(parts)
    buyers = stack([buyers1, buyers2])
    acquired_at = np.full(n, np.nan)
    acquired_at[buyers.person] = buyers.acquired
    created = record_created(
        rng["records"], s, persons, acquired_at,
        _first_time(orders, orders.web, n), _first_time(orders, ~orders.web, n),
    )  # fmt: skip
    customers = build_customers(rng["records"], s, persons, plan, created)
    progress("simulation", 0.6)
    return World(
        settings=s,
        persons=persons,
        plan=plan,
        orders=orders,
        buyers=buyers,
        events=events,
        answers=answers,
        mentions=mentions,
        referrals=referrals,
        customers=customers,
        visitors=visitors,
        export_rng=rng["export"],
        value=value,
        traits=traits,
    )


def _first_time(orders: Orders, mask: np.ndarray, people: int) -> np.ndarray:
    """Per person, the day of the first order among `mask` (NaN when there is none)."""
    first = np.full(people, np.inf)
    np.minimum.at(first, orders.person[mask], orders.t[mask])
    return np.where(np.isinf(first), np.nan, first)
