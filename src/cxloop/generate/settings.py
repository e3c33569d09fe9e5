"""Every parameter of the simulated world, in one frozen, documented object.

The generator plants known truths (buy-till-you-die parameters, experience effects on scores,
identity links) so that cxloop's analyses can be checked against them. Keeping every knob here,
with the value it had, lets `truth/parameters.json` record the exact world a file set came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

FileFormat = Literal["csv", "parquet"]

SOURCES: tuple[str, ...] = ("crm", "shop", "store")
"""Systems that hold customer records: index 0, 1, 2 in every `source` code array."""

COUNTRIES: tuple[str, ...] = ("US", "CA", "GB")


@dataclass(frozen=True)
class Persona:
    """One need state: how its members buy, browse and feel (docs/generator.md, Personas).

    Personas act on observable behaviour (records, channels, browsing, social sharing, score
    level) so that a clustering of per-customer features can find them, and on the rank of a
    buyer's purchase rate and basket size without changing the BTYD laws (see `personas.py`).
    """

    name: str
    share: float
    """Share among the customers acquired on the first day of the acquisition period."""
    record_mix: tuple[float, float, float]
    """Of its members known to the shop or the stores: shop account only, both an account
    and a loyalty card, card only."""
    online_share: float
    """Orders placed online by a member with both an account and a card."""
    app_share: float
    """Online orders, and browsing sessions, in the app rather than on the web site."""
    browse_sessions: float
    """Mean sessions without an order over the window, per member with a shop account
    (half as many for anonymous browsers)."""
    views_per_session: float
    """Mean product views and searches per session (at least one)."""
    search_share: float
    """Share of those that are searches rather than product views."""
    social_weight: float
    """Relative chance that a known customer's social mention is theirs."""
    satisfaction_offset: float
    """Latent satisfaction points added to the person effect (NPS scale)."""


DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona("premium_loyalist", 0.25, (0.50, 0.45, 0.05), 0.85, 0.50, 1.5, 2.0, 0.15, 1.0, 0.8),
    Persona("store_regular", 0.30, (0.00, 0.25, 0.75), 0.05, 0.20, 0.3, 2.0, 0.25, 0.5, 0.0),
    Persona("digital_native", 0.15, (0.90, 0.10, 0.00), 0.95, 0.85, 4.0, 5.0, 0.10, 5.0, 0.0),
    Persona("deal_seeker", 0.30, (0.80, 0.15, 0.05), 0.90, 0.05, 3.0, 3.5, 0.60, 1.0, -0.8),
)
"""The four planted personas, listed from large, rare baskets to small, frequent ones: their
bands on the purchase-rate-versus-basket-size axis follow this order."""


