"""Any sequence of earn, redeem, adjust, reverse and expire (with time moving) keeps the ledger
exact: balance == sum of entries == points left in lots >= 0, `verify()` finds nothing, and
every figure equals a plain-Python model of the rules written from docs/loyalty.md.

The model is deliberately naive (lists and loops, no SQL) so that it and the ledger agree only
if the ledger does what the documentation says. On the embedded store: the properties are
about the rules; the concurrency tests cover PostgreSQL.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cxloop.programs.errors import AlreadyReversed, InsufficientPoints, NotReversible
from cxloop.programs.loyalty import Ledger, add_months
from cxloop.programs.store import ProgramStore

MEMBERS = ("alice", "bob")
EXPIRY_MONTHS = 12
points = st.integers(min_value=1, max_value=300)


@dataclass
class ModelLot:
    order: int  # creation order = lot id order
    member: str
    points: int
    remaining: int
    earned_at: datetime
    expires_at: datetime
    expired: int = 0  # points taken from it by expiry
    source_entry: int = 0  # index of the crediting entry


@dataclass
class ModelEntry:
    entry_id: int
    member: str
    kind: str
    points: int
    lot: ModelLot | None = None
    draws: dict[int, int] = field(default_factory=dict)  # lot order -> points (- = restored)
    reversed: bool = False
    shortfall: int = 0
    recovered: int = 0  # of this reversal's shortfall, repaid later
    reversed_by: ModelEntry | None = None


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="cxloop-props-"))
        self.now = datetime(2024, 1, 1, tzinfo=UTC)
        self.store = ProgramStore.open(self.folder, pool_size=2)
        self.ledger = Ledger(self.store, expiry_months=EXPIRY_MONTHS, clock=lambda: self.now)
        self.ids = {name: self.ledger.enrol(name, actor="model").member_id for name in MEMBERS}
        self.lots: list[ModelLot] = []
        self.entries: list[ModelEntry] = []
        self.keys = 0
        self.last_call = None

    def teardown(self) -> None:
        try:
            report = self.ledger.verify()
            assert report.ok, report.problems
        finally:
            self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the model --------------------------------------------------------------------------
    def balance(self, member: str) -> int:
        return sum(lot.remaining for lot in self.lots if lot.member == member)

    def fifo(self, member: str, first: ModelLot | None = None) -> list[ModelLot]:
        open_lots = sorted(
            (lot for lot in self.lots if lot.member == member and lot.remaining > 0),
            key=lambda lot: (lot.expires_at, lot.earned_at, lot.order),
        )
        if first is not None and first in open_lots:
            open_lots.remove(first)
            open_lots.insert(0, first)
        return open_lots

    def draw(self, member: str, amount: int, first: ModelLot | None = None) -> dict[int, int]:
        draws: dict[int, int] = {}
        for lot in self.fifo(member, first):
            if amount == 0:
                break
            take = min(lot.remaining, amount)
            lot.remaining -= take
            draws[lot.order] = take
            amount -= take
        return draws

    def credit(self, entry_id: int, member: str, amount: int, kind: str, earned_at: datetime):
        lot = ModelLot(
            order=len(self.lots),
            member=member,
            points=amount,
            remaining=amount,
            earned_at=earned_at,
            expires_at=add_months(earned_at, EXPIRY_MONTHS),
            source_entry=len(self.entries),
        )
        self.lots.append(lot)
        self.entries.append(ModelEntry(entry_id, member, kind, amount, lot=lot))

    def key(self) -> str:
        self.keys += 1
        return f"key-{self.keys}"

    # -- rules ------------------------------------------------------------------------------
    @rule(member=st.sampled_from(MEMBERS), amount=points, days_ago=st.integers(0, 500))
    def earn(self, member: str, amount: int, days_ago: int) -> None:
        at = self.now - timedelta(days=days_ago)
        key = self.key()

        def call():
            return self.ledger.earn(
                self.ids[member],
                amount,
                reason="order",
                source_type="order",
                source_id=key,
                actor="model",
                idempotency_key=key,
                at=at,
            )

        entry = call()
        assert (entry.kind, entry.points) == ("earn", amount)
        self.credit(entry.entry_id, member, amount, "earn", at)
        self.last_call = (call, entry)

    @rule(member=st.sampled_from(MEMBERS), amount=points)
    def redeem(self, member: str, amount: int) -> None:
        key = self.key()

        def call():
            return self.ledger.redeem(
                self.ids[member], amount, reason="reward", actor="model", idempotency_key=key
            )

        self._debit(member, amount, "redeem", call)

    @rule(member=st.sampled_from(MEMBERS), amount=points, up=st.booleans())
    def adjust(self, member: str, amount: int, up: bool) -> None:
        key = self.key()
        signed = amount if up else -amount

        def call():
            return self.ledger.adjust(
                self.ids[member], signed, reason="ops", actor="model", idempotency_key=key
            )

        if up:
            entry = call()
            self.credit(entry.entry_id, member, amount, "adjust", self.now)
            self.last_call = (call, entry)
        else:
            self._debit(member, amount, "adjust", call)

    def _debit(self, member: str, amount: int, kind: str, call) -> None:
        balance = self.balance(member)
        if amount > balance:
            try:
                call()
            except InsufficientPoints as refused:
                assert (refused.balance, refused.requested) == (balance, amount)
                return
            raise AssertionError(f"{kind} of {amount} on a balance of {balance} went through")
        entry = call()
        assert (entry.kind, entry.points) == (kind, -amount)
        draws = self.draw(member, amount)
        self.entries.append(ModelEntry(entry.entry_id, member, kind, -amount, draws=draws))
        self.last_call = (call, entry)

    @precondition(lambda self: self.entries)
    @rule(pick=st.integers(min_value=0, max_value=10**6))
    def reverse(self, pick: int) -> None:
        target = self.entries[pick % len(self.entries)]
        key = self.key()

        def call():
            return self.ledger.reverse(
                target.entry_id, reason="undo", actor="model", idempotency_key=key
            )

        if target.kind in ("expire", "reverse"):
            try:
                call()
            except NotReversible:
                return
            raise AssertionError(f"a {target.kind} entry was reversed")
        if target.reversed:
            try:
                call()
            except AlreadyReversed:
                return
            raise AssertionError("an entry was reversed twice")
        entry = call()
        target.reversed = True
        if target.points < 0:  # give the points back to the lots they came from
            by_order = {lot.order: lot for lot in self.lots}
            for order, taken in target.draws.items():
                by_order[order].remaining += taken
            model = ModelEntry(entry.entry_id, target.member, "reverse", -target.points)
            model.draws = {order: -taken for order, taken in target.draws.items()}
            self.entries.append(model)
            assert (entry.points, entry.shortfall) == (-target.points, 0)
            self._recover(target, entry.entry_id)
        else:
            lot = target.lot
            owed = target.points - lot.expired
            draws = self.draw(target.member, owed, first=lot)
            taken = sum(draws.values())
            model = ModelEntry(entry.entry_id, target.member, "reverse", -taken, draws=draws)
            model.shortfall = owed - taken
            target.reversed_by = model
            self.entries.append(model)
            assert (entry.points, entry.shortfall) == (-taken, owed - taken)
        self.last_call = (call, entry)

    def _recover(self, target: ModelEntry, reversal_id: int) -> None:
        """Restored points in a reversed earn's lot repay that reversal's open shortfall."""
        recoveries = []
        for order, taken in sorted(target.draws.items()):
            lot = self.lots[order]
            reversal = self.entries[lot.source_entry].reversed_by
            if reversal is None:
                continue
            take = min(taken, reversal.shortfall - reversal.recovered)
            if take > 0:
                lot.remaining -= take
                reversal.recovered += take
                recoveries.append(
                    ModelEntry(0, target.member, "adjust", -take, draws={order: take})
                )
        if recoveries:  # written after the reversal, in lot order
            newer = [
                e
                for e in self.ledger.entries(self.ids[target.member], limit=len(recoveries))
                if e.entry_id > reversal_id
            ][::-1]
            assert [(e.kind, e.points) for e in newer] == [(r.kind, r.points) for r in recoveries]
            for model, written in zip(recoveries, newer, strict=True):
                model.entry_id = written.entry_id
                self.entries.append(model)

    @rule(days=st.integers(min_value=1, max_value=400))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)

    @rule()
    def expire(self) -> None:
        report = self.ledger.expire(self.now, actor="job")
        due = sorted(
            (lot for lot in self.lots if lot.expires_at <= self.now and lot.remaining > 0),
            key=lambda lot: (self.ids[lot.member], lot.expires_at, lot.order),
        )  # the job's order: member id, expiry, lot id
        assert (report.lots, report.points) == (len(due), sum(lot.remaining for lot in due))
        for lot, entry_id in zip(due, report.entry_ids, strict=True):
            lot.expired += lot.remaining
            self.entries.append(
                ModelEntry(
                    entry_id, lot.member, "expire", -lot.remaining, draws={lot.order: lot.remaining}
                )
            )
            lot.remaining = 0
        again = self.ledger.expire(self.now, actor="job")
        assert again.lots == 0

    @precondition(lambda self: self.last_call is not None)
    @rule()
    def replay_last_request(self) -> None:
        call, first = self.last_call
        assert call() == first  # answered from the key, nothing written

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def balances_match_the_model_and_the_entries(self) -> None:
        for name, member_id in self.ids.items():
            member = self.ledger.member(member_id)
            entries = self.ledger.entries(member_id, limit=1000)
            lots = self.ledger.lots(member_id)
            assert member.balance == sum(e.points for e in entries) >= 0
            assert member.balance == sum(lot.remaining for lot in lots) == self.balance(name)
            assert [lot.remaining for lot in lots] == [m.remaining for m in self.fifo(name)]

    @rule()
    def verify_finds_nothing(self) -> None:
        report = self.ledger.verify()
        assert report.ok, report.problems


LedgerMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerProperties = LedgerMachine.TestCase
