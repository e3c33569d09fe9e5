"""Personas (need states), their drift, and how they tie to the buy-till-you-die draws.

Every person has one persona of `GeneratorSettings.personas`. Among the customers acquired at
day t of the acquisition period the persona shares are w(t): the `drift_persona` rises
linearly from its `share` to `drift_end_share`, the others shrink in proportion.

A persona shapes the rank of a buyer's purchase rate and basket size, but the BTYD laws stay
exactly as planted: lambda ~ Gamma(r, alpha) and nu ~ Gamma(q, gamma) are drawn first, as
without personas, independently of each other and of the acquisition day. Their quantiles
u = F_lambda(lambda) and v = 1 - F_nu(nu) (v high: large baskets) are independent uniforms, so
the position on the "frequent small baskets versus rare large ones" axis,

    a = T(u - v), T the CDF of the difference of two independent uniforms (triangular),

is uniform on [0, 1] too. The persona is then the band of [0, 1] that `a` falls in, where the
bands follow the order of `personas` and are as wide as the shares w(t) at the person's
acquisition day; with chance `persona_noise` it is drawn from w(t) instead. Because `a` is
uniform and independent of t, P(persona = k | t) = (1 - noise) w_k(t) + noise w_k(t) = w_k(t):
the planted shares and drift hold exactly, and lambda, nu and p keep their joint law (the
persona is a label computed from them, never an input to them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammainc, gammaincc

from cxloop.generate.settings import GeneratorSettings

SHOP_ONLY = 0
"""Index of "shop account only" in a persona's `record_mix`."""


@dataclass(frozen=True)
class Traits:
    """Per person (index = person number): persona and the latent BTYD draws it was read from."""

    persona: np.ndarray  # int8 index into settings.personas
    acquired: np.ndarray  # day of the first purchase, used if the person is an organic buyer
    lam: np.ndarray  # purchases per week while alive (used for buyers only)
    nu: np.ndarray  # Gamma-Gamma spend scale (used for buyers only)
    axis: np.ndarray  # position on the frequent-small versus rare-large axis, uniform on [0, 1]
    reserved: np.ndarray  # held back to be acquired through a referral


def persona_values(s: GeneratorSettings, name: str) -> np.ndarray:
    """One attribute of every persona, as an array in the order of `s.personas`."""
    return np.array([getattr(p, name) for p in s.personas], dtype=float)


def reserved_mask(s: GeneratorSettings) -> np.ndarray:
    """The last `referee_share * people` persons, held back for referrals (none below 100)."""
    n = s.people
    reserved = np.zeros(n, dtype=bool)
    count = round(n * s.referee_share) if n >= 100 else 0
    if count:
        reserved[n - count :] = True
    return reserved


def shares_at(s: GeneratorSettings, t: np.ndarray) -> np.ndarray:
    """(len(t), personas) persona shares among customers acquired at day `t`.

    The drift persona's share moves linearly from its `share` (day 0) to `drift_end_share`
    (day `acquisition_days`, and after it); the other personas keep their relative sizes.
    """
    base = persona_values(s, "share")
    k = [p.name for p in s.personas].index(s.drift_persona)
    progress = np.clip(np.asarray(t, dtype=float) / s.acquisition_days, 0.0, 1.0)
    drifting = base[k] + (s.drift_end_share - base[k]) * progress
    shares = base[None, :] * ((1.0 - drifting) / (1.0 - base[k]))[:, None]
    shares[:, k] = drifting
    return shares


def axis_position(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """T(u - v): uniform on [0, 1] when u and v are independent uniforms (T triangular CDF)."""
    d = u - v
    return np.where(d < 0.0, 0.5 * (1.0 + d) ** 2, 1.0 - 0.5 * (1.0 - d) ** 2)


def _band(position: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Index of the band of [0, 1] (widths `shares` per row, in order) holding `position`."""
    edges = np.cumsum(shares, axis=1)[:, :-1]
    return (position[:, None] >= edges).sum(axis=1)


def draw_traits(rng: np.random.Generator, s: GeneratorSettings) -> Traits:
    """Draw every person's acquisition day, BTYD rate and spend scale, and persona.

    Referred friends (the reserved persons) join through the online shop with an account
    only, so their persona is drawn from w(t) weighted by each persona's chance of holding a
    shop account only (Bayes' rule; unweighted if no persona there holds one); the bands use
    those weights too, which keeps `a` uniform.
    """
    n = s.people
    reserved = reserved_mask(s)
    acquired = rng.uniform(0.0, s.acquisition_days, n)
    lam = rng.gamma(s.bgnbd_r, 1.0 / s.bgnbd_alpha, n)
    nu = rng.gamma(s.spend_q, 1.0 / s.spend_gamma, n)
    u = gammainc(s.bgnbd_r, lam * s.bgnbd_alpha)
    v = gammaincc(s.spend_q, nu * s.spend_gamma)
    axis = axis_position(u, v)

    shares = shares_at(s, acquired)
    shop_only = np.array([p.record_mix[SHOP_ONLY] for p in s.personas])
    online = shares[reserved] * shop_only[None, :]
    total = online.sum(axis=1, keepdims=True)
    shares[reserved] = np.where(
        total > 0, online / np.where(total > 0, total, 1.0), shares[reserved]
    )
    by_rank = _band(axis, shares)
    at_random = _band(rng.random(n), shares)
    noisy = rng.random(n) < s.persona_noise
    persona = np.where(noisy, at_random, by_rank).astype(np.int8)
    return Traits(persona, acquired, lam, nu, axis, reserved)