@dataclass(frozen=True)
class GeneratorSettings:
    """The simulated Northwind retailer: population, behaviour and planted effects.

    Rates are per person, per order or per event as named. Times are in days unless the name
    says weeks (the BG/NBD parameters are per week, as in Fader, Hardie & Lee 2005).
    """

    # -- run ---------------------------------------------------------------------------------
    people: int = 20_000
    """Persons in the world (each has at least one customer record)."""
    seed: int = 42
    """Seed of `numpy.random.default_rng`; the same seed gives byte-identical files."""
    file_format: FileFormat = "csv"
    """`csv` (RFC 4180, UTF-8, CRLF) or `parquet`."""
    dirty_rate: float = 0.002
    """Fraction of rows per kind replaced by contract violations (at least one when > 0)."""

    # -- calendar and brands -----------------------------------------------------------------
    window_start: date = date(2024, 7, 1)
    """First day observed (UTC)."""
    window_end: date = date(2026, 6, 30)
    """Last day observed, inclusive (UTC)."""
    acquisition_days: float = 365.0
    """Organic first purchases are uniform over this many days from the window start."""
    brand: str = "Northwind"
    competitors: tuple[str, ...] = ("Contoso", "Fabrikam")

    # -- population and identities -----------------------------------------------------------
    country_shares: tuple[float, float, float] = (0.94, 0.04, 0.02)
    """Share of persons living in US, CA, GB."""
    crm_share: float = 0.80
    """Chance of a CRM record; persons drawn with no record at all get one too (~85% in all)."""
    channel_record_share: float = 0.72
    """Chance of a shop account or a loyalty card (or both); which one follows the persona's
    `record_mix` (about 57% of persons have an account, 31% a card)."""
    buyer_share: float = 0.85
    """Chance that a person with a shop account or loyalty card ever buys (others are leads)."""
    consent_share: float = 0.60
    """Records with `consent_marketing = true`."""
    unlinkable_share: float = 0.03
    """Multi-record persons whose shop account uses another e-mail and no phone."""
    placeholder_phone_share: float = 0.005
    """Store records whose phone was keyed as `000-000-0000`."""
    placeholder_email_share: float = 0.002
    """Store records whose e-mail was keyed as `noreply@northwind.example`."""
    cookies_per_account: float = 0.6
    """Mean extra devices (cookies) per shop account beyond the first (binomial over two)."""
    anonymous_visitor_share: float = 0.10
    """Extra visitors, as a share of `people`, who browse and never identify."""
    referee_share: float = 0.01
    """Share of `people` held back to be acquired through a referral (fillers if too few)."""

    # -- buy-till-you-die (BG/NBD transactions, Gamma-Gamma spend) --------------------------
    bgnbd_r: float = 0.6
    """Shape of the Gamma distribution of purchase rates lambda (per week)."""
    bgnbd_alpha: float = 8.0
    """Rate of that Gamma distribution, in weeks (mean lambda = r / alpha)."""
    bgnbd_a: float = 0.7
    """First shape of the Beta distribution of the dropout probability p."""
    bgnbd_b: float = 3.5
    """Second shape of that Beta distribution (mean p = a / (a + b))."""
    spend_p: float = 6.0
    """Gamma-Gamma: shape of an order amount given the person's nu."""
    spend_q: float = 4.0
    """Gamma-Gamma: shape of the Gamma distribution of nu."""
    spend_gamma: float = 45.0
    """Gamma-Gamma: rate of that distribution (mean amount = p * gamma / (q - 1) = 90 USD)."""

    # -- personas (need states) and their drift ----------------------------------------------
    personas: tuple[Persona, ...] = DEFAULT_PERSONAS
    """The personas, from large, rare baskets to small, frequent ones (see `Persona`)."""
    drift_persona: str = "digital_native"
    """The persona whose share among new customers rises over the acquisition period."""
    drift_end_share: float = 0.40
    """Its share among the customers acquired on the last day of the acquisition period; it
    rises linearly from its `share`, and the other personas shrink in proportion."""
    persona_noise: float = 0.1
    """Chance that a person's persona ignores their purchase rate and basket size ranks."""

    # -- own-stage experiences and their planted effects on behaviour ------------------------
    late_delivery_share: float = 0.15
    """Online deliveries that arrive late (1 + geometric days late)."""
    late_dropout_multiplier: float = 1.6
    """A late first delivery multiplies the person's dropout probability p."""
    cancel_share: float = 0.02
    return_share: float = 0.03
    return_share_after_late: float = 0.10
    support_share: float = 0.08
    """Orders followed by a support contact or chat."""
    support_share_after_late: float = 0.35
    support_resolved_share: float = 0.70
    onboarding_success_share: float = 0.80

    # -- voice of the customer and its planted effects on scores -----------------------------
    relational_nps_share: float = 0.40
    """Buyers who answer a relational NPS survey once."""
    delivery_survey_share: float = 0.25
    support_survey_share: float = 0.40
    rating_share: float = 0.15
    """Orders rated publicly (1-5 stars with a review text)."""
    comment_share: float = 0.05
    """Buyers who leave a text-only comment."""
    survey_text_share: float = 0.35
    """Survey answers that come with a verbatim."""
    email_only_share: float = 0.30
    """Survey answers that name the customer by e-mail only (source `survey`)."""
    satisfaction_base: float = 7.6
    """Mean latent satisfaction, on the 0-10 NPS scale."""
    person_effect_sd: float = 1.3
    noise_sd: float = 1.2
    effect_late_delivery: float = -2.5
    effect_unresolved_support: float = -3.0
    effect_onboarding_success: float = 1.0
    experience_memory_days: float = 180.0
    """A relational answer remembers late deliveries, unresolved contacts and onboardings this
    long."""
    value_effect: float = 1.0
    """Latent satisfaction points per SD of customer value (the planted confounder)."""
    lounge_share_by_value_quintile: tuple[float, float, float, float, float] = (
        0.02, 0.08, 0.25, 0.50, 0.80,
    )  # fmt: skip
    """Buyers who use the loyalty lounge (no effect on scores), lowest to highest value quintile."""
    lounge_visit_days: float = 60.0
    """Mean days between a lounge member's visits."""

    # -- advocacy and social -----------------------------------------------------------------
    referral_share: float = 0.30
    """Promoters (relational NPS 9-10) who refer a friend."""
    referral_conversion: float = 0.35
    """Referrals whose friend becomes a customer (capped by `referee_share`)."""
    mentions_per_person: float = 0.5
    brand_shares: tuple[float, float, float] = (0.45, 0.30, 0.25)
    """Share of voice of Northwind, Contoso, Fabrikam."""
    known_author_share: float = 0.20
    """Northwind mentions written by a known customer (their CRM id is given)."""
    planted_self_referrals: int = 0
    """Self-referrals planted (a referrer's own second account converts with their code), with
    their truth in `truth/referral_fraud.csv`; 0 leaves every other row as it was."""
    planted_rings: int = 0
    """Referral rings planted (3 to 5 new accounts sharing a drop address or a payment card)."""

    # -- export artefacts --------------------------------------------------------------------
    duplicate_event_share: float = 0.0005
    """Event rows exported twice (same event_id, same content)."""

    def __post_init__(self) -> None:
        """Refuse settings that cannot make a valid world, with a one-line reason."""
        if self.people < 1 or self.people > 2_000_000:
            raise ValueError("people must be between 1 and 2,000,000")
        if not 0.0 <= self.dirty_rate < 0.5:
            raise ValueError("dirty_rate must be in [0, 0.5)")
        if self.file_format not in ("csv", "parquet"):
            raise ValueError("file_format must be 'csv' or 'parquet'")
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        if not 0.0 <= self.value_effect <= self.person_effect_sd:
            raise ValueError("value_effect must be in [0, person_effect_sd]")
        if len(self.lounge_share_by_value_quintile) != 5 or self.lounge_visit_days <= 0:
            raise ValueError("lounge shares need five quintiles and a positive visit gap")
        if self.planted_self_referrals < 0 or self.planted_rings < 0:
            raise ValueError("planted_self_referrals and planted_rings must be >= 0")
        if len(self.competitors) != 2 or len(self.brand_shares) != 3:
            raise ValueError("the world has our brand and exactly two competitors")
        self._check_personas()

    def _check_personas(self) -> None:
        """Persona shares and record mixes must be distributions; the drift must be possible."""
        names = [p.name for p in self.personas]
        if not names or len(set(names)) != len(names) or self.drift_persona not in names:
            raise ValueError("personas need distinct names, one of them the drift_persona")
        if abs(sum(p.share for p in self.personas) - 1.0) > 1e-9 or any(
            p.share < 0 or abs(sum(p.record_mix) - 1.0) > 1e-9 or min(p.record_mix) < 0
            for p in self.personas
        ):
            raise ValueError("persona shares and each persona's record_mix must sum to 1")
        for p in self.personas:
            rates = (p.online_share, p.app_share, p.search_share)
            if min(rates) < 0 or max(rates) > 1 or p.views_per_session < 1:
                raise ValueError(f"persona {p.name}: shares in [0, 1], views_per_session >= 1")
            if p.browse_sessions < 0 or p.social_weight < 0:
                raise ValueError(f"persona {p.name}: browse_sessions and social_weight >= 0")
        if not 0.0 <= self.drift_end_share < 1.0 or not 0.0 <= self.persona_noise <= 1.0:
            raise ValueError("drift_end_share must be in [0, 1) and persona_noise in [0, 1]")
        if self.personas[names.index(self.drift_persona)].share >= 1.0:
            raise ValueError("the drift_persona cannot start with every customer")

    @property
    def window_days(self) -> float:
        """Length of the observation window in days (the end day included)."""
        return float((self.window_end - self.window_start).days + 1)

    @property
    def epoch_s(self) -> int:
        """Unix seconds of the window start; simulated times are days since then."""
        start = datetime(
            self.window_start.year, self.window_start.month, self.window_start.day, tzinfo=UTC
        )
        return int(start.timestamp())

    @property
    def brands(self) -> tuple[str, ...]:
        """Our brand first, then the competitors."""
        return (self.brand, *self.competitors)
