"""Referral codes: unique, unguessable (60 random bits from `secrets`), one per profile even
when asked for at once; and the velocity check of referrals."""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter

import sqlalchemy as sa

from cxloop.programs.advocacy.referrals import CODE_ALPHABET, CODE_LENGTH, new_code, referral_code
from cxloop.programs.advocacy.tables import referral_codes
from tests.programs_db import program_store  # noqa: F401


def test_codes_are_unique_and_carry_60_random_bits():
    codes = [new_code() for _ in range(20_000)]
    assert len(set(codes)) == len(codes)
    raw = [c.replace("-", "") for c in codes]
    assert all(len(r) == CODE_LENGTH and set(r) <= set(CODE_ALPHABET) for r in raw)
    assert CODE_LENGTH * math.log2(len(CODE_ALPHABET)) == 60
    # Every position uses the whole alphabet about evenly (no position is predictable): a
    # chi-square test per position, 31 degrees of freedom, 0.1% critical value 61.1.
    for position in range(CODE_LENGTH):
        counts = Counter(r[position] for r in raw)
        expected = len(raw) / len(CODE_ALPHABET)
        chi2 = sum((counts.get(ch, 0) - expected) ** 2 / expected for ch in CODE_ALPHABET)
        assert chi2 < 61.1, (position, chi2)
    # Consecutive codes share no more leading characters than chance (not sequential).
    shared = sum(a[:2] == b[:2] for a, b in itertools.pairwise(raw))
    assert shared < 3 * len(raw) / len(CODE_ALPHABET) ** 2 + 10


def test_one_code_per_profile_even_at_once(program_store):  # noqa: F811
    results: list[str] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        results.append(referral_code(program_store, "P00000000000000aa"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert referral_code(program_store, "P00000000000000bb") != results[0]
    with program_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(referral_codes)).scalar() == 2
