"""The loyalty program and the warehouse: acts in the data earn points; program facts become
events the analytics can read.

`sync_from_warehouse` reads, for every enrolled member, the orders, public reviews and
converted referrals that the unified profile links to them (`profile_links`), and writes what
the ledger does not hold yet:

- a completed order earns `rules.order_points` (key ``order:{source}:{order_id}``); a
  returned or cancelled order whose points were credited is reversed
  (``order-reversal:{source}:{order_id}``);
- a public review with text earns ``review_bonus`` (``review:{source}:{response_id}``);
- a converted referral earns ``referral_bonus`` to the referrer
  (``referral:{source}:{referral_id}``), unless the referee is the referrer's own profile.

What the ledger holds is read first, in bulk (entries by source reference), so a second run
plans nothing and writes nothing; the idempotency keys make two runs racing each other safe
as well. Warehouse reads are a handful of set queries whatever the number of members; the
writes are one ledger transaction per entry (docs/loyalty.md#sync-from-the-warehouse).

Program facts go the other way in `cxloop.programs.loyalty.facts`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import sqlalchemy as sa

from cxloop.config import LoyaltySettings
from cxloop.programs.errors import AlreadyReversed, ProgramError
from cxloop.programs.loyalty.ledger import Ledger, add_months
from cxloop.programs.loyalty.rules import (
    EARNING_STATUS,
    REVERSING_STATUSES,
    EarningRules,
    counts_for_member,
    is_converted_referral,
    is_public_review,
)
from cxloop.programs.tables import ledger_entries, members

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

#: Who the ledger says wrote the entries of a sync.
SYNC_ACTOR = "sync"
#: Source types of the entries a sync writes (the ledger's `source_type`).
SOURCE_TYPES = ("order", "review", "referral")
#: Ledger writers of a sync: measured on SQLite, 1 -> 731 writes/s, 4 -> 1,198, 8 -> 1,222;
#: on PostgreSQL 1 -> 378, 8 -> 835 (docs/loyalty.md#sync-from-the-warehouse).
DEFAULT_WORKERS = 8

# Warehouse reads. `$profiles` is the list of enrolled profile ids: one set query per kind of
# act, whatever the number of members (DuckDB joins the list as a hash table).
_ORDERS_SQL = """
SELECT l.profile_id, o.source, o.order_id, o.ordered_at, o.amount, o.currency, o.status
FROM profile_links l JOIN orders o ON o.source = l.source AND o.order_id = l.id
WHERE l.kind = 'orders' AND l.profile_id IN (SELECT unnest($profiles))
"""
_REVIEWS_SQL = """
SELECT l.profile_id, f.source, f.response_id, f.submitted_at, f.public, f.text
FROM profile_links l JOIN feedback f ON f.source = l.source AND f.response_id = l.id
WHERE l.kind = 'feedback' AND l.profile_id IN (SELECT unnest($profiles))
  AND f.public AND f.text IS NOT NULL
"""
_REFERRALS_SQL = """
SELECT l.profile_id, r.source, r.referral_id, r.created_at, r.converted_order_id,
       e.profile_id AS referee_profile_id
FROM profile_links l JOIN referrals r ON r.source = l.source AND r.referral_id = l.id
LEFT JOIN profile_links e ON e.kind = 'referee' AND e.source = r.source AND e.id = r.referral_id
WHERE l.kind = 'referrer' AND l.profile_id IN (SELECT unnest($profiles))
  AND r.converted_order_id IS NOT NULL
