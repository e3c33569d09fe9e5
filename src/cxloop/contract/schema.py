"""The kinds of the data contract, version 1, as data.

Readers, validation, the warehouse tables and the docs all derive from these definitions, so
a column is described once. See `shared/data-contract.md` (the contract) and
`docs/data-contract.md` (the same as users read it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

CONTRACT_VERSION = 1


class ColumnType(StrEnum):
    """Logical column types; each engine maps them to its own."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    DATE = "date"
    BOOL = "bool"
    INTEGER = "integer"
    DECIMAL = "decimal"  # exact money: DECIMAL(18, 4)
    NUMBER = "number"  # measurements: DOUBLE
    JSON = "json"


@dataclass(frozen=True)
class Column:
    """One column of a kind."""

    name: str
    type: ColumnType = ColumnType.STRING
    required: bool = False
    # Allowed values (compared lower-cased); empty = any.
    choices: tuple[str, ...] = ()
    # Inclusive bounds for numbers.
    minimum: float | None = None
    default: str | None = None
    # Values are stored lower-cased (enumerations, channel names).
    lower: bool = False
    upper: bool = False


@dataclass(frozen=True)
class Kind:
    """One entity kind: its columns, its natural key and where unknown columns go."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    extras_column: str | None = None
    # At least one of these must be present (a customer reference).
    one_of: tuple[str, ...] = ()
    description: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


STAGES = ("buy", "own", "advocate")
S, TS, D, B, INT, DEC, N, J = (
    ColumnType.STRING,
    ColumnType.TIMESTAMP,
    ColumnType.DATE,
    ColumnType.BOOL,
    ColumnType.INTEGER,
    ColumnType.DECIMAL,
    ColumnType.NUMBER,
    ColumnType.JSON,
)
SOURCE = Column("source", S, default="default")

# Score ranges per feedback metric (inclusive); `comment` carries text only.
METRIC_RANGES: dict[str, tuple[int, int]] = {
    "nps": (0, 10),
    "ces": (1, 7),
    "csat": (1, 5),
    "rating": (1, 5),
}
METRICS = (*METRIC_RANGES, "comment")
# Metrics whose answers are whole points on their scale.
INTEGER_METRICS = ("nps", "ces", "csat")

CUSTOMERS = Kind(
    "customers",
    (
        Column("customer_id", S, required=True),
        SOURCE,
        Column("email", S),
        Column("phone", S),
        Column("first_name", S),
        Column("last_name", S),
        Column("date_of_birth", D),
        Column("address", S),
        Column("postcode", S),
        Column("city", S),
        Column("country", S, upper=True),
        Column("created_at", TS),
        Column("consent_marketing", B, default="false"),
        Column("attributes", J),
    ),
    key=("source", "customer_id"),
    extras_column="attributes",
    description="customer records, one per source system",
)

EVENTS = Kind(
    "events",
    (
        Column("event_id", S, required=True),
        Column("customer_id", S),
        SOURCE,
        Column("email", S),
        Column("anonymous_id", S),
        Column("occurred_at", TS, required=True),
        Column("touchpoint", S, required=True, lower=True),
        Column("channel", S, lower=True),
        Column("stage", S, choices=STAGES, lower=True),
        Column("duration_s", N, minimum=0),
        Column("success", B),
        Column("properties", J),
    ),
    key=("source", "event_id"),
    extras_column="properties",
    one_of=("customer_id", "email", "anonymous_id"),
    description="interactions at touchpoints, every channel",
)

ORDERS = Kind(
    "orders",
    (
        Column("order_id", S, required=True),
        Column("customer_id", S),
        SOURCE,
        Column("email", S),
        Column("ordered_at", TS, required=True),
        Column("amount", DEC, required=True, minimum=0),
        Column("currency", S, upper=True),
        Column(
            "status",
            S,
            choices=("completed", "cancelled", "returned"),
            default="completed",
            lower=True,
        ),
        Column("channel", S, lower=True),
        Column("items", INT, minimum=0),
        Column("referral_code", S),
    ),
    key=("source", "order_id"),
    one_of=("customer_id", "email"),
    description="purchases, renewals and returns",
)

FEEDBACK = Kind(
    "feedback",
    (
        Column("response_id", S, required=True),
        Column("customer_id", S),
        SOURCE,
        Column("email", S),
        Column("submitted_at", TS, required=True),
        Column("metric", S, required=True, choices=METRICS, lower=True),
        Column("score", N),
        Column("touchpoint", S, lower=True),
        Column("order_id", S),
        Column("channel", S, lower=True),
        Column("text", S),
        Column("public", B, default="false"),
    ),
    key=("source", "response_id"),
    description="survey answers, ratings and reviews",
)

MENTIONS = Kind(
    "mentions",
    (
        Column("mention_id", S, required=True),
        Column("posted_at", TS, required=True),
        Column("platform", S, required=True, lower=True),
        Column("author", S, required=True),
        Column("customer_id", S),
        Column("brand", S, required=True),
        Column(
            "kind",
            S,
            required=True,
            choices=("post", "reply", "review", "share", "like"),
            lower=True,
        ),
        Column("text", S),
        Column("reach", INT, minimum=0),
        Column("url", S),
    ),
    key=("mention_id",),
    description="social and community posts about the brand or its competitors",
)

REFERRALS = Kind(
    "referrals",
    (
        Column("referral_id", S, required=True),
        Column("referrer_id", S, required=True),
        SOURCE,
        Column("code", S),
        Column("referee_email", S),
        Column("referee_id", S),
        Column("created_at", TS, required=True),
        Column("converted_order_id", S),
    ),
    key=("source", "referral_id"),
    description="an advocate introduces someone",
)

TOUCHPOINTS = Kind(
    "touchpoints",
    (
        Column("touchpoint", S, required=True, lower=True),
        Column("stage", S, required=True, choices=STAGES, lower=True),
        Column("channel", S, lower=True),
        Column("owner", S),
        Column("description", S),
    ),
    key=("touchpoint",),
    description="the catalogue of moments",
)

KINDS: dict[str, Kind] = {
    k.name: k for k in (CUSTOMERS, EVENTS, ORDERS, FEEDBACK, MENTIONS, REFERRALS, TOUCHPOINTS)
}


def kind_named(name: str) -> Kind:
    """The kind called `name` (plural or singular, any case)."""
    key = name.strip().lower()
    if key in KINDS:
        return KINDS[key]
    if key + "s" in KINDS:
        return KINDS[key + "s"]
    raise KeyError(name)
