"""Workspace configuration: the typed view of `cxloop.toml`.

The file is written from a commented template so a user can read what every setting does;
the loader turns it into frozen dataclasses and rejects wrong types with the key's name,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import itertools
import tomllib
import warnings
import zoneinfo
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from cxloop.errors import ConfigError, CxloopError
from cxloop.loop_settings import CasesSettings, TriggersSettings

CONFIG_FILE = "cxloop.toml"


@dataclass(frozen=True)
class BrandSettings:
    """Who "we" are, and whom we compare ourselves with (mentions, share of voice)."""

    name: str = "Our brand"
    competitors: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocaleSettings:
    """How to read values that carry no unit of their own."""

    currency: str = "USD"
    timezone: str = "UTC"
    default_country: str = "US"


@dataclass(frozen=True)
class IdentitySettings:
    """Deterministic identity resolution rules (see docs/identity.md)."""

    match_email: bool = True
    match_phone: bool = True
    stitch_anonymous_id: bool = True
    # An email or phone shared by more source records than this is a placeholder
    # (a shop's own number, "noreply@..."), never evidence that records are one person.
    max_records_per_identifier: int = 20
    placeholder_emails: tuple[str, ...] = (
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "test",
        "none",
        "null",
        "na",
        "n/a",
        "unknown",
        "info",
    )
    probabilistic: bool = False
    # Probabilistic matching (docs/identity.md): a pair of records whose match probability
    # reaches `match_threshold` is merged; pairs from `review_threshold` up to it are listed
    # for clerical review (`cxloop profiles WS --review`) and never merged.
    match_threshold: float = 0.95
    review_threshold: float = 0.5
    # Training: random record pairs for the u probabilities, and the seed of that sample.
    training_pairs: int = 10_000_000
    training_seed: int = 42

    def validate(self, origin: str) -> None:
        """Checks the types alone cannot make (called by WorkspaceConfig.validate)."""
        if self.max_records_per_identifier < 2:
            raise ConfigError(f"{origin}: [identity] max_records_per_identifier must be >= 2")
        if not 0 < self.review_threshold <= self.match_threshold < 1:
            raise ConfigError(
                f"{origin}: [identity] needs 0 < review_threshold <= match_threshold < 1 "
                f"(got {self.review_threshold} and {self.match_threshold})"
            )
        if self.training_pairs < 1000:
            raise ConfigError(f"{origin}: [identity] training_pairs must be >= 1000")


@dataclass(frozen=True)
class IngestSettings:
    """Loading behaviour."""

    # Total bytes of input at which the CLI shows a progress bar.
    progress_min_bytes: int = 20_000_000


@dataclass(frozen=True)
class ScorecardSettings:
    """The composite scorecard (docs/metrics.md) and its goals."""

    # Touchpoints that mean the customer needed help (support contact rate).
    support_touchpoints: tuple[str, ...] = ("support_contact", "chat")
    # Minutes of inactivity that end a journey (steps per journey).
    journey_gap_minutes: int = 30
    # Default period of trends: month, quarter or year.
    period: str = "month"
    # Targets, e.g. "nps >= 40 by 2025-12-31", "retention_rate >= 0.35".
    goals: tuple[str, ...] = ()


@dataclass(frozen=True)
class JourneyConfig:
    """Journeys (docs/journey.md): the windows that define visits, carts and conversions."""

    # Hours after an add-to-cart within which an order keeps the cart from being abandoned.
    cart_window_hours: float = 24.0
    # Minutes of inactivity that end a visit (bounce rate).
    visit_gap_minutes: float = 30.0
    # Days after a touchpoint within which the next stage counts as its conversion.
    conversion_window_days: float = 30.0
    # Touchpoints kept at the end of a path, and the number of top paths shown.
    path_steps: int = 5
    top_paths: int = 10
    # The three touchpoints of the web funnel before the order.
    funnel_steps: tuple[str, ...] = ("product_view", "add_to_cart", "checkout")


@dataclass(frozen=True)
class VocConfig:
    """Voice of the customer (docs/voc.md): text limits and themes."""

    # Characters of a text that are analysed; longer texts are truncated with a warning.
    max_chars: int = 5000
    # Discovered themes: 0 = choose the number by topic coherence between min and max.
    themes: int = 0
    min_themes: int = 4
    max_themes: int = 20
    # A text is about a discovered theme when the theme holds this share of its weight.
    theme_share: float = 0.25
    # Your own themes, which take precedence: theme name -> keywords or phrases.
    pinned: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentsConfig:
    """Loyalty x advocacy segments (docs/metrics.md#segments): the thresholds that define them."""

    # Behavioural loyalty: at least this many completed orders, the last one within
    # `active_days` of the end of the data, and (when a CLV model can be fitted) a
    # probability of being alive of at least `min_p_alive`.
    min_orders: int = 2
    active_days: int = 365
    min_p_alive: float = 0.5
    # Attitudinal loyalty (affinity): the latest likelihood-to-recommend (0-10) at least
    # `affinity_min_nps`; without one, mean text sentiment at least `affinity_min_sentiment`.
    # No affinity: latest score at most `no_affinity_max_nps`, or sentiment at most
    # `no_affinity_max_sentiment`. In between: neutral; without any evidence: unknown.
    affinity_min_nps: int = 9
    no_affinity_max_nps: int = 6
    affinity_min_sentiment: float = 0.3
    no_affinity_max_sentiment: float = -0.05
    # Advocacy acts count within this many days of the end of the data (0 = all the data).
    advocacy_days: int = 0
    # Period of segment transitions (month, quarter or year).
    period: str = "quarter"


@dataclass(frozen=True)
class PersonasConfig:
    """Personas (need states): how many are tried and how drift is flagged."""

    min_personas: int = 2
    max_personas: int = 8
    # Significance level of the drift tests (Benjamini-Hochberg across periods).
    drift_alpha: float = 0.05
    period: str = "quarter"
    seed: int = 0


@dataclass(frozen=True)
class EngineSettings:
    """Where analytics run: `duckdb` (embedded) or `spark` (settings in `[spark]`)."""

    name: str = "duckdb"
    threads: int = 0  # 0 = all cores
    memory_limit: str = ""  # e.g. "8GB"; empty = the engine's default


ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class SparkSettings:
    """The Spark engine (docs/scale.md): which cluster, and where its data lake is."""

    # A classic session's master ("local[*]", "spark://host:7077", "yarn", "k8s://..."),
    # or a Spark Connect URL in `remote` ("sc://host:15002"), which then wins.
    master: str = "local[*]"
    remote: str = ""
    app_name: str = "cxloop"
    # A folder of Parquet tables, one sub-folder per table (a local path or a URI such as
    # "s3a://bucket/cxloop"). Empty: the workspace's tables, exported to <workspace>/lake.
    lake: str = ""
    # Further Spark settings as "key=value".
    conf: tuple[str, ...] = ("spark.sql.shuffle.partitions=8",)

    def conf_pairs(self) -> dict[str, str]:
        pairs = {}
        for item in self.conf:
            key, _, value = item.partition("=")
            pairs[key.strip()] = value.strip()
        return pairs

    def validate(self, origin: str) -> None:
        for item in self.conf:
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"{origin}: [spark] conf entry {item!r} is not 'key=value'")
        if self.remote and not self.remote.startswith("sc://"):
            raise ConfigError(f"{origin}: [spark] remote must be a Spark Connect URL 'sc://...'")
        if not self.app_name.strip():
            raise ConfigError(f"{origin}: [spark] app_name must not be empty")


