"""A returned order takes back both referral rewards whatever state its conversion was left
in: a run that paid and died before marking the conversion rewarded, or a run that paid while
another voided the conversion, must not leave the rewards standing."""

from __future__ import annotations

from cxloop.programs.advocacy import conversions as conv_mod
from cxloop.programs.advocacy.conversions import conversions
from cxloop.programs.advocacy.reactions import close_ledgers, program_ledger
from tests.advocacy_fixtures import enable_advocacy
from tests.conftest import write
from tests.test_advocacy_referrals import CUSTOMERS, ORDERS, REFERRALS, points


def _load(ws, folder, orders_status: str) -> None:
    ws.ingest([
        write(folder / "customers.csv", CUSTOMERS),
        write(folder / "orders.csv", ORDERS.format(o2=orders_status)),
        write(folder / "referrals.csv", REFERRALS),
    ])  # fmt: skip


def _status(ws, conversion_id: str) -> str:
    return {c["conversion_id"]: c["status"] for c in conversions(program_ledger(ws).store)}[
        conversion_id
    ]


def test_a_return_after_a_run_died_between_paying_and_marking_reverses_both(
    ws, tmp_path, monkeypatch
):
    enable_advocacy(ws, holding_days=30)
    real = conv_mod._move

    def dies_after_paying(store, cid, old, new, *args, **kwargs):
        if (old, new) == ("holding", "rewarded"):
            raise RuntimeError("the process was killed here")
        return real(store, cid, old, new, *args, **kwargs)

    try:
        monkeypatch.setattr(conv_mod, "_move", dies_after_paying)
        _load(ws, tmp_path / "a", "completed")  # the reactor's failure is reported, not raised
        monkeypatch.setattr(conv_mod, "_move", real)
        assert _status(ws, "shop:O2") == "holding"
        assert points(ws, "referral") == {"shop:RF1": 500}  # paid, not marked
        ws.ingest([write(tmp_path / "b" / "orders.csv", ORDERS.format(o2="returned"))])
        assert _status(ws, "shop:O2") == "void"
        assert points(ws, "referral") == {"shop:RF1": 0}
        assert points(ws, "referee") == {"shop:RF1": 0}
    finally:
        close_ledgers()


def test_a_conversion_voided_while_it_was_being_paid_is_reversed(ws, tmp_path, monkeypatch):
    enable_advocacy(ws, holding_days=30)
    real_pay = conv_mod._pay

    def voided_meanwhile(ledger, settings, c):
        # Another run (the reactor of an ingest bringing the return) voids the conversion
        # before this one's payment lands: it found nothing paid to reverse.
        conv_mod._move(
            ledger.store, c.conversion_id, "holding", "void", conv_mod.datetime.now(conv_mod.UTC)
        )
        return real_pay(ledger, settings, c)

    try:
        monkeypatch.setattr(conv_mod, "_pay", voided_meanwhile)
        _load(ws, tmp_path / "a", "completed")
        assert _status(ws, "shop:O2") == "void"
        assert points(ws, "referral") == {"shop:RF1": 0}
        assert points(ws, "referee") == {"shop:RF1": 0}
    finally:
        close_ledgers()


def test_a_return_reverses_a_reward_whose_run_died_before_remembering_it(ws, tmp_path, monkeypatch):
    from cxloop.programs.advocacy import rewards

    enable_advocacy(ws, holding_days=30)

    def dies(*args, **kwargs):
        raise RuntimeError("the process was killed here")

    try:
        monkeypatch.setattr(rewards, "_remember", dies)
        _load(ws, tmp_path / "a", "completed")
        monkeypatch.undo()
        assert points(ws, "referral") == {"shop:RF1": 500}  # the entry, no row naming it
        ws.ingest([write(tmp_path / "b" / "orders.csv", ORDERS.format(o2="returned"))])
        assert _status(ws, "shop:O2") == "void"
        assert points(ws, "referral") == {"shop:RF1": 0}
    finally:
        close_ledgers()