"""
_KNOWN_PROFILES_SQL = (
    "SELECT profile_id FROM profiles WHERE profile_id IN (SELECT unnest($profiles))"
)


@dataclass(frozen=True)
class SyncReport:
    """What one sync did; `skipped` counts acts that earn nothing, by why."""

    members: int = 0
    members_without_profile: int = 0
    orders_earned: int = 0
    order_points: int = 0
    orders_reversed: int = 0
    reversed_points: int = 0
    reversal_shortfall: int = 0
    reviews: int = 0
    review_points: int = 0
    referrals: int = 0
    referral_points: int = 0
    entries_written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    read_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def writes_per_second(self) -> float:
        return self.entries_written / self.write_seconds if self.write_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["problems"] = list(self.problems)
        out["writes_per_second"] = round(self.writes_per_second, 1)
        out["read_seconds"] = round(self.read_seconds, 3)
        out["write_seconds"] = round(self.write_seconds, 3)
        return out


class _Enrolled(NamedTuple):
    member_id: str
    enrolled_at: datetime
    tier: str


class _Act(NamedTuple):
    """One ledger write a sync plans: an earn, or the reversal of entry `reverses`."""

    at: datetime
    member_id: str
    source_type: str
    source_id: str
    key: str
    points: int
    reason: str
    reverses: int | None = None


def sync_from_warehouse(
    ws: Workspace,
    ledger: Ledger,
    settings: LoyaltySettings,
    *,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> SyncReport:
    """Earn (and reverse) points for what enrolled members did, as the warehouse records it.

    Only acts at or after a member's enrolment earn, in the workspace currency, and not once
    they would already have expired; see the module docstring for the keys. Returns what was
    written. `plan_sync` then `apply_sync`: a caller that shares the warehouse (the service)
    may hold it for the plan only, and write without it.
    """
    return apply_sync(ledger, plan_sync(ws, ledger, settings), progress=progress, workers=workers)


@dataclass(frozen=True)
class SyncPlan:
    """The ledger writes a sync will make, read from the warehouse and the ledger."""

    acts: tuple[_Act, ...]
    members: int
    members_without_profile: int
    skipped: dict[str, int]
    read_seconds: float


def plan_sync(ws: Workspace, ledger: Ledger, settings: LoyaltySettings) -> SyncPlan:
    """What the ledger does not hold yet, in time order: reads only, a few set queries."""
    started = time.perf_counter()
    rules = EarningRules.from_settings(settings)
    enrolled = _enrolled(ledger)
    skipped: dict[str, int] = {}
    acts: list[_Act] = []
    missing = 0
    if enrolled:
        ws.profiles.ensure_current()
        profiles = sorted(enrolled)
        known = {row[0] for row in _fetch(ws, _KNOWN_PROFILES_SQL, profiles)}
        missing = len(set(profiles) - known)
        credited, reversed_ids = _credited(ledger)
        now = ledger.clock().astimezone(UTC)
        planner = _Planner(rules, enrolled, credited, now, ledger.expiry_months, skipped)
        currency = ws.config.locale.currency
        acts += planner.orders(_fetch(ws, _ORDERS_SQL, profiles), currency, reversed_ids)
        if not ws.config.advocacy.enabled:  # else the advocacy program rewards these acts
            acts += planner.reviews(_fetch(ws, _REVIEWS_SQL, profiles))
            acts += planner.referrals(_fetch(ws, _REFERRALS_SQL, profiles))
    acts.sort(key=lambda act: (act.at, act.reverses is not None, act.key))
    return SyncPlan(
        acts=tuple(acts),
        members=len(enrolled),
        members_without_profile=missing,
        skipped=skipped,
        read_seconds=time.perf_counter() - started,
    )


def apply_sync(
    ledger: Ledger,
    plan: SyncPlan,
    *,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> SyncReport:
    """Write a plan, one ledger transaction per entry; needs no warehouse.

    `workers`: threads writing at once, each owning whole members (default
    `DEFAULT_WORKERS`). More than one pays on both stores: PostgreSQL runs transactions on
    different members in parallel, and the embedded store commits concurrent writers
    together (group commit), so one fsync serves several entries.
    `progress(done, total)` is called every 1,000 writes.
    """
    started = time.perf_counter()
    if workers is None:
        workers = DEFAULT_WORKERS
    skipped = dict(plan.skipped)
    figures, problems = _apply(ledger, list(plan.acts), skipped, progress, workers)
    return SyncReport(
        members=plan.members,
        members_without_profile=plan.members_without_profile,
        skipped=dict(sorted(skipped.items())),
        problems=tuple(problems),
        read_seconds=plan.read_seconds,
        write_seconds=time.perf_counter() - started,
        **figures,
    )


class _Planner:
    """Turns warehouse rows into the acts the ledger does not hold yet."""

    def __init__(
        self,
        rules: EarningRules,
        enrolled: dict[str, _Enrolled],
        credited: dict[tuple[str, str], int],
        now: datetime,
        expiry_months: int | None,
        skipped: dict[str, int],
    ) -> None:
        self.rules = rules
        self.enrolled = enrolled
        self.credited = credited
        self.now = now
        self.expiry_months = expiry_months
        self.skipped = skipped

    def _credit_of(self, source_type: str, source: str, act_id: str) -> int | None:
        """The earn entry that already credited an act, if any.

        The sync names an act `{source}:{id}`; an earn made through the API may have named
        it by its bare id. Both count, so the act is never credited twice (if two sources
        share a bare id, the second is then not credited: a ledger errs on that side).
        """
        entry = self.credited.get((source_type, f"{source}:{act_id}"))
        return entry if entry is not None else self.credited.get((source_type, act_id))

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _earns(self, member: _Enrolled, at: datetime) -> bool:
        """Whether an act at `at` earns now; counts why not."""
        if not counts_for_member(at, member.enrolled_at):
            self._skip("before_enrolment")
        elif at > self.now:
            self._skip("in_the_future")
        elif self.expiry_months and add_months(at, self.expiry_months) <= self.now:
            self._skip("already_expired")
        else:
            return True
        return False

    def orders(
        self, rows: Iterable[tuple[Any, ...]], currency: str, reversed_ids: set[int]
    ) -> list[_Act]:
        acts = []
        for profile_id, source, order_id, ordered_at, amount, order_currency, status in rows:
            member = self.enrolled[profile_id]
            source_id = f"{source}:{order_id}"
            earned = self._credit_of("order", source, order_id)
            at = _utc(ordered_at)
            if status in REVERSING_STATUSES:
                if earned is not None and earned not in reversed_ids:
                    acts.append(
                        _Act(at, member.member_id, "order", source_id,
                             f"order-reversal:{source_id}", 0, f"order {source_id} {status}",
                             reverses=earned)
                    )  # fmt: skip
                continue
            if status != EARNING_STATUS or earned is not None or not self._earns(member, at):
                continue
            if (order_currency or currency) != currency:
                self._skip("other_currency")
                continue
            points = self.rules.for_order(Decimal(amount), tier=member.tier)
            if points <= 0:
                self._skip("zero_points")
                continue
            acts.append(
                _Act(at, member.member_id, "order", source_id, f"order:{source_id}", points,
                     f"order {source_id}")
            )  # fmt: skip
        return acts

    def reviews(self, rows: Iterable[tuple[Any, ...]]) -> list[_Act]:
        acts = []
        points = self.rules.for_review()
        for profile_id, source, response_id, submitted_at, public, text in rows:
            source_id = f"{source}:{response_id}"
            if not is_public_review(public, text):
                continue
            if self._credit_of("review", source, response_id) is not None:
                continue
            member = self.enrolled[profile_id]
            at = _utc(submitted_at)
            if points > 0 and self._earns(member, at):
                acts.append(
                    _Act(at, member.member_id, "review", source_id, f"review:{source_id}",
                         points, f"public review {source_id}")
                )  # fmt: skip
        return acts

    def referrals(self, rows: Iterable[tuple[Any, ...]]) -> list[_Act]:
        acts = []
        points = self.rules.for_referral()
        for profile_id, source, referral_id, created_at, converted, referee in rows:
            source_id = f"{source}:{referral_id}"
            if not is_converted_referral(converted):
                continue
            if self._credit_of("referral", source, referral_id) is not None:
                continue
            if referee == profile_id:
                self._skip("self_referral")
                continue
            member = self.enrolled[profile_id]
            at = _utc(created_at)
            if points > 0 and self._earns(member, at):
                acts.append(
                    _Act(at, member.member_id, "referral", source_id, f"referral:{source_id}",
                         points, f"converted referral {source_id}")
                )  # fmt: skip
        return acts


class _Writer:
    """Writes planned acts, one ledger transaction each, and adds up what was written.

    Thread-safe: with several workers each takes whole members (a member's acts stay in
    time order); the ledger's own locking keeps every member's balance right.
    """

    FIGURES = (
        "orders_earned", "order_points", "orders_reversed", "reversed_points",
        "reversal_shortfall", "reviews", "review_points", "referrals", "referral_points",
        "entries_written",
    )  # fmt: skip
    COUNTERS: ClassVar[dict[str, str]] = {
        "order": "orders_earned",
        "review": "reviews",
        "referral": "referrals",
    }

    def __init__(
        self,
        ledger: Ledger,
        total: int,
        skipped: dict[str, int],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.ledger = ledger
        self.total = total
        self.skipped = skipped
        self.progress = progress
        self.figures = dict.fromkeys(self.FIGURES, 0)
        self.problems: list[str] = []
        self.done = 0
        self._lock = threading.Lock()

    def write_all(self, acts: list[_Act]) -> None:
        for act in acts:
            self.write(act)

    def write(self, act: _Act) -> None:
        found: dict[str, int] = {}
        problem = None
        try:
            if act.reverses is not None:
                entry = self.ledger.reverse(
                    act.reverses, reason=act.reason, actor=SYNC_ACTOR, idempotency_key=act.key
                )
                found = {
                    "orders_reversed": 1,
                    "reversed_points": -entry.points,
                    "reversal_shortfall": entry.shortfall,
                }
            else:
                entry = self.ledger.earn(
                    act.member_id,
                    act.points,
                    reason=act.reason,
                    source_type=act.source_type,
                    source_id=act.source_id,
                    actor=SYNC_ACTOR,
                    idempotency_key=act.key,
                    at=act.at,
                )
                found = {
                    self.COUNTERS[act.source_type]: 1,
                    f"{act.source_type}_points": entry.points,
                }
            found["entries_written"] = 1
        except AlreadyReversed:  # reversed by someone else since the plan was made
            with self._lock:
                self.skipped["already_reversed"] = self.skipped.get("already_reversed", 0) + 1
        except ProgramError as exc:
            if exc.http_status >= 500:  # the store is down: stop; the next run resumes
                raise
            problem = f"{act.key}: {exc}"  # e.g. a key an API client used for something else
        with self._lock:
            for name, value in found.items():
                self.figures[name] += value
            if problem is not None:
                self.problems.append(problem)
            self.done += 1
            if self.progress is not None and (self.done % 1000 == 0 or self.done == self.total):
                self.progress(self.done, self.total)


def _apply(
    ledger: Ledger,
    acts: list[_Act],
    skipped: dict[str, int],
    progress: Callable[[int, int], None] | None,
    workers: int,
) -> tuple[dict[str, int], list[str]]:
    """Write the planned acts in time order, by `workers` threads each owning whole members."""
    writer = _Writer(ledger, len(acts), skipped, progress)
    if workers <= 1 or len(acts) < 2:
        writer.write_all(acts)
    else:
        shares: list[list[_Act]] = [[] for _ in range(workers)]
        slot: dict[str, int] = {}
        for act in acts:  # acts are in time order, and stay so within each share
            shares[slot.setdefault(act.member_id, len(slot) % workers)].append(act)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loyalty-sync") as pool:
            for future in [pool.submit(writer.write_all, share) for share in shares]:
                future.result()
    return writer.figures, sorted(writer.problems)


# -- reads -------------------------------------------------------------------------------------
def resolve_profile(ws: Workspace, key: str) -> str:
    """The profile id a lookup key names (profile id, `source:customer_id`, customer id,
    email or anonymous id), from current profiles; `NotFoundError` when none matches."""
    from cxloop.errors import NotFoundError

    ws.profiles.ensure_current()
    profile = ws.profiles.lookup(key, timeline_limit=0)
    if profile is None:
        raise NotFoundError(f"no profile matches {key!r}")
    return str(profile["profile_id"])


def _enrolled(ledger: Ledger) -> dict[str, _Enrolled]:
    """Every member by profile id, in one read."""
    with ledger.store.read() as conn:
        rows = conn.execute(
            sa.select(members.c.profile_id, members.c.member_id, members.c.enrolled_at,
                      members.c.tier)
        ).all()  # fmt: skip
    return {row.profile_id: _Enrolled(row.member_id, row.enrolled_at, row.tier) for row in rows}


def _credited(ledger: Ledger) -> tuple[dict[tuple[str, str], int], set[int]]:
    """What the ledger already holds from acts: earn entry by (source_type, source_id), and
    the ids of entries that have been reversed. One read, whatever the ledger's size."""
    with ledger.store.read() as conn:
        earned = conn.execute(
            sa.select(ledger_entries.c.source_type, ledger_entries.c.source_id,
                      sa.func.min(ledger_entries.c.id))
            .where(ledger_entries.c.kind == "earn",
                   ledger_entries.c.source_type.in_(SOURCE_TYPES))
            .group_by(ledger_entries.c.source_type, ledger_entries.c.source_id)
        ).all()  # fmt: skip
        reversed_ids = conn.execute(
            sa.select(ledger_entries.c.reverses).where(
                ledger_entries.c.kind == "reverse",
                ledger_entries.c.source_type.in_(SOURCE_TYPES),
            )
        ).scalars()
        reversed_set = {int(i) for i in reversed_ids if i is not None}
    return {(t, s): int(i) for t, s, i in earned}, reversed_set


def _fetch(ws: Workspace, sql: str, profiles: list[str]) -> list[tuple[Any, ...]]:
    return list(ws.engine.fetchall(sql, {"profiles": profiles}))


def _utc(moment: datetime) -> datetime:
    """Warehouse timestamps are naive UTC (the loader converts); the ledger's are aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