@dataclass(frozen=True)
class ServeSettings:
    """`cxloop serve`: where it listens and the limits that protect it from a noisy client."""

    host: str = "127.0.0.1"
    port: int = 8040
    # Requests per minute per API key (a token bucket; `rate_burst` requests at once).
    rate_limit_per_minute: int = 6000
    rate_burst: int = 200
    # Largest request body accepted (an ingest batch), in megabytes.
    max_body_mb: float = 32.0
    # Largest number of records in one ingest request.
    max_batch_records: int = 100_000
    # Ingest requests arriving together are loaded as one batch for at most this long.
    group_commit_ms: float = 2.0
    # Records accepted on the fast path (journaled) are loaded at least this often.
    journal_flush_ms: float = 250.0
    # While data keeps arriving, an analysis computed less than this many seconds ago is
    # served as it is (0 = always recompute after new data).
    max_staleness_s: float = 10.0


@dataclass(frozen=True)
class ProgramsSettings:
    """Where the programs (loyalty ledger) keep their transactional store (docs/loyalty.md)."""

    # Empty: an embedded SQLite file in the workspace (programs.sqlite); or a PostgreSQL URL
    # such as "postgresql://cxloop@db.example.com:5432/cxloop" for production.
    database_url: str = ""


class TierLevel(NamedTuple):
    """One tier of the loyalty program, parsed from a `[loyalty] tiers` entry."""

    name: str
    # Points earned, or currency spent, in the rolling window (`tier_basis`) to reach it.
    threshold: Decimal
    # Earned points are multiplied by this (exact decimal; points are then rounded down).
    multiplier: Decimal


