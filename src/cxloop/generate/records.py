"""Customer records as the CRM, the online shop and the store loyalty system export them.

The same person looks different in each system, as in real exports: the shop e-mail may differ
in case and surrounding spaces from the CRM one, the loyalty card often carries only a phone, in
any of the formats people and tills type, and a few records carry placeholders or no identifier.
Which identifiers each record holds is drawn first (`plan_identifiers`), so later stages know
which e-mail a survey can use; the text is written last (`build_customers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.generate import banks
from cxloop.generate.people import CITIES, Persons, email_space
from cxloop.generate.settings import COUNTRIES, SOURCES, GeneratorSettings
from cxloop.generate.strings import bank, choose, dates, digits, ids, join, masked, timestamps

PLACEHOLDER_PHONE = "000-000-0000"
PLACEHOLDER_EMAIL = "noreply@northwind.example"
ID_PREFIX = {"crm": "C", "shop": "S", "store": "T"}
_AREA_CODES = [code for city in CITIES for code in city[2]]
_AREA_OFFSET = np.cumsum([0] + [len(city[2]) for city in CITIES])[:-1]
_LETTERS = tuple("ABDEFGHJLNPQRSTUWXYZ")


@dataclass(frozen=True)
class IdentityPlan:
    """Which identifiers each record holds; arrays indexed by person, per source.

    E-mail codes: 0 none, 1 the person's own address, 2 a second address (planted unlinkable
    shop accounts). Placeholders are not identifiers and are flagged separately.
    """

    email: np.ndarray  # (3, people) int8
    phone: np.ndarray  # (3, people) bool, a real phone number
    phone_format: np.ndarray  # (3, people) int8, 0-5 (see `phone_text`)
    email_variant: np.ndarray  # people, 0 lower, 1 capitalised, 2 capitalised and padded
    has_address: np.ndarray  # (3, people) bool
    placeholder_phone: np.ndarray  # people, store record
    placeholder_email: np.ndarray  # people, store record

    def reference_email(self, has: np.ndarray) -> np.ndarray:
        """Per person, the e-mail code a survey tool may use (one that some record carries)."""
        own = ((self.email == 1) & has).any(axis=0)
        second = (self.email[1] == 2) & has[1]
        return np.where(own, 1, np.where(second, 2, 0)).astype(np.int8)


def plan_identifiers(
    rng: np.random.Generator, s: GeneratorSettings, persons: Persons
) -> IdentityPlan:
    """Draw which record carries which identifier (see the module docstring)."""
    n = persons.count
    has_crm, has_shop, has_store = persons.has_crm, persons.has_shop, persons.has_store
    email = np.zeros((3, n), dtype=np.int8)
    phone = np.zeros((3, n), dtype=bool)
    email[0] = rng.random(n) < 0.92
    phone[0] = rng.random(n) < 0.55
    email[1] = np.where(persons.unlinkable, 2, 1)
    phone[1] = (rng.random(n) < 0.35) & ~persons.unlinkable
    email[2] = rng.random(n) < 0.25
    phone[2] = rng.random(n) < 0.85
    u = rng.random(n)
    placeholder_phone = u < s.placeholder_phone_share
    placeholder_email = (u >= s.placeholder_phone_share) & (
        u < s.placeholder_phone_share + s.placeholder_email_share
    )
    bare = (u >= 0.98) & (rng.random(n) < 0.5)  # a loyalty card with no identifier at all

    # A person's records link up (the planted unlinkable shops, placeholder and bare cards
    # aside): a CRM record without e-mail shares the phone with the shop, and a loyalty card
    # of someone with another record carries the phone that record also has.
    crm_shop = has_crm & has_shop & ~persons.unlinkable & (email[0] == 0)
    phone[0] |= crm_shop
    phone[1] |= crm_shop
    card_links = has_store & (has_crm | (has_shop & ~persons.unlinkable))
    phone[2] |= card_links
    phone[0] |= card_links & has_crm
    phone[1] |= card_links & ~has_crm
    email[2] = np.where(placeholder_phone | placeholder_email | bare, 0, email[2])
    phone[2] &= ~(placeholder_phone | bare)
    phone[2] &= ~placeholder_email | (rng.random(n) < 0.5)
    phone_format = np.stack(
        [
            rng.choice([0, 1], size=n),
            rng.choice([0, 5], size=n),
            rng.integers(1, 5, n),
        ]
    ).astype(np.int8)
    has_address = np.stack([rng.random(n) < 0.9, rng.random(n) < 0.5, rng.random(n) < 0.6])
    variant = rng.choice(3, size=n, p=[0.7, 0.2, 0.1]).astype(np.int8)
    return IdentityPlan(
        email, phone, phone_format, variant, has_address, placeholder_phone, placeholder_email
    )


def email_text(
    s: GeneratorSettings, persons: Persons, idx: np.ndarray, code: np.ndarray, variant: np.ndarray
) -> pa.Array:
    """E-mail addresses of persons `idx`: code 1 their own, 2 their second, 3 a friend's.

    The number in the local part comes from a distinct range per code, so no two persons (or
    friends) ever share an address. Variant 1 capitalises it, 2 also pads it with spaces.
    """
    code = np.asarray(code, dtype=np.int64)
    number = persons.email_number[idx] + (code - 1) * email_space(s.people)
    style = (persons.email_style[idx] + code - 1) % 4
    domain = bank(banks.EMAIL_DOMAINS, (persons.email_domain[idx] + 2 * (code - 1)) % 5)
    first = bank(banks.FIRST_NAMES, persons.first[idx])
    last = pc.replace_substring(bank(banks.LAST_NAMES, persons.last[idx]), "'", "")
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    local = choose(
        style,
        join(first, ".", last),
        join(first, last),
        join(initial, last),
        join(first, "_", last),
    )
    proper = join(local, digits(number), "@", pc.utf8_capitalize(domain))
    plain = pc.utf8_lower(proper)
    return choose(variant, plain, proper, join("  ", proper, " "))


def phone_text(
    persons: Persons, idx: np.ndarray, fmt: np.ndarray, international: np.ndarray
) -> pa.Array:
    """Phone numbers of persons `idx` in format `fmt` (0-5), as people and tills type them.

    North America: 0 `+14155550134`, 1 `(415) 555-0134`, 2 `415.555.0134`, 3 `+1 415 555 0134`,
    4 `14155550134`, 5 `415-555-0134`. Great Britain: `+442079460123`, `020 7946 0123` or
    `+44 20 7946 0123`. Records without a country get an international format.
    """
    u = persons.phone_number[idx]
    area = bank(_AREA_CODES, _AREA_OFFSET[persons.city[idx]] + persons.area[idx])
    ex, line = digits(200 + u // 10_000, 3), digits(u % 10_000, 4)
    us = [
        join("+1", area, ex, line),
        join("(", area, ") ", ex, "-", line),
        join(area, ".", ex, ".", line),
        join("+1 ", area, " ", ex, " ", line),
        join("1", area, ex, line),
        join(area, "-", ex, "-", line),
    ]
    u7 = digits(u, 7)
    head, tail = pc.utf8_slice_codeunits(u7, 0, 3), pc.utf8_slice_codeunits(u7, 3, 7)
    gb_e164 = join("+44207", u7)
    gb_national = join("020 7", head, " ", tail)
    gb_spaced = join("+44 20 7", head, " ", tail)
    gb = [gb_e164, gb_national, gb_national, gb_spaced, gb_e164, gb_spaced]
    fmt = np.where(international, np.where(fmt % 2 == 0, 0, 3), fmt)
    is_gb = pa.array(persons.country[idx] == COUNTRIES.index("GB"))
    return pc.if_else(is_gb, choose(fmt, *gb), choose(fmt, *us))


@dataclass(frozen=True)
class Customers:
    """The customers table and the map between persons and their records."""

    table: pa.Table
    person: np.ndarray  # person of every row
    source: np.ndarray  # source code of every row
    created: np.ndarray  # days since the window start
    index_of: np.ndarray  # (3, people): row of each person's record per source, -1 if none
    customer_id: pa.Array


def record_created(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    acquired: np.ndarray,
    first_web: np.ndarray,
    first_store: np.ndarray,
) -> np.ndarray:
    """(3, people) creation day of every record (NaN where the person has none).

    The CRM knows buyers a while before their first purchase (newsletter sign-up) and leads at
    any time; the shop account is opened minutes before the first online order; the loyalty
    card is issued at the till of the first store purchase.
    """
    n = persons.count
    end = s.window_days
    anytime = rng.uniform(-900.0, end - 1.0, (3, n))
    crm = np.where(np.isnan(acquired), anytime[0], acquired - rng.exponential(90.0, n))
    shop = np.where(np.isnan(first_web), anytime[1], first_web - rng.uniform(0.002, 0.02, n))
    store = np.where(np.isnan(first_store), anytime[2], first_store)
    created = np.stack([crm, shop, store])
    has = np.stack([persons.has_crm, persons.has_shop, persons.has_store])
    return np.where(has, np.maximum(created, -2500.0), np.nan)


def build_customers(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    plan: IdentityPlan,
    created: np.ndarray,
) -> Customers:
    """Write every record's text; rows ordered by source, then by id (creation order)."""
    parts, people, sources, days, numbers = [], [], [], [], []
    for code in range(len(SOURCES)):
        idx = np.flatnonzero(~np.isnan(created[code]))
        idx = idx[np.argsort(created[code][idx], kind="stable")]
        number = 1000 + int(rng.integers(0, 5000)) + np.cumsum(rng.geometric(0.4, len(idx)))
        parts.append(_source_table(rng, s, persons, plan, code, idx, created[code][idx], number))
        people.append(idx)
        sources.append(np.full(len(idx), code, dtype=np.int8))
        days.append(created[code][idx])
        numbers.append(number)
    table = pa.concat_tables(parts)
    person = np.concatenate(people)
    source = np.concatenate(sources)
    index_of = np.full((3, persons.count), -1, dtype=np.int64)
    index_of[source, person] = np.arange(len(person))
    customer_id = table.column("customer_id").combine_chunks()
    return Customers(table, person, source, np.concatenate(days), index_of, customer_id)


