"""Advocacy: promoters refer friends, some friends become customers; public reviews.

Only promoters (a relational NPS of 9 or 10) refer, through the online shop's referral program,
so the referral names the referrer's shop account. A converted friend is a new person, acquired
by that referral: their first order carries the referrer's code and the referral row names the
order and the friend's shop account. The other friends are known by e-mail only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cxloop.generate.arrays import lognormal_seconds
from cxloop.generate.events import EventPart, event_part
from cxloop.generate.feedback import NPS, RATING, Answers
from cxloop.generate.people import Persons
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.strings import digits, join, json_number


@dataclass(frozen=True)
class Referrals:
    """Referral rows in numeric form."""

    referrer: np.ndarray  # person
    t: np.ndarray
    referee: np.ndarray  # person acquired through it, -1 when it did not convert


def referral_code(person: np.ndarray) -> pa.Array:
    """A person's referral code, `NW-` and seven digits (an affine bijection of the person)."""
    return join("NW-", digits((np.asarray(person) * 7919 + 104_729) % 10**7, 7))


def refer_friends(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    answers: Answers,
    pool: np.ndarray,
) -> tuple[Referrals, np.ndarray]:
    """Referrals by the promoters among `answers`; converted friends are taken from `pool`.

    Returns the referrals and, for every person of `pool`, the day they were acquired through
    a referral (NaN for those left over).
    """
    promoter = (answers.metric == NPS) & (answers.score >= 9) & persons.has_shop[answers.person]
    refers = promoter & (rng.random(len(promoter)) < s.referral_share)
    referrer = answers.person[refers]
    t = answers.t[refers] + rng.exponential(10.0, refers.sum())
    inside = t < s.window_days
    referrer, t = referrer[inside], t[inside]
    n = len(referrer)
    referee = np.full(n, -1, dtype=np.int64)
    acquired = np.full(len(pool), np.nan)
    converts = np.flatnonzero((rng.random(n) < s.referral_conversion) & (t + 15.0 < s.window_days))[
        : len(pool)
    ]
    referee[converts] = pool[: len(converts)]
    acquired[: len(converts)] = t[converts] + rng.uniform(0.5, 14.0, len(converts))
    return Referrals(referrer, t, referee), acquired


def referral_events(rng: np.random.Generator, referrals: Referrals) -> list[EventPart]:
    """The referrer's invitation, at the `referral` touchpoint of the shop."""
    n = len(referrals.referrer)
    code = referral_code(referrals.referrer)
    return [
        event_part(referrals.referrer, referrals.t, "referral", "web", source=1,
                   duration=lognormal_seconds(rng, 40.0, 0.5, n), success=True,
                   properties=join('{"code": "', code, '"}'))
    ]  # fmt: skip


def review_events(rng: np.random.Generator, answers: Answers) -> list[EventPart]:
    """A public rating is also an event at the `review` touchpoint (an act of advocacy)."""
    r = np.flatnonzero(answers.metric == RATING)
    return [
        event_part(answers.person[r], answers.t[r], "review", answers.channel[r],
                   source=answers.source[r], duration=lognormal_seconds(rng, 120.0, 0.6, len(r)),
                   success=True, properties=json_number("stars", answers.score[r].astype(int)),
                   order=answers.order[r])
    ]  # fmt: skip
