"""The planted confounder: customer value lifts the scores and drives a touchpoint of no effect.

A buyer's *value* is the log of one plus the amount of their completed orders (neither
cancelled nor returned) in the window, standardised with the mean and SD over the organic
buyers (phase one), so it is what an analysis sees as historical value. It enters the latent
satisfaction through the person effect,

    person effect = persona offset + value_effect * z
                    + sqrt(person_effect_sd^2 - value_effect^2) * e,

(e the person's standard normal draw), which keeps the SD of the part beside the persona's
offset at `person_effect_sd`. The `loyalty_lounge` touchpoint (own stage) is visited by
buyers with a probability that rises steeply with their value quintile, and has no term in
the score model: its naive effect on scores is pure confounding by value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cxloop.generate.arrays import expand, lognormal_seconds
from cxloop.generate.catalogue import CH
from cxloop.generate.events import EventPart, event_part
from cxloop.generate.people import Persons
from cxloop.generate.personas import persona_values
from cxloop.generate.purchases import Orders
from cxloop.generate.settings import GeneratorSettings

SHOP, STORE = 1, 2


@dataclass(frozen=True)
class ValueScale:
    """How raw value (log spend) is standardised, and the quintile cuts of the standard value."""

    mean: float
    sd: float
    cuts: np.ndarray  # four cut points of z between the quintiles

    @classmethod
    def of(cls, raw: np.ndarray) -> ValueScale:
        """The scale of the organic buyers' raw values."""
        mean = float(raw.mean()) if len(raw) else 0.0
        sd = float(raw.std()) if len(raw) > 1 else 1.0
        sd = sd if sd > 0 else 1.0
        z = (raw - mean) / sd
        cuts = np.quantile(z, [0.2, 0.4, 0.6, 0.8]) if len(z) else np.zeros(4)
        return cls(mean, sd, cuts)

    def standard(self, raw: np.ndarray) -> np.ndarray:
        """Standardised value z."""
        return (raw - self.mean) / self.sd

    def quintile(self, z: np.ndarray) -> np.ndarray:
        """Value quintile 0 (lowest) to 4 (highest)."""
        return np.searchsorted(self.cuts, z, side="right")


def raw_value(orders: Orders, people: int) -> np.ndarray:
    """Per person, log(1 + amount of their completed orders) (0 without orders).

    Completed means neither cancelled nor returned: the revenue the business kept, which is
    what cxloop (and most teams) call a customer's historical value.
    """
    kept = ~orders.cancelled & ~orders.returned
    spend = np.bincount(orders.person[kept], weights=orders.amount[kept], minlength=people)
    return np.log1p(spend)


def with_value_effect(
    s: GeneratorSettings, persons: Persons, who: np.ndarray, z: np.ndarray
) -> Persons:
    """`persons` with the person effect of `who` lifted by `value_effect` per SD of value `z`.

    The persona's offset stays as it was drawn; only the person's own part is re-mixed.
    """
    effect = persons.person_effect.copy()
    offset = persona_values(s, "satisfaction_offset")[persons.persona[who]]
    own = effect[who] - offset
    e = own / s.person_effect_sd if s.person_effect_sd > 0 else np.zeros(len(who))
    rest = np.sqrt(max(s.person_effect_sd**2 - s.value_effect**2, 0.0))
    effect[who] = offset + s.value_effect * z + rest * e
    return replace(persons, person_effect=effect)


@dataclass(frozen=True)
class ValueTruth:
    """Per buyer: standardised value, value quintile and membership of the lounge."""

    person: np.ndarray
    z: np.ndarray
    quintile: np.ndarray
    lounge: np.ndarray
    scale: ValueScale


def lounge_visits(
    rng: np.random.Generator,
    s: GeneratorSettings,
    persons: Persons,
    buyers: np.ndarray,
    z: np.ndarray,
    first_t: np.ndarray,
    scale: ValueScale,
) -> tuple[EventPart, ValueTruth]:
    """Loyalty-lounge members by value quintile, and their visits from the first order on.

    A member's first visit is 0.5 to 7 days after their first order; further visits follow
    as a Poisson process with a mean gap of `lounge_visit_days` until the window ends.
    """
    quintile = scale.quintile(z)
    share = np.asarray(s.lounge_share_by_value_quintile, dtype=float)
    member = rng.random(len(buyers)) < share[quintile]
    m = buyers[member]
    first = first_t[m] + rng.uniform(0.5, 7.0, len(m))
    span = np.maximum(s.window_days - first, 0.0)
    extra = rng.poisson(span / s.lounge_visit_days)
    group, position = expand(1 + extra)
    t = np.where(position == 0, first[group], first[group] + rng.random(len(group)) * span[group])
    person = m[group]
    shop = persons.has_shop[person]
    visits = event_part(
        person, t, "loyalty_lounge", np.where(shop, CH["web"], CH["store"]),
        source=np.where(shop, SHOP, STORE), duration=lognormal_seconds(rng, 180.0, 0.7, len(t)),
    )  # fmt: skip
    return visits, ValueTruth(buyers, z, quintile, member, scale)
