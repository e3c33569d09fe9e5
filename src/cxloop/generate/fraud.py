"""Referral fraud planted for the advocacy program's checks, with its truth.

Off by default (`planted_self_referrals = planted_rings = 0`): the rows are appended to the
exported tables after everything else is drawn, from their own random stream, so turning them
on changes no other row. Each planted case is a new shop account whose first order carries a
real referrer's code, and a referral row naming it:

- `self_email_alias`: the referrer's own e-mail with a `+tag` (a separate profile under the
  identity rules; the same mailbox);
- `self_same_phone`: a fresh e-mail but the referrer's phone (identity joins it to the
  referrer's own profile);
- `self_same_address`: a fresh e-mail, no phone, the referrer's home address;
- `ring_address` / `ring_payment`: 3 to 5 accounts of strangers (fresh e-mails) sharing one
  drop address or one payment card fingerprint (`attributes.payment_fingerprint`), referred by
  one accomplice.

`truth/referral_fraud.csv` lists every planted referral (id, converting order, kind, referrer's
person); every other referral of the data is genuine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cxloop.generate import banks
from cxloop.generate.advocacy import referral_code
from cxloop.generate.people import CITIES
from cxloop.generate.records import _postcode as postcode_text  # one format of postcodes
from cxloop.generate.records import email_text, phone_text
from cxloop.generate.strings import bank, digits, ids, join, timestamps
from cxloop.generate.truth import person_ids
from cxloop.generate.world import World

#: The random stream of the planted fraud: a spawn key of its own, outside the world's streams.
FRAUD_STREAM = 0xF4A0D
SHOP = 1
SELF_KINDS = ("self_email_alias", "self_same_phone", "self_same_address")


@dataclass(frozen=True)
class PlantedFraud:
    """Rows to append per kind, and the truth table."""

    rows: dict[str, pa.Table]
    truth: pa.Table


def plant_referral_fraud(world: World, tables: dict[str, pa.Table]) -> PlantedFraud | None:
    """The planted cases (see the module docstring), or None when none are asked for."""
    s = world.settings
    if s.planted_self_referrals == 0 and s.planted_rings == 0:
        return None
    rng = np.random.default_rng(np.random.SeedSequence(s.seed, spawn_key=(FRAUD_STREAM,)))
    persons, plan, customers = world.persons, world.plan, world.customers
    referrers = np.unique(world.referrals.referrer)
    has_shop = customers.index_of[SHOP] >= 0
    referrers = referrers[has_shop[referrers]]
    if len(referrers) == 0:
        return None
    first_t = {int(p): float(t) for p, t in zip(world.referrals.referrer, world.referrals.t,
                                                 strict=True)}  # fmt: skip
    cases: list[tuple[int, int, str, int]] = []  # (referrer, donor person, kind, ring id)
    chosen = rng.choice(referrers, size=min(s.planted_self_referrals, len(referrers)),
                        replace=False)  # fmt: skip
    has = np.stack([persons.has_crm, persons.has_shop, persons.has_store])
    for i, p in enumerate(chosen):
        kind = SELF_KINDS[i % 3]
        if kind == "self_same_phone" and not (plan.phone[:, p] & has[:, p]).any():
            kind = "self_same_address"
        if kind == "self_same_address" and not (plan.has_address[:, p] & has[:, p]).any():
            kind = "self_email_alias"
        cases.append((int(p), int(p), kind, -1))
    strangers = rng.permutation(persons.count)
    taken = 0
    for ring in range(s.planted_rings):
        accomplice = int(rng.choice(referrers))
        kind = "ring_address" if ring % 2 == 0 else "ring_payment"
        for _ in range(int(rng.integers(3, 6))):
            cases.append((accomplice, int(strangers[taken]), kind, ring))
            taken += 1
    return _tables(world, rng, cases, first_t)


def _tables(
    world: World,
    rng: np.random.Generator,
    cases: list[tuple[int, int, str, int]],
    first_t: dict[int, float],
) -> PlantedFraud:
    s, persons = world.settings, world.persons
    n = len(cases)
    referrer = np.array([c[0] for c in cases], dtype=np.int64)
    donor = np.array([c[1] for c in cases], dtype=np.int64)
    kind = np.array([c[2] for c in cases], dtype=object)
    ring = np.array([c[3] for c in cases], dtype=np.int64)
    number = 1 + np.arange(n)
    # Times: after the referrer's first referral, well inside the window.
    start = np.array([first_t.get(int(p), 30.0) for p in referrer])
    t_ref = np.minimum(start + rng.uniform(1.0, 30.0, n), s.window_days - 20.0)
    t_ring = {r: float(t) for r, t in zip(ring, t_ref, strict=True) if r >= 0}
    t_ref = np.where(ring >= 0, [t_ring.get(int(r), 0.0) for r in ring], t_ref)
    t_ref = t_ref + np.where(ring >= 0, rng.uniform(0.0, 6.0, n), 0.0)
    t_order = t_ref + rng.uniform(0.5, 10.0, n)

    alias = kind == "self_email_alias"
    fresh = email_text(s, persons, donor, np.full(n, 4), np.zeros(n, dtype=np.int8))
    own = email_text(s, persons, donor, np.ones(n), np.zeros(n, dtype=np.int8))
    parts = pc.split_pattern(own, "@", max_splits=1).to_pylist()
    tagged = pa.array([f"{lp[0]}+nw{k}@{lp[1]}" for lp, k in zip(parts, number, strict=True)])
    email = pc.if_else(pa.array(alias), tagged, fresh)
    same_phone = kind == "self_same_phone"
    phone = phone_text(persons, donor, np.zeros(n, dtype=np.int8), np.ones(n, dtype=bool))
    phone = pc.if_else(pa.array(same_phone), phone, pa.nulls(n, pa.string()))
    # Addresses: the referrer's own (self_same_address), or one drop address per ring.
    drop = np.where(ring >= 0, persons.count - 1 - ring, donor)
    drop_person = np.where(kind == "ring_address", drop, donor)
    address = join(digits(persons.street_no[drop_person]), " ",
                   bank(banks.STREETS, persons.street[drop_person]), " ",
                   bank(banks.STREET_KINDS, persons.street_kind[drop_person]))  # fmt: skip
    with_address = (kind == "self_same_address") | (kind == "ring_address")
    postcode = postcode_text(persons, drop_person)
    city = bank([c[0] for c in CITIES], persons.city[drop_person])
    card = join('{"payment_fingerprint": "pf_', digits(7919 * (ring + 11) % 10**6, 6), '"}')
    attributes = pc.if_else(pa.array(kind == "ring_payment"), card, pa.nulls(n, pa.string()))
    customer_id = ids("S", 9_000_000 + number, 7)
    created = timestamps(s.epoch_s + np.round((t_order - 0.01) * 86_400).astype(np.int64))
    none = pa.nulls(n, pa.string())
    customers = pa.table({
        "customer_id": customer_id,
        "source": pa.array(["shop"] * n, pa.string()),
        "email": email,
        "phone": phone,
        "first_name": bank(banks.FIRST_NAMES, persons.first[donor]),
        "last_name": bank(banks.LAST_NAMES, persons.last[donor]),
        "date_of_birth": none,
        "address": pc.if_else(pa.array(with_address), address, none),
        "postcode": pc.if_else(pa.array(with_address), postcode, none),
        "city": pc.if_else(pa.array(with_address), city, none),
        "country": pc.if_else(pa.array(with_address), pa.array(["US"] * n), none),
        "created_at": created,
        "consent_marketing": pa.array(np.zeros(n, dtype=bool)),
        "attributes": attributes,
    })  # fmt: skip
    order_id = ids("O", 900_000_000 + number, 9)
    cents = np.round(rng.uniform(20.0, 90.0, n) * 100).astype(np.int64)
    code = referral_code(referrer)
    orders = pa.table({
        "order_id": order_id,
        "customer_id": customer_id,
        "source": pa.array(["shop"] * n, pa.string()),
        "ordered_at": timestamps(s.epoch_s + np.round(t_order * 86_400).astype(np.int64)),
        "amount": join(digits(cents // 100), ".", digits(cents % 100, 2)),
        "currency": pa.array(["USD"] * n, pa.string()),
        "status": pa.array(["completed"] * n, pa.string()),
        "channel": pa.array(["web"] * n, pa.string()),
        "items": pa.array(np.ones(n, dtype=np.int64)),
        "referral_code": code,
    })  # fmt: skip
    referral_id = ids("RF", 9_000_000 + number, 7)
    row = world.customers.index_of[SHOP, referrer]
    referrals = pa.table({
        "referral_id": referral_id,
        "referrer_id": world.customers.customer_id.take(pa.array(row)),
        "source": pa.array(["shop"] * n, pa.string()),
        "code": code,
        "referee_email": email,
        "referee_id": customer_id,
        "created_at": timestamps(s.epoch_s + np.round(t_ref * 86_400).astype(np.int64), ""),
        "converted_order_id": order_id,
    })  # fmt: skip
    truth = pa.table({
        "referral_id": referral_id,
        "order_source": pa.array(["shop"] * n, pa.string()),
        "order_id": order_id,
        "referee_id": customer_id,
        "kind": pa.array(list(kind), pa.string()),
        "ring": pa.array(ring, mask=ring < 0),
        "referrer_person_id": person_ids(referrer),
    })  # fmt: skip
    return PlantedFraud({"customers": customers, "orders": orders, "referrals": referrals}, truth)


def add_planted(tables: dict[str, pa.Table], planted: PlantedFraud) -> None:
    """Append the planted rows to the exported tables (in their column types)."""
    for kind, rows in planted.rows.items():
        table = tables[kind]
        tables[kind] = pa.concat_tables([table, rows.select(table.column_names).cast(table.schema)])


def write_fraud_truth(truth_dir: Path, planted: PlantedFraud) -> None:
    """`truth/referral_fraud.csv`, and the identity counts moved by the planted accounts:
    each is a shop record and a profile of its own, except `self_same_phone` accounts, which
    the phone joins to the referrer's profile."""
    pacsv.write_csv(planted.truth, truth_dir / "referral_fraud.csv",
                    pacsv.WriteOptions(eol="\r\n"))  # fmt: skip
    path = truth_dir / "identity.json"
    identity = json.loads(path.read_text(encoding="utf-8"))
    n = planted.truth.num_rows
    joined = int(pc.sum(pc.equal(planted.truth.column("kind"), "self_same_phone")).as_py() or 0)
    identity["source_records"] += n
    identity["records_per_source"]["shop"] += n
    identity["expected_profiles"] += n - joined
    identity["expected_known_profiles"] += n - joined
    identity["planted_fraud_records"] = n
    path.write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")
