"""Referral codes match however a customer typed them (Crockford's base 32 is read without
case, separators or the I/L/O look-alikes), and the address check reads the addresses people
write: a letter after the house number, a comma, a flat before it; an address it cannot take
apart still compares as written. Neighbours in other flats of one building are not a ring."""

from __future__ import annotations

from cxloop.programs.advocacy.conversions import conversions, process_referrals
from cxloop.programs.advocacy.reactions import close_ledgers, program_ledger
from cxloop.programs.advocacy.referrals import find_conversions, referral_code
from tests.advocacy_fixtures import enable_advocacy
from tests.conftest import write

REFERRERS = """customer_id,source,email,phone,address,postcode
A1,shop,anna@x.org,,12A Oak Street,10001
A2,shop,bert.k@gmail.com,,"Rue de la Paix, 12",75002
"""
# Referee -> (referrer, address, postcode, how the code was typed)
REFEREES = {
    "R1": ("A1", "12a, Oak St", "10001", "lower"),
    "R2": ("A1", "Flat 2, 7 Elm Road", "10002", "bare"),
    "R3": ("A1", "Flat 3, 7 Elm Road", "10002", "spaced"),
    "R4": ("A1", "Flat 4, 7 Elm Road", "10002", "lookalikes"),
    "R5": ("A2", "Apt 9, 30 Pine Way", "10003", "exact"),
    "R6": ("A2", "apt. 9 30 Pine Way", "10003", "lower"),
    "R7": ("A2", "30 Pine Way, Apt 9", "10003", "bare"),
    "R8": ("A2", "Rue de la Paix 12", "75002", "exact"),
}

EMAILS = {"R8": "bertk+fr@googlemail.com"}  # A2's address: Google reads both domains as one


def typed(code: str, how: str) -> str:
    if how == "lower":
        return code.lower()
    if how == "bare":
        return code.replace("-", "")
    if how == "spaced":
        return " " + code.replace("-", " ") + " "
    if how == "lookalikes":
        return code.replace("0", "O").replace("1", "l").lower()
    return code


def test_codes_as_typed_and_addresses_as_written(ws, tmp_path):
    enable_advocacy(ws, velocity_max=100, ring_min_size=3)
    try:
        ws.ingest([write(tmp_path / "a" / "customers.csv", REFERRERS)])
        store = program_ledger(ws).store
        codes = {
            who: referral_code(store, ws.profiles.lookup(who, timeline_limit=0)["profile_id"])
            for who in ("A1", "A2")
        }
        people = "".join(
            f'{r},shop,{EMAILS.get(r, r.lower() + "@mail" + r + ".org")},,"{address}",{postcode}\n'
            for r, (_, address, postcode, _) in REFEREES.items()
        )
        orders = "".join(
            f'O{r},{r},shop,2026-03-0{i + 1}T10:00:00Z,30.00,completed,"{typed(codes[a], how)}"\n'
            for i, (r, (a, _, _, how)) in enumerate(REFEREES.items())
        )
        ws.ingest([
            write(tmp_path / "b" / "customers.csv", REFERRERS.split("\n")[0] + "\n" + people),
            write(tmp_path / "b" / "orders.csv",
                  "order_id,customer_id,source,ordered_at,amount,status,referral_code\n"
                  + orders),
        ])  # fmt: skip
        flags = {c["conversion_id"]: c["flags"] for c in conversions(store)}
        assert sorted(flags) == [f"shop:O{r}" for r in REFEREES]  # every typed code matched
        assert {c["code"] for c in conversions(store)} == set(codes.values())
        assert flags["shop:OR1"] == ["shared_address"]  # 12A = 12a, the comma ignored
        assert flags["shop:OR2"] == flags["shop:OR3"] == flags["shop:OR4"] == []  # neighbours
        assert flags["shop:OR5"] == flags["shop:OR6"] == flags["shop:OR7"] == ["ring_address"]
        assert flags["shop:OR8"] == ["shared_address", "shared_email"]  # as written; gmail
        _, unknown = find_conversions(ws, store, ws.config.advocacy)
        assert unknown == 0
        assert "unknown_code_orders" not in process_referrals(ws, program_ledger(ws),
                                                              ws.config.advocacy)  # fmt: skip
    finally:
        close_ledgers()
