"""Settings of the closed loop: `[cases]` (routing, SLAs, teams) and `[triggers]` (triggered
actions, webhooks, consent and fatigue rules, holdouts). See docs/cases.md, docs/triggers.md.

Rules are short strings, like the loyalty tiers, so `cxloop.toml` stays flat and a typo is
reported with the rule's text and what is wrong with it:

    [cases] rules    "metric=nps score<=6 value=high -> owner high"
    [triggers] rules "ces_after_support: event touchpoint=support_contact -> survey ces"

This module only parses and checks; it imports nothing heavier than the standard library, so
reading a config never loads a database driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import NamedTuple

from cxloop.errors import ConfigError

OPS = ("<=", ">=", "!=", "=", "<", ">")
_CONDITION = re.compile(r"^([a-z_]+)(<=|>=|!=|=|<|>)(.+)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PRIORITIES = ("high", "normal", "low")
METRICS = ("nps", "ces", "csat", "rating", "comment")


class Condition(NamedTuple):
    """`key op value`, e.g. ("score", "<=", "6")."""

    key: str
    op: str
    value: str

    @property
    def number(self) -> float:
        return float(self.value)


# -- cases -----------------------------------------------------------------------------------
class RoutingRule(NamedTuple):
    """A parsed `[cases] rules` entry: the first rule whose conditions all hold opens the case."""

    index: int
    text: str
    conditions: tuple[Condition, ...]
    team: str  # "owner": the touchpoint's owner in the catalogue
    priority: str


class Sla(NamedTuple):
    """Hours to the first response and to resolution, for one priority."""

    priority: str
    first_response_hours: float
    resolution_hours: float


#: Keys a routing condition may test, and whether they compare as numbers.
ROUTING_KEYS = {
    "metric": False,
    "score": True,
    "touchpoint": False,
    "channel": False,
    "theme": False,
    "sentiment": True,
    "value": False,
    "public": False,
}

DEFAULT_ROUTING = (
    # A high-value customer's detractor answer: first response within 24 hours.
    "metric=nps score<=6 value=high -> owner high",
    "metric=nps score<=6 -> owner normal",
    "metric=ces score<=3 -> owner normal",
    "metric=csat score<=2 -> owner normal",
    "metric=rating score<=2 -> owner normal",
)


@dataclass(frozen=True)
class CasesSettings:
    """Closed-loop feedback: which answers open a case, for which team, with which SLA.

    Off until enabled, like the other programs: routing needs current profiles, so a workspace
    that does not run the loop pays nothing on ingest."""

    enabled: bool = False
    # "CONDITIONS -> TEAM PRIORITY"; the first matching rule wins. TEAM "owner" is the
    # touchpoint's owner in the catalogue (relational answers: relational_team).
    rules: tuple[str, ...] = DEFAULT_ROUTING
    relational_team: str = "customer_care"
    # Team of an answer about a touchpoint the catalogue gives no owner.
    unowned_team: str = "customer_care"
    # "priority:first_response_hours:resolution_hours".
    sla: tuple[str, ...] = ("high:24:72", "normal:48:168", "low:96:336")
    # Optional rosters "team:person,person": assignment to someone else is refused.
    teams: tuple[str, ...] = ()
    # The top share of customers by completed spend who are "value=high".
    high_value_share: float = 0.2
    # Close the loop: a follow-up survey invitation when a case is resolved.
    follow_up: bool = True
    follow_up_metric: str = "nps"
    follow_up_webhook: str = "default"

    @property
    def routing(self) -> tuple[RoutingRule, ...]:
        return tuple(parse_routing_rule(i, text) for i, text in enumerate(self.rules))

    @property
    def slas(self) -> dict[str, Sla]:
        return {s.priority: s for s in (parse_sla(text) for text in self.sla)}

    @property
    def rosters(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for text in self.teams:
            team, _, people = text.partition(":")
            out[team.strip()] = tuple(p.strip() for p in people.split(",") if p.strip())
        return out

    def validate(self, origin: str = "config") -> None:
        where = f"{origin}: [cases]"
        try:
            rules = self.routing
            slas = self.slas
        except ConfigError as exc:
            raise ConfigError(f"{where} {exc}") from None
        for rule in rules:
            if rule.priority not in slas:
                raise ConfigError(
                    f"{where} rules: {rule.text!r} uses priority {rule.priority!r}, which "
                    f"has no sla entry (have: {', '.join(slas)})"
                )
        for name in ("relational_team", "unowned_team"):
            if not getattr(self, name).strip():
                raise ConfigError(f"{where} {name} must name a team")
        for text in self.teams:
            team, sep, people = text.partition(":")
            if not sep or not team.strip() or not people.strip():
                raise ConfigError(f'{where} teams: {text!r} must be "team:person,person"')
        if not 0 < self.high_value_share < 1:
            raise ConfigError(f"{where} high_value_share must be between 0 and 1")
        if self.follow_up_metric not in METRICS[:4]:
            raise ConfigError(f"{where} follow_up_metric must be one of {', '.join(METRICS[:4])}")


def parse_condition(token: str, keys: dict[str, bool], where: str) -> Condition:
    match = _CONDITION.match(token)
    if not match:
        raise ConfigError(f"{where}: {token!r} is not a condition like score<=6")
    key, op, value = match.groups()
    if key not in keys:
        raise ConfigError(f"{where}: unknown field {key!r} (known: {', '.join(sorted(keys))})")
    if keys[key]:
        try:
            float(value)
        except ValueError:
            raise ConfigError(f"{where}: {key} compares with a number, not {value!r}") from None
    elif op not in ("=", "!="):
        raise ConfigError(f"{where}: {key} is compared with = or !=, not {op}")
    return Condition(key, op, value)


def parse_routing_rule(index: int, text: str) -> RoutingRule:
    where = f"rules: {text!r}"
    left, arrow, right = text.partition("->")
    target = right.split()
    if not arrow or len(target) != 2:
        raise ConfigError(f'{where} must be "CONDITIONS -> TEAM PRIORITY"')
    conditions = tuple(parse_condition(t, ROUTING_KEYS, where) for t in left.split())
    for c in conditions:
        if c.key == "metric" and c.value not in METRICS:
            raise ConfigError(f"{where}: metric {c.value!r} is not one of {', '.join(METRICS)}")
        if c.key == "value" and c.value not in ("high", "standard"):
            raise ConfigError(f"{where}: value is high or standard, not {c.value!r}")
        if c.key == "public" and c.value not in ("true", "false"):
            raise ConfigError(f"{where}: public is true or false")
    team, priority = target
    if priority not in PRIORITIES:
        raise ConfigError(f"{where}: priority must be one of {', '.join(PRIORITIES)}")
    return RoutingRule(index, text, conditions, team, priority)


def parse_sla(text: str) -> Sla:
    parts = [p.strip() for p in text.split(":")]
    bad = ConfigError(f'sla: {text!r} must be "priority:first_response_hours:resolution_hours"')
    if len(parts) != 3 or parts[0] not in PRIORITIES:
        raise bad
    try:
        first, resolution = float(parts[1]), float(parts[2])
    except ValueError:
        raise bad from None
    if not 0 < first <= resolution:
        raise ConfigError(f"sla: {text!r}: need 0 < first response hours <= resolution hours")
    return Sla(parts[0], first, resolution)


# -- triggers --------------------------------------------------------------------------------
#: Fields a trigger condition may test, per source kind (number or not).
TRIGGER_FIELDS: dict[str, dict[str, bool]] = {
    "event": {
        "touchpoint": False,
        "channel": False,
        "stage": False,
        "success": False,
        "duration_s": True,
    },
    "feedback": {
        "metric": False,
        "score": True,
        "touchpoint": False,
        "channel": False,
        "public": False,
    },
    "order": {"amount": True, "status": False, "channel": False, "items": True},
}
#: Segments a profile can enter (docs/triggers.md#segments).
SEGMENTS = ("valuable_at_risk", "promoter", "captive", "loyal", "loyad", "detractor")
SCHEDULES = ("daily", "weekly", "monthly")
#: Action -> (takes an argument, contacts the customer for marketing).
ACTIONS: dict[str, tuple[bool, bool]] = {
    "survey": (True, True),
    "review_request": (False, True),
    "winback_offer": (False, True),
    "points": (True, False),
    "case": (True, False),
    "webhook": (True, True),
}


class TriggerRule(NamedTuple):
    """A parsed `[triggers] rules` entry."""

    name: str
    text: str
    source: str  # event | feedback | order | segment | schedule
    segment: str | None  # segment entered (segment) or targeted (schedule)
    schedule: str | None
    conditions: tuple[Condition, ...]
    action: str
    argument: str | None

    @property
    def marketing(self) -> bool:
        """Whether the action contacts the customer (needs consent, counts against caps)."""
        return ACTIONS[self.action][1]


def parse_trigger_rule(text: str) -> TriggerRule:
    where = f"rules: {text!r}"
    name, colon, rest = text.partition(":")
    name = name.strip()
    left, arrow, right = rest.partition("->")
    if not colon or not arrow or not _NAME.match(name):
        raise ConfigError(f'{where} must be "name: SOURCE [CONDITIONS] -> ACTION [ARGUMENT]"')
    words = left.split()
    if not words:
        raise ConfigError(f"{where}: no source (event, feedback, order, segment, schedule)")
    source, args = words[0], words[1:]
    segment = schedule = None
    conditions: tuple[Condition, ...] = ()
    if source in TRIGGER_FIELDS:
        conditions = tuple(parse_condition(t, TRIGGER_FIELDS[source], where) for t in args)
    elif source == "segment":
        if len(args) != 1 or args[0] not in SEGMENTS:
            raise ConfigError(f"{where}: segment needs one of {', '.join(SEGMENTS)}")
        segment = args[0]
    elif source == "schedule":
        if not args or args[0] not in SCHEDULES:
            raise ConfigError(f"{where}: schedule needs one of {', '.join(SCHEDULES)}")
        schedule = args[0]
        for token in args[1:]:
            key, _, value = token.partition("=")
            if key != "segment" or value not in SEGMENTS:
                raise ConfigError(
                    f"{where}: a schedule targets segment=NAME ({', '.join(SEGMENTS)})"
                )
            segment = value
        if segment is None:
            raise ConfigError(f"{where}: a schedule needs segment=NAME to say whom it targets")
    else:
        raise ConfigError(
            f"{where}: unknown source {source!r} (event, feedback, order, segment, schedule)"
        )
    target = right.split()
    if not target or target[0] not in ACTIONS:
        raise ConfigError(f"{where}: action must be one of {', '.join(ACTIONS)}")
    action = target[0]
    takes_argument = ACTIONS[action][0]
    if len(target) != (2 if takes_argument else 1):
        raise ConfigError(
            f"{where}: {action} takes {'one argument' if takes_argument else 'no argument'}"
        )
    argument = target[1] if takes_argument else None
    if action == "survey" and argument not in METRICS[:4]:
        raise ConfigError(f"{where}: survey takes a metric ({', '.join(METRICS[:4])})")
    if action == "points" and not (argument or "").isdigit():
        raise ConfigError(f"{where}: points takes a whole number of points")
    return TriggerRule(name, text, source, segment, schedule, conditions, action, argument)


class Webhook(NamedTuple):
    name: str
    url: str


@dataclass(frozen=True)
class TriggersSettings:
    """Triggered actions and their delivery (docs/triggers.md); off until enabled."""

    enabled: bool = False
    # "name: SOURCE [CONDITIONS] -> ACTION [ARGUMENT]".
    rules: tuple[str, ...] = ()
    # "name url": where messages of each kind are posted; actions use "default".
    webhooks: tuple[str, ...] = ()
    # Delivery: attempts before a message goes to the dead letters, backoff doubling from
    # backoff_seconds up to backoff_max_seconds, and the per-request timeout.
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    http_timeout_seconds: float = 10.0
    # Fatigue: at most cap_messages marketing actions per profile in cap_days days (0 = none).
    cap_messages: int = 3
    cap_days: int = 7
    # Quiet hours "HH:MM-HH:MM" (empty: none), read in the "workspace" or "customer" time zone
    # (the customer's from customers.attributes.timezone, else the workspace's).
    quiet_hours: str = "21:00-08:00"
    quiet_hours_zone: str = "workspace"
    # No marketing for this many days after a complaint (a case opened for the profile).
    complaint_suppression_days: int = 30
    # Percent of profiles held out of each trigger (deterministic by hash), and the days after
    # a decision in which an outcome (a completed order) counts.
    holdout_percent: int = 10
    outcome_days: int = 30
    # Rows whose moment is older than this many days before now fire nothing (0 = no limit).
    max_age_days: int = 7

    @property
    def triggers(self) -> tuple[TriggerRule, ...]:
        return tuple(parse_trigger_rule(text) for text in self.rules)

    @property
    def endpoints(self) -> dict[str, Webhook]:
        out: dict[str, Webhook] = {}
        for text in self.webhooks:
            name, _, url = text.strip().partition(" ")
            out[name] = Webhook(name, url.strip())
        return out

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        if not self.quiet_hours.strip():
            return None
        start, _, end = self.quiet_hours.partition("-")
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())

    def validate(self, origin: str = "config", cases: CasesSettings | None = None) -> None:
        where = f"{origin}: [triggers]"
        try:
            rules = self.triggers
        except ConfigError as exc:
            raise ConfigError(f"{where} {exc}") from None
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where} rules: trigger names must be distinct: {names}")
        for text in self.webhooks:
            name, _, url = text.strip().partition(" ")
            if not _NAME.match(name) or not url.strip().startswith(("http://", "https://")):
                raise ConfigError(f'{where} webhooks: {text!r} must be "name http(s)://host/path"')
        hooks = self.endpoints
        for rule in rules:
            if rule.action == "webhook" and rule.argument not in hooks:
                raise ConfigError(
                    f"{where} rules: {rule.text!r} posts to webhook {rule.argument!r}, "
                    "which [triggers] webhooks does not name"
                )
        # A message to a webhook that is not configured fails every attempt for hours and
        # dies: refuse the rule now, also when no webhook is configured at all.
        outbound = [r for r in rules if r.marketing and r.action != "webhook"]
        if outbound and "default" not in hooks:
            raise ConfigError(
                f'{where} rules: {outbound[0].text!r} posts to the "default" webhook, which '
                "[triggers] webhooks does not name"
            )
        follows_up = cases is not None and cases.enabled and cases.follow_up
        if follows_up and cases is not None and cases.follow_up_webhook not in hooks:
            raise ConfigError(
                f"{origin}: [cases] follow_up_webhook {cases.follow_up_webhook!r} is not in "
                "[triggers] webhooks (name the receiver of follow-up surveys there, or set "
                "[cases] follow_up = false)"
            )
        for name in ("max_attempts", "cap_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{where} {name} must be >= 1")
        for name in ("cap_messages", "complaint_suppression_days", "outcome_days", "max_age_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where} {name} must be >= 0")
        if self.backoff_max_seconds < self.backoff_seconds:
            raise ConfigError(f"{where} backoff_max_seconds must be >= backoff_seconds")
        if not 0 <= self.holdout_percent < 100:
            raise ConfigError(f"{where} holdout_percent must be between 0 and 99")
        if self.quiet_hours_zone not in ("workspace", "customer"):
            raise ConfigError(f'{where} quiet_hours_zone must be "workspace" or "customer"')
        try:
            _ = self.quiet_window
        except ValueError:
            raise ConfigError(
                f'{where} quiet_hours must be "HH:MM-HH:MM" like "21:00-08:00", or empty'
            ) from None
