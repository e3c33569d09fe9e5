"""Customer records with known duplicates, to measure probabilistic identity resolution.

The main generator's records of one person share an e-mail or a phone, so the deterministic
rules find them. Real exports are worse: a person registers twice with a typo in the name,
first and last name swapped, day and month of birth transposed, a new e-mail address, no
phone. This module writes such records, with the true person of every record kept aside,
so that precision and recall of the matching can be measured (`tests/test_identity_matching.py`).

It also plants the hard negatives that make precision meaningful: members of one household
share the last name, the address and often the landline, but are different people; and the
name banks are small, so unrelated people with the same name are common.

It draws from its own random stream (`seed` mixed with a stream tag), so it never changes the
records of `cxloop generate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from cxloop.generate import banks
from cxloop.generate.banks import US_CITIES

STREAM = 0x5D0B  # tag of this module's random stream, mixed with the seed
SOURCES = ("crm", "shop", "store")
_PREFIX = {"crm": "C", "shop": "S", "store": "T"}
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DOMAINS = ("example.com", "mail.example", "post.example", "inbox.example")


@dataclass(frozen=True)
class DuplicateRates:
    """How often each kind of error happens in a duplicate record (shares of duplicates)."""

    duplicated_people: float = 0.35  # people with a second record
    third_record: float = 0.3  # of those, people with a third
    households: float = 0.15  # people who live with another person (a hard negative)
    shared_landline: float = 0.5  # of households, those that give the same phone
    name_typo: float = 0.15  # per name field
    swapped_names: float = 0.05
    dob_missing: float = 0.25
    dob_transposed: float = 0.05  # day and month swapped (when both are <= 12)
    dob_typo: float = 0.05  # one digit wrong
    address_missing: float = 0.2
    address_typo: float = 0.1
    short_street_kind: float = 0.3  # "St" for "Street"
    email_changed: float = 0.4  # another address (new job, new provider)
    email_missing: float = 0.2
    phone_missing: float = 0.35
    phone_changed: float = 0.1


@dataclass(frozen=True)
class DuplicatedCustomers:
    """The records (contract `customers` columns) and the true person of each record."""

    customers: pa.Table
    person: np.ndarray  # per row of `customers`, the person it belongs to
    # Per row, the household of its person: people who live together share one number
    # (the planted hard negatives); kept so tests can check they are never merged.
    household: np.ndarray | None = None

    def keys(self) -> list[str]:
        """Every record's key, `source:customer_id`, in row order."""
        return [
            f"{s}:{c}"
            for s, c in zip(
                self.customers["source"].to_pylist(),
                self.customers["customer_id"].to_pylist(),
                strict=True,
            )
        ]

    def household_pairs(self) -> set[tuple[str, str]]:
        """Every pair of record keys (ordered) of two different people of one household."""
        if self.household is None:
            return set()
        by_home: dict[int, list[tuple[int, str]]] = {}
        for key, person, home in zip(
            self.keys(), self.person.tolist(), self.household.tolist(), strict=True
        ):
            by_home.setdefault(home, []).append((person, key))
        return {
            (a, b) if a < b else (b, a)
            for group in by_home.values()
            for i, (pa_, a) in enumerate(group)
            for pb, b in group[i + 1 :]
            if pa_ != pb
        }

    def true_pairs(self) -> set[tuple[str, str]]:
        """Every pair of record keys (`source:customer_id`, ordered) of the same person."""
        keys = [
            f"{s}:{c}"
            for s, c in zip(
                self.customers["source"].to_pylist(),
                self.customers["customer_id"].to_pylist(),
                strict=True,
            )
        ]
        by_person: dict[int, list[str]] = {}
        for key, person in zip(keys, self.person.tolist(), strict=True):
            by_person.setdefault(person, []).append(key)
        return {
            (a, b) if a < b else (b, a)
            for group in by_person.values()
            for i, a in enumerate(group)
            for b in group[i + 1 :]
        }


def _typo(rng: np.random.Generator, text: str) -> str:
    """One keyboard slip: a letter replaced, dropped, doubled, or two neighbours swapped."""
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return text[:i] + _LETTERS[int(rng.integers(0, 26))] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def _phone(rng: np.random.Generator, area: str) -> str:
    return f"({area}) {int(rng.integers(200, 999))}-{int(rng.integers(0, 10_000)):04d}"


