"""The persons of the simulated world: who they are, where they live, which systems know them.

A person is the truth behind the records; the records (see `records.py`) are what the CRM, the
online shop and the store loyalty system export. Identifiers (e-mail number, phone number) are
drawn without repetition, so two persons never share one; only the planted placeholders do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from cxloop.generate import banks
from cxloop.generate.personas import Traits, persona_values
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.strings import unique_ints

CITIES = banks.US_CITIES + banks.CA_CITIES + banks.GB_CITIES
CITY_COUNTRY = np.array(
    [0] * len(banks.US_CITIES) + [1] * len(banks.CA_CITIES) + [2] * len(banks.GB_CITIES),
    dtype=np.int8,
)
PHONE_SPACE = 8_000_000
"""Distinct local numbers: exchange 200-999 times line 0000-9999 (GB: 20 7xxx xxxx)."""


@dataclass(frozen=True)
class Persons:
    """One entry per person, all numpy arrays of length `count` (index = person number)."""

    country: np.ndarray  # int8 index into COUNTRIES
    city: np.ndarray  # index into CITIES
    area: np.ndarray  # index into the city's area codes
    first: np.ndarray  # index into FIRST_NAMES
    last: np.ndarray  # index into LAST_NAMES
    birth_day: np.ndarray  # days since 1970-01-01
    street_no: np.ndarray
    street: np.ndarray
    street_kind: np.ndarray
    postcode_no: np.ndarray
    email_number: np.ndarray  # distinct per person
    email_style: np.ndarray
    email_domain: np.ndarray
    phone_number: np.ndarray  # distinct per person, in [0, PHONE_SPACE)
    has_crm: np.ndarray
    has_shop: np.ndarray
    has_store: np.ndarray
    buyer: np.ndarray
    unlinkable: np.ndarray  # planted: shop account with another e-mail and no phone
    reserved: np.ndarray  # held back for phase two (referred friends and fillers)
    devices: np.ndarray  # cookies / app installs that browse
    persona: np.ndarray  # int8 index into settings.personas
    person_effect: np.ndarray  # latent satisfaction offset (NPS points), persona offset included
    segment: np.ndarray
    plan: np.ndarray

    @property
    def count(self) -> int:
        """Number of persons."""
        return len(self.country)


def draw_persons(rng: np.random.Generator, settings: GeneratorSettings, traits: Traits) -> Persons:
    """Draw every person, their systems and their latent traits.

    Whether a person is known to the shop or the stores at all, and whether they buy, does not
    depend on the persona (so the persona mix of buyers is the planted one); which record they
    hold does: a store regular carries a loyalty card, an app user has a shop account. The
    reserved persons (see `personas.reserved_mask`) hold an online account only and are
    acquired in phase two, by a promoter's referral where one converts.
    """
    n = settings.people
    country = rng.choice(3, size=n, p=np.asarray(settings.country_shares)).astype(np.int8)
    city = np.empty(n, dtype=np.int64)
    for code in range(3):
        here = np.flatnonzero(country == code)
        choices = np.flatnonzero(code == CITY_COUNTRY)
        city[here] = rng.choice(choices, size=len(here))
    n_areas = np.array([len(c[2]) for c in CITIES])
    area = (rng.random(n) * n_areas[city]).astype(np.int64)

    has_crm = rng.random(n) < settings.crm_share
    reached = rng.random(n) < settings.channel_record_share
    mix = np.cumsum([p.record_mix for p in settings.personas], axis=1)[traits.persona]
    kind = (rng.random(n)[:, None] >= mix[:, :-1]).sum(axis=1)  # 0 shop, 1 both, 2 card
    has_shop = reached & (kind <= 1)
    has_store = reached & (kind >= 1)
    reserved = traits.reserved
    has_shop[reserved] = True
    has_store[reserved] = False
    has_crm |= ~(has_shop | has_store)  # everyone is known to at least one system
    buyer = (has_shop | has_store) & (rng.random(n) < settings.buyer_share)
    buyer |= reserved

    n_records = has_crm.astype(int) + has_shop + has_store
    multi = n_records > 1
    shop_multi = multi & has_shop
    chance = settings.unlinkable_share * multi.sum() / max(shop_multi.sum(), 1)
    unlinkable = shop_multi & (rng.random(n) < chance) & ~reserved

    devices = np.where(has_shop, 1 + rng.binomial(2, settings.cookies_per_account / 2, n), 0)
    browses_anonymously = ~has_shop & (rng.random(n) < 0.3)
    devices = np.where(browses_anonymously, 1, devices)

    age_days = rng.uniform(18 * 365.25, 85 * 365.25, n)
    window_start_day = (settings.window_start - date(1970, 1, 1)).days
    return Persons(
        country=country,
        city=city,
        area=area,
        first=rng.integers(0, len(banks.FIRST_NAMES), n),
        last=rng.integers(0, len(banks.LAST_NAMES), n),
        birth_day=(window_start_day - age_days).astype(np.int64),
        street_no=rng.integers(1, 9900, n),
        street=rng.integers(0, len(banks.STREETS), n),
        street_kind=rng.integers(0, len(banks.STREET_KINDS), n),
        postcode_no=rng.integers(0, 100_000, n),
        email_number=unique_ints(rng, n, email_space(n)),
        email_style=rng.integers(0, 4, n).astype(np.int8),
        email_domain=rng.integers(0, len(banks.EMAIL_DOMAINS), n),
        phone_number=unique_ints(rng, n, PHONE_SPACE),
        has_crm=has_crm,
        has_shop=has_shop,
        has_store=has_store,
        buyer=buyer,
        unlinkable=unlinkable,
        reserved=reserved,
        devices=devices.astype(np.int64),
        persona=traits.persona,
        person_effect=persona_values(settings, "satisfaction_offset")[traits.persona]
        + rng.normal(0.0, settings.person_effect_sd, n),
        segment=rng.integers(0, len(banks.SEGMENTS), n),
        plan=rng.choice(3, size=n, p=[0.6, 0.3, 0.1]),
    )


def email_space(people: int) -> int:
    """Size S of the e-mail number ranges: own addresses use [0, S), second ones [S, 2S), ..."""
    return max(10 * people, 1000)