@dataclass(frozen=True)
class LoyaltySettings:
    """The loyalty program's earning rules, expiry and tiers (docs/loyalty.md).

    Points are whole numbers; values and multipliers are exact decimals written as strings
    ("0.01", "1.25"), never floats, so a liability report adds up to the cent.
    """

    # Points per unit of the workspace currency of a completed order (before multipliers).
    points_per_unit: int = 1
    # Value of one point in the workspace currency, a decimal string (liability, breakage).
    point_value: str = "0.01"
    # Points expire this many calendar months after they were earned; 0 = never.
    expiry_months: int = 24
    # Bonus points for a public review (with text) and for a referral that converted.
    review_bonus: int = 50
    referral_bonus: int = 200
    # "name:threshold:multiplier", lowest first; the first threshold is 0.
    tiers: tuple[str, ...] = ("member:0:1", "silver:500:1.25", "gold:2000:1.5")
    # What the thresholds count: "points" earned or "spend" (currency) in the window.
    tier_basis: str = "spend"
    tier_window_months: int = 12

    @property
    def tier_levels(self) -> tuple[TierLevel, ...]:
        """The tiers as (name, threshold, multiplier), lowest first (validated on load)."""
        return tuple(_parse_tier(text, "[loyalty] tiers") for text in self.tiers)

    @property
    def point_value_decimal(self) -> Decimal:
        """`point_value` as an exact `Decimal`."""
        return Decimal(self.point_value.strip())

    def multiplier(self, tier: str) -> Decimal:
        """The earning multiplier of a tier; 1 for a tier no longer configured.

        A member keeps the tier recorded in the ledger even when the configuration drops
        it; such a member earns at the base rate until the tiers job moves them.
        """
        for level in self.tier_levels:
            if level.name == tier:
                return level.multiplier
        return Decimal(1)

    def validate(self, origin: str = "config") -> None:
        """Check what types cannot: non-negative figures, a well-formed tier ladder."""
        where = f"{origin}: [loyalty]"
        for name in ("points_per_unit", "expiry_months", "review_bonus", "referral_bonus"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where} {name} must be >= 0")
        if self.tier_window_months < 1:
            raise ConfigError(f"{where} tier_window_months must be >= 1")
        try:
            value = self.point_value_decimal
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            raise ConfigError(
                f'{where} point_value must be a decimal string >= 0 such as "0.01", '
                f"not {self.point_value!r}"
            )
        if self.tier_basis not in {"points", "spend"}:
            raise ConfigError(f'{where} tier_basis must be "points" or "spend"')
        if not self.tiers:
            raise ConfigError(f"{where} tiers needs at least one tier")
        levels = [_parse_tier(text, f"{where} tiers") for text in self.tiers]
        if levels[0].threshold != 0:
            raise ConfigError(f"{where} tiers: the first tier's threshold must be 0")
        names = [level.name for level in levels]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where} tiers: tier names must be distinct: {names}")
        for low, high in itertools.pairwise(levels):
            if high.threshold <= low.threshold:
                raise ConfigError(
                    f"{where} tiers: thresholds must increase ({low.name} {low.threshold}, "
                    f"{high.name} {high.threshold})"
                )
        if self.tier_basis == "points":
            for level in levels:
                if level.threshold != level.threshold.to_integral_value():
                    raise ConfigError(
                        f"{where} tiers: {level.name}'s threshold counts points, a whole number"
                    )


def _parse_tier(text: str, where: str) -> TierLevel:
    """`"silver:500:1.25"` as a `TierLevel`; ConfigError naming the entry when malformed."""
    parts = [part.strip() for part in text.split(":")]
    bad = ConfigError(
        f'{where}: {text!r} must be "name:threshold:multiplier" with a threshold >= 0 and '
        'a decimal multiplier >= 1, e.g. "silver:500:1.25"'
    )
    if len(parts) != 3 or not parts[0]:
        raise bad
    try:
        threshold, multiplier = Decimal(parts[1]), Decimal(parts[2])
    except InvalidOperation:
        raise bad from None
    if not (threshold.is_finite() and multiplier.is_finite()):
        raise bad
    if threshold < 0 or multiplier < 1:
        raise bad
    return TierLevel(parts[0], threshold, multiplier)


#: The advocacy program's conditions an ask's eligibility may name (docs/advocacy.md).
ADVOCACY_CONDITIONS = ("anyone", "promoter", "not_detractor", "recent_good", "customer", "consent")


