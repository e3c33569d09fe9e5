"""Voice of the customer: surveys (NPS, CES, CSAT), public ratings and comments.

Every answer comes from one latent satisfaction on the 0-10 NPS scale,

    s = base + person effect + late delivery + unresolved support + onboarding success + noise,

with the effects of `GeneratorSettings` (-2.5, -3.0, +1.0 by default), then mapped onto each
metric's scale: NPS = round(s) in 0-10, CES = round(1 + 0.6 s) in 1-7, CSAT and rating =
round(1 + 0.4 s) in 1-5.

Which experiences enter an answer follows one rule, the one an analyst can apply to the data:
an answer about an order (a delivery or support survey, a rating) reflects that order's
experiences that happened before it; an answer about the relationship reflects the person's
experiences within `experience_memory_days` before it. Because rounding and clipping make the
observed effect smaller than the latent one, every answer also records, per experience, how
much its score moved (its score minus the score it would have had without that experience,
same noise): the planted effects on the observed scale that `truth/effects.json` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cxloop.generate.arrays import PersonTimeline
from cxloop.generate.catalogue import CH, TP
from cxloop.generate.experiences import Contacts, Deliveries, Onboardings
from cxloop.generate.people import Persons
from cxloop.generate.purchases import Orders
from cxloop.generate.settings import GeneratorSettings
from cxloop.generate.text import THEMES, compose

METRICS: tuple[str, ...] = ("nps", "ces", "csat", "rating", "comment")
NPS, CES, CSAT, RATING, COMMENT = range(5)
SURVEY = 3
"""Source code of an answer that names the customer by e-mail only (source `survey`)."""

SCALES: dict[int, tuple[float, float, float, float]] = {
    NPS: (0.0, 1.0, 0.0, 10.0),
    CES: (1.0, 0.6, 1.0, 7.0),
    CSAT: (1.0, 0.4, 1.0, 5.0),
    RATING: (1.0, 0.4, 1.0, 5.0),
}
"""metric -> (intercept, slope, low, high): score = clip(round(intercept + slope * s))."""

_BASE_THEMES = np.array([0.10, 0.35, 0.25, 0.10, 0.15, 0.05])


@dataclass(frozen=True)
class Answers:
    """Feedback rows in numeric form (text already composed)."""

    person: np.ndarray
    t: np.ndarray
    metric: np.ndarray
    score: np.ndarray  # NaN for comments
    touchpoint: np.ndarray  # -1: about the relationship
    order: np.ndarray  # -1: none
    channel: np.ndarray
    source: np.ndarray  # record source code, or SURVEY
    email_code: np.ndarray  # e-mail used when source is SURVEY
    public: np.ndarray
    theme: np.ndarray  # -1 without text
    sentiment: np.ndarray  # 0 negative, 1 neutral, 2 positive; -1 without text
    late: np.ndarray
    unresolved: np.ndarray
    onboarded: np.ndarray
    moved_late: np.ndarray  # score moved by the late delivery (0 when none; NaN for comments)
    moved_unresolved: np.ndarray
    moved_onboarded: np.ndarray
    text: pa.Array


@dataclass(frozen=True)
class Experience:
    """The experience facts of the world so far, indexed for quick look-ups per person and
    per order."""

    late: PersonTimeline
    unresolved: PersonTimeline
    onboarded: PersonTimeline
    late_at: np.ndarray  # per order: day of its late delivery, inf when on time or none
    unresolved_at: np.ndarray  # per order: day of its first unresolved contact, or inf
    onboarded_at: np.ndarray  # per order: day of its successful onboarding, or inf

    @classmethod
    def of(
        cls, orders: int, deliveries: Deliveries, contacts: Contacts, onboardings: Onboardings
    ) -> Experience:
        """Index late deliveries, unresolved contacts and successful onboardings of `orders`."""
        d, c, o = deliveries, contacts, onboardings
        late_at = np.full(orders, np.inf)
        late_at[d.order[d.late]] = d.t[d.late]
        unresolved_at = np.full(orders, np.inf)
        np.minimum.at(unresolved_at, c.order[~c.resolved], c.t[~c.resolved])
        onboarded_at = np.full(orders, np.inf)
        onboarded_at[o.order[o.success]] = o.t[o.success]
        return cls(
            PersonTimeline(d.person[d.late], d.t[d.late]),
            PersonTimeline(c.person[~c.resolved], c.t[~c.resolved]),
            PersonTimeline(o.person[o.success], o.t[o.success]),
            late_at,
            unresolved_at,
            onboarded_at,
        )

    def recent(
        self, s: GeneratorSettings, person: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """(late delivery, unresolved contact, successful onboarding) within the memory window
        before t: what an answer about the relationship reflects."""
        since = t - s.experience_memory_days
        return (
            self.late.count(person, since, t) > 0,
            self.unresolved.count(person, since, t) > 0,
            self.onboarded.count(person, since, t) > 0,
        )

    def of_order(self, order: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """(late delivery, unresolved contact, successful onboarding) of `order` before t:
        what an answer about that order reflects."""
        return (
            self.late_at[order] < t,
            self.unresolved_at[order] < t,
            self.onboarded_at[order] < t,
        )


def latent(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    person: np.ndarray,
    late: np.ndarray,
    unresolved: np.ndarray,
    onboarded: np.ndarray,
) -> np.ndarray:
    """Latent satisfaction on the NPS scale (see the module docstring)."""
    return (
        s.satisfaction_base
        + persons.person_effect[person]
        + s.effect_late_delivery * late
        + s.effect_unresolved_support * unresolved
        + s.effect_onboarding_success * onboarded
        + rng.normal(0.0, s.noise_sd, len(person))
    )


def moved(
    metric: np.ndarray, satisfaction: np.ndarray, score: np.ndarray, effect: float, hit: np.ndarray
) -> np.ndarray:
    """How far one experience moved each score: the score minus the score the same answer
    would have had without it (0 where it did not happen; NaN for comments)."""
    return np.where(hit, score - to_scale(metric, satisfaction - effect * hit), 0.0) + np.where(
        np.isnan(score), np.nan, 0.0
    )


def to_scale(metric: np.ndarray, satisfaction: np.ndarray) -> np.ndarray:
    """Scores on each metric's scale; NaN for comments."""
    score = np.full(len(metric), np.nan)
    for code, (intercept, slope, low, high) in SCALES.items():
        m = metric == code
        score[m] = np.clip(np.round(intercept + slope * satisfaction[m]), low, high)
    return score


