"""Social and community mentions of Northwind and its competitors.

Share of voice follows `brand_shares`; each brand has its own sentiment mix (Northwind a little
better liked than Contoso, about level with Fabrikam), which the competitive benchmark should
find. Some Northwind mentions come from known customers (their CRM id is given) and then reflect
their own experience: a late delivery shows up as a delivery complaint, like in the surveys.
Which customer writes follows their persona's `social_weight` (digital natives share most).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.generate import banks
from cxloop.generate.arrays import lognormal_seconds
from cxloop.generate.events import EventPart, event_part
from cxloop.generate.feedback import Experience, latent
from cxloop.generate.people import Persons
from cxloop.generate.personas import persona_values
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.strings import bank, digits, join
from cxloop.generate.text import THEMES, compose

PLATFORMS: tuple[str, ...] = ("x", "instagram", "facebook", "reddit", "forum")
PLATFORM_SHARES = (0.30, 0.25, 0.20, 0.15, 0.10)
KINDS: tuple[str, ...] = ("post", "reply", "review", "share", "like")
KIND_SHARES = (0.35, 0.20, 0.10, 0.15, 0.20)
WRITTEN = (0, 1, 2)
"""Kinds that carry a text (posts, replies, reviews); shares and likes do not."""

BRAND_SENTIMENT = np.array([[0.25, 0.35, 0.40], [0.35, 0.35, 0.30], [0.28, 0.40, 0.32]])
"""Per brand (Northwind, Contoso, Fabrikam): share of negative, neutral, positive mentions."""
_THEME_SHARES = np.array([0.15, 0.30, 0.25, 0.10, 0.10, 0.10])


@dataclass(frozen=True)
class Mentions:
    """Mention rows in numeric form, with their text and planted theme and sentiment."""

    t: np.ndarray
    person: np.ndarray  # -1: not a known customer
    brand: np.ndarray
    platform: np.ndarray
    kind: np.ndarray
    reach: np.ndarray
    theme: np.ndarray
    sentiment: np.ndarray
    author: pa.Array
    text: pa.Array
    url: pa.Array
    recommends: np.ndarray  # a positive text that recommends the brand (an act of advocacy)


def simulate_mentions(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    first_order_t: np.ndarray,
    experience: Experience,
) -> Mentions:
    """Draw the mentions of every brand over the window."""
    n = round(s.mentions_per_person * s.people)
    end = s.window_days
    brand = rng.choice(3, size=n, p=np.asarray(s.brand_shares))
    kind = rng.choice(len(KINDS), size=n, p=KIND_SHARES)
    platform = rng.choice(len(PLATFORMS), size=n, p=PLATFORM_SHARES)
    t = rng.uniform(0.0, end, n)

    candidates = np.flatnonzero(persons.has_crm & ~np.isnan(first_order_t))
    known = (brand == 0) & (rng.random(n) < s.known_author_share) & (len(candidates) > 0)
    person = np.full(n, -1, dtype=np.int64)
    if len(candidates):
        weight = persona_values(s, "social_weight")[persons.persona[candidates]]
        chance = weight / weight.sum() if weight.sum() > 0 else None
        person[known] = rng.choice(candidates, size=known.sum(), p=chance)
        start = first_order_t[person[known]]
        t[known] = start + rng.random(known.sum()) * (end - start)

    sentiment = np.empty(n, dtype=np.int64)
    for b in range(3):
        m = (brand == b) & ~known
        sentiment[m] = rng.choice(3, size=m.sum(), p=BRAND_SENTIMENT[b])
    theme = rng.choice(len(THEMES), size=n, p=_THEME_SHARES)
    k = np.flatnonzero(known)
    late, unresolved, onboarded = experience.recent(s, person[k], t[k])
    satisfaction = latent(rng, s, persons, person[k], late, unresolved, onboarded)
    sentiment[k] = np.where(satisfaction >= 8.5, 2, np.where(satisfaction < 6.5, 0, 1))
    theme[k] = np.where(late, THEMES.index("delivery"), theme[k])
    theme[k] = np.where(unresolved & ~late, THEMES.index("customer_service"), theme[k])

    written = np.isin(kind, WRITTEN)
    text = compose(rng, theme[written], sentiment[written], social_brand=brand[written],
                   brands=s.brands)  # fmt: skip
    back = np.cumsum(written) - 1
    text = text.take(pa.array(np.where(written, back, 0), mask=~written))
    author = _authors(rng, persons, person, n)
    url = join(
        "https://",
        bank(PLATFORMS, platform),
        ".social.example/",
        author,
        "/",
        digits(rng.integers(10**11, 10**12, n)),
    )
    reach = np.round(rng.lognormal(5.5, 1.6, n)).astype(np.int64)
    says = pc.fill_null(pc.match_substring(text, "recommend", ignore_case=True), False)
    recommends = (sentiment == 2) & np.asarray(says, dtype=bool)
    return Mentions(
        t, person, brand, platform, kind, reach, theme, sentiment, author, text, url, recommends
    )


def _authors(rng: np.random.Generator, persons: Persons, person: np.ndarray, n: int) -> pa.Array:
    """Handles: customers keep one handle; other authors come from a pool, a few prolific."""
    pool = max(50, n // 3)
    w1, w2 = rng.integers(0, len(banks.HANDLE_WORDS), (2, pool))
    handles = join(
        bank(banks.HANDLE_WORDS, w1), "_", bank(banks.HANDLE_WORDS, w2),
        digits(rng.integers(1, 1000, pool)),
    )  # fmt: skip
    weights = 1.0 / np.arange(1, pool + 1) ** 0.6
    stranger = handles.take(pa.array(rng.choice(pool, n, p=weights / weights.sum())))
    known = person >= 0
    who = np.where(known, person, 0)
    mine = join(
        bank(banks.FIRST_NAMES, persons.first[who]), "_",
        bank(banks.LAST_NAMES, persons.last[who]), digits(persons.email_number[who] % 997),
    )  # fmt: skip
    mine = pc.utf8_lower(pc.replace_substring(mine, "'", ""))
    return pc.if_else(pa.array(known), mine, stranger)


def share_events(rng: np.random.Generator, mentions: Mentions) -> list[EventPart]:
    """A known customer's share is an act at the `social_share` touchpoint (amplification)."""
    m = np.flatnonzero((mentions.person >= 0) & (mentions.kind == KINDS.index("share")))
    return [
        event_part(mentions.person[m], mentions.t[m], "social_share", "social",
                   source=0, duration=lognormal_seconds(rng, 20.0, 0.5, len(m)), success=True)
    ]  # fmt: skip