def generate_duplicates(
    people: int, *, seed: int = 1, rates: DuplicateRates | None = None
) -> DuplicatedCustomers:
    """`people` persons, some recorded two or three times with errors (see module docstring)."""
    r = rates or DuplicateRates()
    rng = np.random.default_rng([seed, STREAM])
    epoch = date(1940, 1, 1)
    rows: list[dict[str, str | None]] = []
    owner: list[int] = []
    numbers = {s: 0 for s in SOURCES}
    household: dict[str, object] = {}
    homes: list[int] = []  # per row, its person's household number
    home = -1

    for p in range(people):
        first = banks.FIRST_NAMES[int(rng.integers(0, len(banks.FIRST_NAMES)))]
        last = banks.LAST_NAMES[int(rng.integers(0, len(banks.LAST_NAMES)))]
        city = US_CITIES[int(rng.integers(0, len(US_CITIES)))]
        street = (
            f"{int(rng.integers(1, 2000))} {banks.STREETS[int(rng.integers(0, 30))]}",
            int(rng.integers(0, len(banks.STREET_KINDS))),
        )
        postcode = f"{city[1]}{int(rng.integers(0, 100)):02d}"
        phone = _phone(rng, city[2][0])
        if household and rng.random() < r.households:
            # Lives with the previous household's person: same last name and address.
            last = str(household["last"])
            street = household["street"]  # type: ignore[assignment]
            postcode, city = str(household["postcode"]), household["city"]  # type: ignore[assignment]
            if rng.random() < r.shared_landline:
                phone = str(household["phone"])
        else:
            home += 1
        household = {
            "last": last,
            "street": street,
            "postcode": postcode,
            "city": city,
            "phone": phone,
        }
        dob = epoch + timedelta(days=int(rng.integers(0, 365 * 65)))
        local = f"{first}.{last}{int(rng.integers(1, 100))}".lower()
        email = f"{local}@{_DOMAINS[int(rng.integers(0, len(_DOMAINS)))]}"
        copies = 1
        if rng.random() < r.duplicated_people:
            copies = 3 if rng.random() < r.third_record else 2
        sources = rng.permutation(len(SOURCES))
        for copy in range(copies):
            source = SOURCES[int(sources[copy])]
            numbers[source] += 1
            rec_first, rec_last, rec_dob = first, last, dob.isoformat()
            rec_street_kind = banks.STREET_KINDS[street[1]]
            rec_address: str | None = f"{street[0]} {rec_street_kind}"
            rec_postcode: str | None = postcode
            rec_email: str | None = email
            rec_phone: str | None = phone
            rec_dob_text: str | None = rec_dob
            if copy > 0:  # a duplicate: the errors of a second registration
                if rng.random() < r.name_typo:
                    rec_first = _typo(rng, rec_first)
                if rng.random() < r.name_typo:
                    rec_last = _typo(rng, rec_last)
                if rng.random() < r.swapped_names:
                    rec_first, rec_last = rec_last, rec_first
                u = rng.random()
                if u < r.dob_missing:
                    rec_dob_text = None
                elif u < r.dob_missing + r.dob_transposed and dob.day <= 12:
                    rec_dob_text = date(dob.year, dob.day, dob.month).isoformat()
                elif u < r.dob_missing + r.dob_transposed + r.dob_typo:
                    year = dob.year + int(rng.choice([-10, -1, 1, 10]))
                    rec_dob_text = date(year, dob.month, min(dob.day, 28)).isoformat()
                if rng.random() < r.short_street_kind:
                    short = banks.STREET_KINDS_SHORT[street[1]]
                    rec_address = f"{street[0]} {short}"
                if rng.random() < r.address_typo:
                    rec_address = _typo(rng, rec_address)
                if rng.random() < r.address_missing:
                    rec_address = rec_postcode = None
                u = rng.random()
                if u < r.email_missing:
                    rec_email = None
                elif u < r.email_missing + r.email_changed:
                    domain = _DOMAINS[int(rng.integers(0, len(_DOMAINS)))]
                    rec_email = f"{first[0]}{last}{int(rng.integers(100, 1000))}@{domain}".lower()
                u = rng.random()
                if u < r.phone_missing:
                    rec_phone = None
                elif u < r.phone_missing + r.phone_changed:
                    rec_phone = _phone(rng, city[2][-1])
            rows.append(
                {
                    "customer_id": f"{_PREFIX[source]}{numbers[source]:07d}",
                    "source": source,
                    "email": rec_email,
                    "phone": rec_phone,
                    "first_name": rec_first,
                    "last_name": rec_last,
                    "date_of_birth": rec_dob_text,
                    "address": rec_address,
                    "postcode": rec_postcode,
                    "city": city[0] if rec_address else None,
                    "country": "US",
                }
            )
            owner.append(p)
            homes.append(home)
    columns = list(rows[0])
    table = pa.table({c: pa.array([row[c] for row in rows], pa.string()) for c in columns})
    return DuplicatedCustomers(
        customers=table,
        person=np.asarray(owner, dtype=np.int64),
        household=np.asarray(homes, dtype=np.int64),
    )