def _themes(
    rng: np.random.Generator, late: np.ndarray, unresolved: np.ndarray, default: np.ndarray
) -> np.ndarray:
    """A verbatim's theme follows the experience: late -> delivery, unresolved -> service."""
    n = len(late)
    theme = np.where(default >= 0, default, rng.choice(len(THEMES), n, p=_BASE_THEMES))
    theme = np.where(unresolved & (rng.random(n) < 0.8), THEMES.index("customer_service"), theme)
    return np.where(late & (rng.random(n) < 0.8), THEMES.index("delivery"), theme)


def _answers(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    *,
    person: np.ndarray,
    t: np.ndarray,
    metric: np.ndarray,
    touchpoint: np.ndarray,
    order: np.ndarray,
    channel: np.ndarray,
    source: np.ndarray,
    email_code: np.ndarray,
    late: np.ndarray,
    unresolved: np.ndarray,
    onboarded: np.ndarray,
    text_share: float,
    default_theme: np.ndarray,
    public: bool = False,
) -> Answers:
    """Score, sentiment, theme and text of one block of answers."""
    n = len(person)
    satisfaction = latent(rng, s, persons, person, late, unresolved, onboarded)
    sentiment = np.where(satisfaction >= 8.5, 2, np.where(satisfaction < 6.5, 0, 1))
    theme = _themes(rng, late, unresolved, default_theme)
    has_text = (metric == COMMENT) | (rng.random(n) < text_share)
    text = compose(rng, theme[has_text], sentiment[has_text], brands=(s.brand,))
    back = np.cumsum(has_text) - 1
    text = text.take(pa.array(np.where(has_text, back, 0), mask=~has_text))
    email_only = (email_code > 0) & (rng.random(n) < s.email_only_share) & ~public
    score = to_scale(metric, satisfaction)
    return Answers(
        person=person,
        t=t,
        metric=metric.astype(np.int8),
        score=score,
        touchpoint=touchpoint.astype(np.int8),
        order=order.astype(np.int64),
        channel=channel.astype(np.int8),
        source=np.where(email_only, SURVEY, source).astype(np.int8),
        email_code=np.where(email_only, email_code, 0).astype(np.int8),
        public=np.full(n, public),
        theme=np.where(has_text, theme, -1).astype(np.int8),
        sentiment=np.where(has_text, sentiment, -1).astype(np.int8),
        late=late,
        unresolved=unresolved,
        onboarded=onboarded,
        moved_late=moved(metric, satisfaction, score, s.effect_late_delivery, late),
        moved_unresolved=moved(
            metric, satisfaction, score, s.effect_unresolved_support, unresolved
        ),
        moved_onboarded=moved(metric, satisfaction, score, s.effect_onboarding_success, onboarded),
        text=text,
    )


def home_source(persons: Persons, person: np.ndarray) -> np.ndarray:
    """The record a survey names: CRM when the person has one, else the shop, else the store."""
    return np.where(persons.has_crm[person], 0, np.where(persons.has_shop[person], 1, 2))