def _source_table(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    plan: IdentityPlan,
    code: int,
    idx: np.ndarray,
    created: np.ndarray,
    number: np.ndarray,
) -> pa.Table:
    """The records of one source system for persons `idx`."""
    n = len(idx)
    name = SOURCES[code]
    has_address = plan.has_address[code][idx]
    variant = plan.email_variant[idx] if name == "shop" else np.zeros(n, dtype=np.int8)
    email_code = plan.email[code][idx]
    email = masked(email_text(s, persons, idx, np.maximum(email_code, 1), variant), email_code > 0)
    phone = masked(
        phone_text(persons, idx, plan.phone_format[code][idx], ~has_address & (name == "shop")),
        plan.phone[code][idx],
    )
    first = bank(banks.FIRST_NAMES, persons.first[idx])
    last = bank(banks.LAST_NAMES, persons.last[idx])
    if name == "shop":
        lower = pa.array(rng.random(n) < 0.15)
        first, last = (
            pc.if_else(lower, pc.utf8_lower(first), first),
            pc.if_else(lower, pc.utf8_lower(last), last),
        )
    if name == "store":
        email = pc.if_else(pa.array(plan.placeholder_email[idx]), PLACEHOLDER_EMAIL, email)
        phone = pc.if_else(pa.array(plan.placeholder_phone[idx]), PLACEHOLDER_PHONE, phone)
        upper = pa.array(rng.random(n) < 0.2)
        first, last = (
            pc.if_else(upper, pc.utf8_upper(first), first),
            pc.if_else(upper, pc.utf8_upper(last), last),
        )
    dob_share = {"crm": 0.85, "shop": 0.4, "store": 0.2}[name]
    kinds = banks.STREET_KINDS_SHORT if name == "store" else banks.STREET_KINDS
    address = join(
        digits(persons.street_no[idx]),
        " ",
        bank(banks.STREETS, persons.street[idx]),
        " ",
        bank(kinds, persons.street_kind[idx]),
    )
    return pa.table(
        {
            "customer_id": ids(ID_PREFIX[name], number, 7),
            "source": pa.array([name] * n, pa.string()),
            "email": email,
            "phone": phone,
            "first_name": first,
            "last_name": last,
            "date_of_birth": masked(
                dates(persons.birth_day[idx]),
                rng.random(n) < dob_share,
            ),
            "address": masked(address, has_address),
            "postcode": masked(_postcode(persons, idx), has_address),
            "city": masked(bank([c[0] for c in CITIES], persons.city[idx]), has_address),
            "country": masked(
                bank(COUNTRIES, persons.country[idx]), has_address | (name != "shop")
            ),
            "created_at": timestamps(s.epoch_s + np.round(created * 86_400).astype(np.int64)),
            "consent_marketing": pa.array(rng.random(n) < s.consent_share),
            "attributes": _attributes(rng, persons, idx, name),
        }
    )