@dataclass(frozen=True)
class AdvocacySettings:
    """The advocacy program: the ladder of asks, rewards, referrals and their fraud checks
    (docs/advocacy.md). Off by default: nothing is asked or rewarded until it is enabled."""

    enabled: bool = False
    # The ladder of asks, smallest first.
    ladder: tuple[str, ...] = ("survey", "review", "story", "referral", "reference")
    # "ask: condition, condition" (all must hold); conditions: anyone, promoter,
    # not_detractor, recent_good, customer, consent, completed:<ask>.
    eligibility: tuple[str, ...] = (
        "survey: not_detractor",
        "review: promoter, recent_good",
        "story: promoter, completed:review",
        "referral: promoter, customer",
        "reference: promoter, completed:referral",
    )
    # Days between any two asks to one person, and before the same ask is made again.
    cooldown_days: int = 30
    ask_cooldown_days: int = 180
    # Days within which a good experience counts as recent (`recent_good`).
    recent_days: int = 90
    # A review request to a detractor (latest likelihood to recommend 0-6) is refused unless
    # this is true, whatever the eligibility says.
    allow_detractor_reviews: bool = False
    # Points for a completed ask, "ask:points".
    ask_points: tuple[str, ...] = (
        "survey:0", "review:0", "story:100", "referral:0", "reference:300",
    )  # fmt: skip
    # Points for a public review with text, to the referrer and to the referee of a converted
    # referral (after `holding_days`; a return or cancellation of the order reverses them).
    review_points: int = 50
    referrer_points: int = 500
    referee_points: int = 250
    holding_days: int = 30
    # Enrol a rewarded profile in the loyalty program when it is not a member yet.
    enrol_on_reward: bool = True
    # Fraud checks: more than velocity_max conversions of one referrer within velocity_days
    # are held; a referee sharing an identifier with ring_min_size - 1 other referees is a ring.
    velocity_max: int = 5
    velocity_days: int = 7
    ring_min_size: int = 3
    # Cost of acquiring a customer through paid channels, a decimal string in the workspace
    # currency (compared with the cost of a referred customer).
    paid_cac: str = "40.00"
    # Weights of the advocacy score's parts, "part:weight".
    score_weights: tuple[str, ...] = (
        "referral:1", "converted:3", "review:2", "mention:1", "reference:5", "reach:1",
    )  # fmt: skip
    # Levels (badges) by score, "name:minimum score", lowest first.
    levels: tuple[str, ...] = ("advocate:1", "champion:10", "ambassador:25")

    def ask_rules(self) -> dict[str, tuple[str, ...]]:
        """Each ask's conditions (an ask without a line has none: anyone)."""
        rules: dict[str, tuple[str, ...]] = dict.fromkeys(self.ladder, ())
        for line in self.eligibility:
            ask, _, conditions = line.partition(":")
            rules[ask.strip()] = tuple(c.strip() for c in conditions.split(",") if c.strip())
        return rules

    def points_of_ask(self, ask: str) -> int:
        """Points for completing `ask` (0 when not listed)."""
        return _named_ints(self.ask_points, "ask_points").get(ask, 0)

    def weights(self) -> dict[str, int]:
        return _named_ints(self.score_weights, "score_weights")

    def level_thresholds(self) -> list[tuple[str, int]]:
        return list(_named_ints(self.levels, "levels").items())

    @property
    def paid_cac_decimal(self) -> Decimal:
        return Decimal(self.paid_cac.strip())

    def validate(self, origin: str = "config") -> None:
        """Names, numbers and ladders that the types alone cannot check."""
        where = f"{origin}: [advocacy]"
        if not self.ladder or len(set(self.ladder)) != len(self.ladder):
            raise ConfigError(f"{where} ladder must name distinct asks")
        for line in self.eligibility:
            ask, colon, conditions = line.partition(":")
            if not colon or ask.strip() not in self.ladder:
                raise ConfigError(
                    f"{where} eligibility {line!r}: expected 'ask: condition, ...' with an ask "
                    f"of the ladder {list(self.ladder)}"
                )
            for condition in (c.strip() for c in conditions.split(",") if c.strip()):
                done = condition.removeprefix("completed:")
                if condition not in ADVOCACY_CONDITIONS and (
                    done == condition or done not in self.ladder
                ):
                    raise ConfigError(
                        f"{where} eligibility {line!r}: unknown condition {condition!r} "
                        f"(one of {', '.join(ADVOCACY_CONDITIONS)}, completed:<ask>)"
                    )
        for name in (
            "cooldown_days", "ask_cooldown_days", "recent_days", "review_points",
            "referrer_points", "referee_points", "holding_days", "velocity_days",
        ):  # fmt: skip
            if getattr(self, name) < 0:
                raise ConfigError(f"{where} {name} must be >= 0")
        if self.velocity_max < 1 or self.ring_min_size < 2:
            raise ConfigError(f"{where} velocity_max must be >= 1 and ring_min_size >= 2")
        try:
            for name in ("ask_points", "score_weights", "levels"):
                values = _named_ints(getattr(self, name), name)
                if any(v < 0 for v in values.values()):
                    raise ConfigError(f"{where} {name} values must be >= 0")
            unknown = set(_named_ints(self.ask_points, "ask_points")) - set(self.ladder)
            if unknown:
                raise ConfigError(f"{where} ask_points names asks not in the ladder: {unknown}")
            parts = set(self.weights()) - {
                "referral", "converted", "review", "mention", "reference", "reach",
            }  # fmt: skip
            if parts:
                raise ConfigError(f"{where} score_weights: unknown parts {sorted(parts)}")
        except ValueError as exc:
            raise ConfigError(f"{where} {exc}") from None
        try:
            cac = self.paid_cac_decimal
        except InvalidOperation:
            cac = Decimal("NaN")
        if not cac.is_finite() or cac < 0:
            raise ConfigError(f'{where} paid_cac must be a decimal string >= 0 such as "40.00"')


def _named_ints(items: tuple[str, ...], name: str) -> dict[str, int]:
    """Parse "name:integer" strings (ValueError naming the bad one)."""
    out: dict[str, int] = {}
    for item in items:
        key, colon, number = item.partition(":")
        try:
            if not colon or not key.strip():
                raise ValueError
            out[key.strip()] = int(number.strip())
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not 'name:whole number'") from None
    return out