def relationship_answers(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    email_code: np.ndarray,
    buyers: np.ndarray,
    first_order_t: np.ndarray,
    experience: Experience,
    *,
    metric: int,
    share: float,
) -> Answers:
    """Relational NPS (or text-only comments) of `buyers`, once, some time after buying."""
    chosen = buyers[rng.random(len(buyers)) < share]
    start = first_order_t[chosen] + 7.0
    t = start + rng.random(len(chosen)) * (s.window_days - start)
    keep = t < s.window_days
    person, t = chosen[keep], t[keep]
    late, unresolved, onboarded = experience.recent(s, person, t)
    n = len(person)
    return _answers(
        rng, s, persons, person=person, t=t, metric=np.full(n, metric),
        touchpoint=np.full(n, -1), order=np.full(n, -1),
        channel=np.where(rng.random(n) < 0.8, CH["email"], CH["web"]),
        source=home_source(persons, person), email_code=email_code[person],
        late=late, unresolved=unresolved, onboarded=onboarded,
        text_share=s.survey_text_share, default_theme=np.full(n, -1),
    )  # fmt: skip


def transactional_answers(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    email_code: np.ndarray,
    orders: Orders,
    settled_at: np.ndarray,
    deliveries: Deliveries,
    contacts: Contacts,
    experience: Experience,
) -> list[Answers]:
    """Surveys after deliveries and support contacts, and public ratings of orders; each
    reflects the experiences of its order before it."""
    end = s.window_days
    blocks: list[Answers] = []

    d = np.flatnonzero(rng.random(len(deliveries.order)) < s.delivery_survey_share)
    t = deliveries.t[d] + rng.uniform(0.2, 3.0, len(d))
    d, t = d[t < end], t[t < end]
    person, n = deliveries.person[d], len(d)
    late, unresolved, onboarded = experience.of_order(deliveries.order[d], t)
    blocks.append(_answers(
        rng, s, persons, person=person, t=t, metric=np.where(rng.random(n) < 0.6, CSAT, NPS),
        touchpoint=np.full(n, TP["delivery"]), order=deliveries.order[d],
        channel=np.full(n, CH["email"]), source=np.full(n, 1), email_code=email_code[person],
        late=late, unresolved=unresolved, onboarded=onboarded,
        text_share=s.survey_text_share, default_theme=np.full(n, THEMES.index("delivery")),
    ))  # fmt: skip

    c = np.flatnonzero(rng.random(len(contacts.order)) < s.support_survey_share)
    t = contacts.t[c] + rng.uniform(0.05, 2.0, len(c))
    c, t = c[t < end], t[t < end]
    person, n = contacts.person[c], len(c)
    late, unresolved, onboarded = experience.of_order(contacts.order[c], t)
    blocks.append(_answers(
        rng, s, persons, person=person, t=t, metric=np.where(rng.random(n) < 0.6, CES, CSAT),
        touchpoint=contacts.touchpoint[c], order=contacts.order[c],
        channel=np.where(contacts.channel[c] == CH["chat"], CH["chat"], CH["email"]),
        source=contacts.source[c], email_code=email_code[person],
        late=late, unresolved=unresolved, onboarded=onboarded,
        text_share=s.survey_text_share,
        default_theme=np.full(n, THEMES.index("customer_service")),
    ))  # fmt: skip

    blocks.append(_ratings(rng, s, persons, orders, settled_at, experience))
    return blocks


def _ratings(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    orders: Orders,
    settled_at: np.ndarray,
    experience: Experience,
) -> Answers:
    """Public 1-5 star ratings with a review text, for a share of the orders."""
    o = np.flatnonzero(~orders.cancelled & (rng.random(orders.count) < s.rating_share))
    t = settled_at[o] + rng.uniform(2.0, 14.0, len(o))
    o, t = o[t < s.window_days], t[t < s.window_days]
    person, n = orders.person[o], len(o)
    late, unresolved, onboarded = experience.of_order(o, t)
    theme = np.where(orders.returned[o] & (rng.random(n) < 0.7), THEMES.index("returns"), -1)
    return _answers(
        rng, s, persons, person=person, t=t, metric=np.full(n, RATING),
        touchpoint=np.full(n, TP["review"]), order=o,
        channel=np.where(orders.app[o], CH["app"], CH["web"]),
        source=np.where(orders.web[o], 1, 2), email_code=np.zeros(n, np.int8),
        late=late, unresolved=unresolved, onboarded=onboarded, text_share=1.0,
        default_theme=theme, public=True,
    )  # fmt: skip


def first_order_times(orders: Orders, people: int) -> np.ndarray:
    """Day of each person's first order (NaN for persons who never bought)."""
    first = np.full(people, np.nan)
    first[orders.person[orders.first]] = orders.t[orders.first]
    return first