def _postcode(persons: Persons, idx: np.ndarray) -> pa.Array:
    """US ZIP (city prefix + 2 digits), Canadian `M5V 2T6` or British `SE1 4AB` codes."""
    k = persons.postcode_no[idx]
    prefix = bank([c[1] for c in CITIES], persons.city[idx])
    l1, l2 = bank(_LETTERS, (k // 10) % 20), bank(_LETTERS, (k // 200) % 20)
    d1, d2 = digits(k % 10), digits((k // 4000) % 10)
    us = join(prefix, digits(k % 100, 2))
    ca = join(prefix, " ", d1, l1, d2)
    gb = join(prefix, " ", d1, l1, l2)
    return choose(persons.country[idx], us, ca, gb)


def _attributes(rng: np.random.Generator, persons: Persons, idx: np.ndarray, name: str) -> pa.Array:
    """The `attributes` JSON object of each source's records."""
    n = len(idx)
    if name == "crm":
        return join(
            '{"plan": "',
            bank(banks.PLANS, persons.plan[idx]),
            '", "segment": "',
            bank(banks.SEGMENTS, persons.segment[idx]),
            '"}',
        )
    if name == "shop":
        flags = rng.integers(0, 4, n)
        return choose(
            flags,
            *(
                f'{{"newsletter": {"true" if k & 1 else "false"}, '
                f'"app_user": {"true" if k & 2 else "false"}}}'
                for k in range(4)
            ),
        )
    store_no = 1 + persons.city[idx] * 3 + rng.integers(0, 3, n)
    return join('{"home_store": "', bank([c[0] for c in CITIES], persons.city[idx]), " #",
                digits(store_no, 3), '"}')  # fmt: skip