@dataclass(frozen=True)
class WorkspaceConfig:
    """All settings of one workspace."""

    brand: BrandSettings = field(default_factory=BrandSettings)
    locale: LocaleSettings = field(default_factory=LocaleSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    scorecard: ScorecardSettings = field(default_factory=ScorecardSettings)
    journey: JourneyConfig = field(default_factory=JourneyConfig)
    voc: VocConfig = field(default_factory=VocConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    personas: PersonasConfig = field(default_factory=PersonasConfig)
    engine: EngineSettings = field(default_factory=EngineSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    programs: ProgramsSettings = field(default_factory=ProgramsSettings)
    loyalty: LoyaltySettings = field(default_factory=LoyaltySettings)
    advocacy: AdvocacySettings = field(default_factory=AdvocacySettings)
    cases: CasesSettings = field(default_factory=CasesSettings)
    triggers: TriggersSettings = field(default_factory=TriggersSettings)

    @classmethod
    def load(cls, path: Path) -> WorkspaceConfig:
        """Read and validate a `cxloop.toml`."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: no such file") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        return cls.from_dict(raw, origin=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, origin: str = "config") -> WorkspaceConfig:
        """Build a config from parsed TOML, checking every key and type."""
        sections: dict[str, Any] = {}
        for section in fields(cls):
            value = raw.get(section.name, {})
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: [{section.name}] must be a table")
            section_type = type(section.default_factory())  # type: ignore[misc]
            sections[section.name] = _build_section(section_type, value, section.name, origin)
        for extra in sorted(set(raw) - {f.name for f in fields(cls)}):
            # Later versions may add sections; an unknown one is not fatal but is not silent.
            warnings.warn(f"{origin}: unknown section [{extra}] ignored", stacklevel=2)
        config = cls(**sections)
        config.validate(origin)
        return config

    def validate(self, origin: str = "config") -> None:
        """Check values that types alone cannot (time zone names, currency codes)."""
        try:
            zoneinfo.ZoneInfo(self.locale.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{origin}: [locale] timezone {self.locale.timezone!r} is not an IANA time zone"
            ) from exc
        if len(self.locale.currency) != 3 or not self.locale.currency.isalpha():
            raise ConfigError(f"{origin}: [locale] currency must be an ISO 4217 code like 'USD'")
        if len(self.locale.default_country) != 2 or not self.locale.default_country.isalpha():
            raise ConfigError(
                f"{origin}: [locale] default_country must be ISO 3166 alpha-2 like 'US'"
            )
        names = [self.brand.name, *self.brand.competitors]
        keys = [n.strip().lower() for n in names]
        if any(not k for k in keys) or len(set(keys)) != len(keys):
            raise ConfigError(
                f"{origin}: [brand] name and competitors must be distinct, non-empty names "
                f"(ignoring case and spaces): {names}"
            )
        if not all(ch.isalnum() or ch in ". " for ch in self.engine.memory_limit):
            raise ConfigError(f"{origin}: [engine] memory_limit must look like '8GB'")
        if self.engine.name not in ENGINES:
            raise ConfigError(
                f"{origin}: [engine] name {self.engine.name!r} is not one of {', '.join(ENGINES)}"
            )
        self.spark.validate(origin)
        from cxloop.analytics.scorecard.goals import parse_goal

        for goal in self.scorecard.goals:
            parse_goal(goal, origin=f"{origin}: [scorecard] goals")
        if self.scorecard.period not in {"month", "quarter", "year"}:
            raise ConfigError(f"{origin}: [scorecard] period must be month, quarter or year")
        if any(step != step.strip().lower() for step in self.journey.funnel_steps):
            raise ConfigError(
                f"{origin}: [journey] funnel_steps are touchpoint names as loaded: lower case"
            )
        if len(self.journey.funnel_steps) != 3:
            raise ConfigError(f"{origin}: [journey] funnel_steps names exactly 3 touchpoints")
        if self.journey.path_steps < 1 or self.journey.top_paths < 1:
            raise ConfigError(f"{origin}: [journey] path_steps and top_paths must be >= 1")
        if self.scorecard.journey_gap_minutes < 1:
            raise ConfigError(f"{origin}: [scorecard] journey_gap_minutes must be >= 1")
        if not 1 <= self.voc.min_themes <= self.voc.max_themes or self.voc.themes < 0:
            raise ConfigError(
                f"{origin}: [voc] needs 1 <= min_themes <= max_themes and themes >= 0"
            )
        if not 0 < self.voc.theme_share < 1:
            raise ConfigError(f"{origin}: [voc] theme_share must be between 0 and 1")
        if self.voc.max_chars < 1:
            raise ConfigError(f"{origin}: [voc] max_chars must be >= 1")
        # The analyses own their rules (a CLI override bypasses this loader); one set of checks.
        from cxloop.analytics.personas.settings import PersonasSettings
        from cxloop.analytics.segments.settings import SegmentsSettings

        for name, settings_type in (("segments", SegmentsSettings), ("personas", PersonasSettings)):
            try:
                settings_type(**asdict(getattr(self, name))).validate()
            except CxloopError as exc:
                raise ConfigError(f"{origin}: [{name}] {exc}") from None
        serve = self.serve
        if not 0 < serve.port < 65536:
            raise ConfigError(f"{origin}: [serve] port must be between 1 and 65535")
        if serve.rate_limit_per_minute < 1 or serve.rate_burst < 1:
            raise ConfigError(
                f"{origin}: [serve] rate_limit_per_minute and rate_burst must be >= 1"
            )
        if serve.journal_flush_ms <= 0:
            raise ConfigError(f"{origin}: [serve] journal_flush_ms must be > 0")
        if serve.max_staleness_s < 0:
            raise ConfigError(f"{origin}: [serve] max_staleness_s must be >= 0")
        if serve.max_body_mb <= 0 or serve.max_batch_records < 1 or serve.group_commit_ms < 0:
            raise ConfigError(
                f"{origin}: [serve] max_body_mb and max_batch_records must be positive, "
                "group_commit_ms >= 0"
            )
        url = self.programs.database_url
        if url and not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ConfigError(
                f"{origin}: [programs] database_url must be empty (embedded store) or a "
                "PostgreSQL URL like postgresql://user@host:5432/database"
            )
        self.identity.validate(origin)
        self.loyalty.validate(origin)
        self.advocacy.validate(origin)
        self.cases.validate(origin)
        self.triggers.validate(origin, self.cases)


def _build_section(section_type: type, values: dict[str, Any], name: str, origin: str) -> Any:
    known = {f.name: f for f in fields(section_type)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown setting [{name}] {key}")
        default = getattr(section_type(), key)
        kwargs[key] = _coerce(value, default, f"[{name}] {key}", origin)
    return section_type(**kwargs)


def _coerce(value: Any, default: Any, key: str, origin: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: {key} must be true or false")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{origin}: {key} must be a number")
        if default > 0 and value <= 0:  # windows, shares, levels; sentiment may be negative
            raise ConfigError(f"{origin}: {key} must be a positive number")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: {key} must be an integer")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{origin}: {key} must be a string")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{origin}: {key} must be a list of strings")
        return tuple(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {key} must be a table of name = [strings]")
        out: dict[str, tuple[str, ...]] = {}
        for name, words in value.items():
            if (
                not isinstance(words, list)
                or not words
                or not all(isinstance(w, str) and w.strip() for w in words)
            ):
                raise ConfigError(f"{origin}: {key}.{name} must be a non-empty list of strings")
            out[str(name)] = tuple(w.strip() for w in words)
        return out
    return value


def render_config(
    *,
    brand: str = "Our brand",
    competitors: tuple[str, ...] = (),
    currency: str = "USD",
    timezone: str = "UTC",
    default_country: str = "US",
) -> str:
    """The commented `cxloop.toml` written by `cxloop init`."""

    def toml_str(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    comp = ", ".join(toml_str(c) for c in competitors)
    return f"""\
# cxloop workspace configuration. Every setting is optional; the comment gives its default.
# Documentation: docs/configuration.md

[brand]
# Our brand as it appears in social mentions and reviews.
name = {toml_str(brand)}
# Competitor brands tracked in mentions (share of voice, competitive benchmark).
competitors = [{comp}]

[locale]
# ISO 4217 currency of amounts that carry no currency column.
currency = {toml_str(currency)}
# IANA time zone of timestamps written without an offset (default "UTC").
timezone = {toml_str(timezone)}
# ISO 3166 alpha-2 country used to read phone numbers written without a country code.
default_country = {toml_str(default_country)}

[identity]
# Deterministic rules that join source records into one unified profile.
match_email = true            # same email, trimmed and lower-cased
match_phone = true            # same phone in E.164 digits
stitch_anonymous_id = true    # an event carrying both an anonymous id and a customer
# An email or phone shared by more records than this is treated as a placeholder, not a person.
max_records_per_identifier = 20
# Local parts of emails that never identify a person (noreply@..., test@...).
# placeholder_emails = ["noreply", "no-reply", "donotreply", "do-not-reply", "test", "none",
#                       "null", "na", "n/a", "unknown", "info"]
# Probabilistic matching (Fellegi-Sunter, Splink) on name, date of birth, address and postcode,
# email and phone, beside the rules above; the trained model is saved in identity_model.json.
probabilistic = false
# Pairs whose match probability reaches this are merged ...
match_threshold = 0.95
# ... pairs from this probability up to it are listed for review (cxloop profiles WS --review).
review_threshold = 0.5
# Training: random record pairs for the u probabilities, and the seed of that sample.
training_pairs = 10000000
training_seed = 42

[ingest]
# Files larger than this many bytes show a progress bar while loading.
progress_min_bytes = 20000000

[scorecard]
# Touchpoints that mean the customer needed help (support contact rate).
support_touchpoints = ["support_contact", "chat"]
# Minutes of inactivity that end a journey (steps per journey).
journey_gap_minutes = 30
# Default period of trends: "month", "quarter" or "year".
period = "month"
# Goals: "METRIC >= TARGET [by YYYY-MM-DD]"; metric names in docs/metrics.md. Example:
# goals = ["nps >= 40 by 2026-12-31", "retention_rate >= 0.35", "ces >= 5.5"]
goals = []

[journey]
# Hours after an add-to-cart within which an order keeps the cart from being abandoned.
cart_window_hours = 24
# Minutes of inactivity that end a visit (bounce rate).
visit_gap_minutes = 30
# Days after a touchpoint within which the next stage counts as its conversion.
conversion_window_days = 30
# Touchpoints kept at the end of a path, and how many top paths are shown.
path_steps = 5
top_paths = 10
# The three touchpoints of the web funnel before the order.
funnel_steps = ["product_view", "add_to_cart", "checkout"]

[voc]
# Characters of a text that are analysed; longer texts are truncated with a warning.
max_chars = 5000
# Discovered themes: 0 = choose the number by topic coherence between min and max.
themes = 0
min_themes = 4
max_themes = 20
# A text is about a discovered theme when that theme holds this share of its weight.
theme_share = 0.25

# Your own themes take precedence over discovered ones: name = [keywords or phrases].
[voc.pinned]
# delivery = ["late", "courier", "parcel", "tracking"]

[segments]
# Behavioural loyalty: at least min_orders completed orders, the last within active_days of the
# end of the data, and (when a CLV model fits) a probability of being alive >= min_p_alive.
min_orders = 2
active_days = 365
min_p_alive = 0.5
# Attitudinal loyalty: latest likelihood to recommend >= affinity_min_nps (no affinity at or
# below no_affinity_max_nps); without an answer, mean text sentiment against the two thresholds.
affinity_min_nps = 9
no_affinity_max_nps = 6
affinity_min_sentiment = 0.3
no_affinity_max_sentiment = -0.05
# Advocacy acts counted within this many days of the end of the data (0 = all the data).
advocacy_days = 0
# Period of the segment transition matrix: "month", "quarter" or "year".
period = "quarter"

[personas]
# Numbers of personas tried (the best by BIC is kept), drift test level and period.
min_personas = 2
max_personas = 8
drift_alpha = 0.05
period = "quarter"
seed = 0

[engine]
# Where analytics run: "duckdb" (embedded, default) or "spark" (see [spark], docs/scale.md).
name = "duckdb"
# Worker threads; 0 = all cores.
threads = 0
# Memory cap such as "8GB"; empty = the engine's default.
memory_limit = ""

[spark]
# The Spark engine (pip install 'cxloop[spark]'). A classic session's master, or a Spark
# Connect URL in `remote` ("sc://host:15002"), which then wins.
master = "local[*]"
remote = ""
app_name = "cxloop"
# Folder of Parquet tables, one sub-folder per table (a path or a URI like "s3a://bucket/cx");
# empty: the workspace's own tables, exported to <workspace>/lake before each analysis.
lake = ""
# Further Spark settings as "key=value".
conf = ["spark.sql.shuffle.partitions=8"]

[serve]
# `cxloop serve`: address and port of the REST API and dashboard.
host = "127.0.0.1"
port = 8040
# Requests per minute per API key, and how many may arrive at once.
rate_limit_per_minute = 6000
rate_burst = 200
# Largest request body (megabytes) and records per ingest request.
max_body_mb = 32.0
max_batch_records = 100000
# Ingest requests arriving within this many milliseconds are loaded together.
group_commit_ms = 2.0
# Records accepted on the fast path (synced to the journal) are loaded this often.
journal_flush_ms = 250.0
# While data keeps arriving, serve an analysis computed less than this many seconds ago
# (a request with `Cache-Control: no-cache` always gets current figures).
max_staleness_s = 10.0

[programs]
# The loyalty ledger's transactional store. Empty: an embedded SQLite file in the workspace
# (programs.sqlite). In production, a PostgreSQL URL such as
# "postgresql://cxloop@db.example.com:5432/cxloop" (password from ~/.pgpass or PGPASSWORD).
database_url = ""

[loyalty]
# Points per unit of the workspace currency of a completed order, before the tier multiplier
# (points are whole: a fraction is rounded down).
points_per_unit = 1
# Value of one point in the workspace currency, as a decimal string (liability report).
point_value = "0.01"
# Points expire this many months after they were earned; 0 = never.
expiry_months = 24
# Bonus points for a public review with text, and for a converted referral (to the referrer).
review_bonus = 50
referral_bonus = 200
# Tiers as "name:threshold:multiplier", lowest first, the first threshold 0; multipliers are
# decimals >= 1 applied to points earned on orders.
tiers = ["member:0:1", "silver:500:1.25", "gold:2000:1.5"]
# What the thresholds count: "spend" (currency of completed orders) or "points" earned, within
# the last tier_window_months months.
tier_basis = "spend"
tier_window_months = 12

[advocacy]
# The advocacy program (docs/advocacy.md): off until enabled.
enabled = false
# The ladder of asks, smallest first, and who may be asked ("ask: condition, ..."; conditions:
# anyone, promoter, not_detractor, recent_good, customer, consent, completed:<ask>).
ladder = ["survey", "review", "story", "referral", "reference"]
eligibility = ["survey: not_detractor", "review: promoter, recent_good",
               "story: promoter, completed:review", "referral: promoter, customer",
               "reference: promoter, completed:referral"]
# Days between any two asks to one person; before the same ask is made again; and within
# which a good experience is recent.
cooldown_days = 30
ask_cooldown_days = 180
recent_days = 90
# Review requests to detractors (latest likelihood to recommend 0-6) are refused unless true.
allow_detractor_reviews = false
# Points (through the loyalty ledger) for a completed ask, a public review, and each side of a
# converted referral (after holding_days; a returned order reverses them).
ask_points = ["survey:0", "review:0", "story:100", "referral:0", "reference:300"]
review_points = 50
referrer_points = 500
referee_points = 250
holding_days = 30
enrol_on_reward = true
# Fraud checks: velocity (conversions of one referrer per window) and rings (referees sharing
# an identifier); flagged referrals are held for review.
velocity_max = 5
velocity_days = 7
ring_min_size = 3
# Paid-channel cost of acquiring a customer (decimal string), compared with referrals' cost.
paid_cac = "40.00"
# The advocacy score's weights and the levels (badges) by score.
score_weights = ["referral:1", "converted:3", "review:2", "mention:1", "reference:5", "reach:1"]
levels = ["advocate:1", "champion:10", "ambassador:25"]

[cases]
# Closed-loop feedback (docs/cases.md): answers that open a case, for which team, how fast.
# Off until enabled (routing on ingest keeps the unified profiles current).
enabled = false
# "CONDITIONS -> TEAM PRIORITY", the first match wins. Conditions: metric, score, touchpoint
# (a name, or "none" for answers about the relationship), channel, theme (a [voc.pinned] theme),
# sentiment (-1..1), value (high: the top high_value_share of customers by spend), public.
# TEAM "owner" is the touchpoint's owner in the catalogue.
rules = [
  "metric=nps score<=6 value=high -> owner high",
  "metric=nps score<=6 -> owner normal",
  "metric=ces score<=3 -> owner normal",
  "metric=csat score<=2 -> owner normal",
  "metric=rating score<=2 -> owner normal",
]
relational_team = "customer_care"   # answers about the relationship as a whole
unowned_team = "customer_care"      # touchpoints the catalogue gives no owner
# "priority:first_response_hours:resolution_hours".
sla = ["high:24:72", "normal:48:168", "low:96:336"]
# Optional rosters "team:person,person"; assigning a case outside the roster is refused.
teams = []
high_value_share = 0.2
# Close the loop: a follow-up survey invitation (through the outbox) when a case is resolved;
# with cases enabled, follow_up_webhook must be one of [triggers] webhooks.
follow_up = true
follow_up_metric = "nps"
follow_up_webhook = "default"

[triggers]
# Triggered actions (docs/triggers.md): "name: SOURCE [CONDITIONS] -> ACTION [ARGUMENT]".
# Sources: event, feedback, order (with conditions), segment NAME (a profile entering it:
# valuable_at_risk, promoter, captive, loyal, loyad, detractor), schedule daily|weekly|monthly
# segment=NAME. Actions: survey METRIC, review_request, winback_offer, points N, case TEAM,
# webhook NAME. Examples:
# rules = [
#   "ces_after_support: event touchpoint=support_contact -> survey ces",
#   "ask_promoters: feedback metric=nps score>=9 -> review_request",
#   "win_back: segment valuable_at_risk -> winback_offer",
#   "big_basket: order amount>=500 status=completed -> points 100",
# ]
enabled = false
rules = []
# "name url" of each receiver; messages go to "default" unless an action names another.
webhooks = []
# Delivery: attempts before the dead letters; backoff doubling from backoff_seconds.
max_attempts = 8
backoff_seconds = 30.0
backoff_max_seconds = 3600.0
http_timeout_seconds = 10.0
# At most cap_messages marketing actions per profile within cap_days days (0 = no cap).
cap_messages = 3
cap_days = 7
# Messages are held (not dropped) during quiet hours, in the "workspace" or "customer" zone.
quiet_hours = "21:00-08:00"
quiet_hours_zone = "workspace"
# No marketing for this many days after a complaint (a case opened for the profile).
complaint_suppression_days = 30
# Percent of profiles held out of each trigger (by hash), and the outcome window in days.
holdout_percent = 10
outcome_days = 30
# Rows whose moment is older than this many days fire no trigger (0 = no limit).
max_age_days = 7
"""
