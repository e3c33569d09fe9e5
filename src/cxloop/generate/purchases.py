"""Purchases: a buy-till-you-die process with known parameters.

Transactions follow the BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the
easy way", Marketing Science 24(2)): while alive, a person buys as a Poisson process with rate
lambda ~ Gamma(r, alpha) per week; after each *repeat* purchase the person drops out with
probability p ~ Beta(a, b). Order amounts follow the Gamma-Gamma spend model (Fader, Hardie &
Lee 2005, JMR 42(4)): nu ~ Gamma(q, gamma), amount ~ Gamma(p_spend, nu).

One planted deviation, recorded in the truth: a late first delivery multiplies p by
`late_dropout_multiplier`. The simulation loops over the k-th repeat purchase (a few hundred
steps at most), each step vectorised over the persons still alive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxloop.generate.settings import GeneratorSettings


@dataclass(frozen=True)
class Orders:
    """One entry per order, in no particular order (sorted later, when ids are given)."""

    person: np.ndarray
    t: np.ndarray  # days since the window start
    first: np.ndarray  # the person's first order
    web: np.ndarray  # placed online (shop source); else in a store
    app: np.ndarray  # online order placed in the app
    amount: np.ndarray  # USD, cents precision
    items: np.ndarray
    cancelled: np.ndarray
    returned: np.ndarray
    late_days: np.ndarray  # 0 when on time or not delivered

    @property
    def count(self) -> int:
        """Number of orders."""
        return len(self.person)


@dataclass(frozen=True)
class BuyerTruth:
    """The latent BTYD values of every buyer, as drawn (written to `truth/purchases.csv`)."""

    person: np.ndarray
    lam: np.ndarray  # purchases per week while alive
    p: np.ndarray  # dropout probability after a repeat purchase (before the late effect)
    nu: np.ndarray  # Gamma-Gamma spend scale
    acquired: np.ndarray  # day of the first purchase
    churned: np.ndarray  # day of dropping out, NaN when alive at the window end
    first_late: np.ndarray  # the first delivery was late (dropout multiplied)


@dataclass(frozen=True)
class _Outcome:
    web: np.ndarray
    app: np.ndarray
    cancelled: np.ndarray
    late_days: np.ndarray
    returned: np.ndarray


def _outcomes(
    rng: np.random.Generator, s: GeneratorSettings, web_share: np.ndarray, app_share: np.ndarray
) -> _Outcome:
    """Channel, cancellation, delivery delay and return of orders (one per `web_share` entry)."""
    n = len(web_share)
    web = rng.random(n) < web_share
    app = web & (rng.random(n) < app_share)
    cancelled = rng.random(n) < s.cancel_share
    late = web & ~cancelled & (rng.random(n) < s.late_delivery_share)
    late_days = np.where(late, rng.geometric(0.4, n), 0)
    return_share = np.where(late, s.return_share_after_late, s.return_share)
    returned = ~cancelled & (rng.random(n) < return_share)
    return _Outcome(web, app, cancelled, late_days, returned)


def web_order_share(
    online_share: np.ndarray, has_shop: np.ndarray, has_store: np.ndarray
) -> np.ndarray:
    """Chance that an order is online: 1 with only an account, 0 with only a card, and the
    persona's `online_share` with both."""
    return np.where(has_shop & has_store, online_share, has_shop.astype(float))


def simulate_purchases(
    rng: np.random.Generator,
    s: GeneratorSettings,
    person: np.ndarray,
    acquired: np.ndarray,
    web_share: np.ndarray,
    *,
    lam: np.ndarray | None = None,
    nu: np.ndarray | None = None,
    app_share: np.ndarray | float = 0.0,
) -> tuple[Orders, BuyerTruth]:
    """Orders of the buyers `person`, first purchase at day `acquired`, until the window end.

    `lam` (per week) and `nu` are the buyers' rate and spend scale when drawn beforehand (the
    world draws them with the persona, see `personas.py`), else they are drawn here from the
    same Gamma laws; the dropout probability p is always drawn here. `app_share` is each
    buyer's chance that an online order is placed in the app.
    """
    n = len(person)
    end = s.window_days
    if lam is None:
        lam = rng.gamma(s.bgnbd_r, 1.0 / s.bgnbd_alpha, n)  # per week
    p = rng.beta(s.bgnbd_a, s.bgnbd_b, n)
    if nu is None:
        nu = rng.gamma(s.spend_q, 1.0 / s.spend_gamma, n)
    app = np.broadcast_to(np.asarray(app_share, dtype=float), (n,))

    first = _outcomes(rng, s, web_share, app)
    first_late = first.late_days > 0
    p_effective = np.minimum(1.0, p * np.where(first_late, s.late_dropout_multiplier, 1.0))

    steps_who = [np.arange(n)]
    steps_t = [acquired.copy()]
    churned = np.full(n, np.nan)
    alive = np.arange(n)
    t = acquired.copy()
    rate_per_day = lam / 7.0
    while len(alive):
        t = t + rng.exponential(1.0, len(alive)) / rate_per_day[alive]
        inside = t < end
        alive, t = alive[inside], t[inside]
        steps_who.append(alive)
        steps_t.append(t)
        drop = rng.random(len(alive)) < p_effective[alive]
        churned[alive[drop]] = t[drop]
        alive, t = alive[~drop], t[~drop]

    who = np.concatenate(steps_who)
    times = np.concatenate(steps_t)
    is_first = np.zeros(len(who), dtype=bool)
    is_first[:n] = True
    repeat = _outcomes(rng, s, web_share[who[n:]], app[who[n:]])
    out = _Outcome(
        *(np.concatenate([getattr(first, k), getattr(repeat, k)]) for k in _Outcome.__annotations__)
    )
    amount = np.round(rng.gamma(s.spend_p, 1.0 / nu[who]), 2)
    items = 1 + rng.poisson(np.maximum(amount / 45.0 - 0.6, 0.05))
    orders = Orders(
        person=person[who],
        t=times,
        first=is_first,
        web=out.web,
        app=out.app,
        amount=amount,
        items=items,
        cancelled=out.cancelled,
        returned=out.returned,
        late_days=out.late_days,
    )
    truth = BuyerTruth(person, lam, p, nu, acquired, churned, first_late)
    return orders, truth


def expected_repeat_purchases(
    t_weeks: np.ndarray, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """BG/NBD expected repeat purchases in (0, t] after the first (FHL 2005, equation 7).

    E[X(t)] = (a + b - 1) / (a - 1) * [1 - (alpha / (alpha + t))^r * 2F1(r, b; a + b - 1;
    t / (alpha + t))], with the Gauss hypergeometric function summed as its power series
    (it converges here because t / (alpha + t) < 1). Used by the tests to check the process.
    """
    t = np.asarray(t_weeks, dtype=float)
    z = t / (alpha + t)
    c = a + b - 1.0
    term = np.ones_like(z)
    total = np.ones_like(z)
    for k in range(20_000):
        term = term * (r + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        if np.all(np.abs(term) < 1e-12 * np.abs(total)):
            break
    return c / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * total)
