"""The loyalty routes over HTTP (operator role): enrol, earn, redeem, balance, ledger."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import cxloop
from tests.servers import running_server

CUSTOMERS = (
    "customer_id,source,email,first_name,created_at\n"
    "C1,shop,ann@example.com,Ann,2024-01-01\n"
    "C2,shop,bob@example.com,Bob,2024-01-01\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("loyalty-api")
    (base / "customers.csv").write_text(CUSTOMERS)
    with cxloop.Workspace.init(base / "ws") as ws:
        ws.ingest([base / "customers.csv"])
        ws.profiles.build()
    with running_server(base / "ws") as srv:
        yield srv


def client(server, role: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {getattr(server, role)}"},
        timeout=60,
    )


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


@pytest.fixture(scope="module")
def ann(server):
    with client(server, "operator") as c:
        first = c.post("/v1/loyalty/members", json={"profile": "ann@example.com"})
        assert first.status_code == 200, first.text
        again = c.post("/v1/loyalty/members", json={"profile": "ann@example.com"})
        assert again.json()["member_id"] == first.json()["member_id"]  # idempotent by profile
        return first.json()["member_id"]


def test_earn_redeem_and_read_back(server, ann):
    with client(server, "operator") as c:
        earned = c.post(
            f"/v1/loyalty/members/{ann}/earn",
            json={"points": 300, "reason": "order", "source_type": "order", "source_id": "O1"},
            headers=key("earn-O1"),
        )
        assert earned.status_code == 200, earned.text
        assert earned.json()["points"] == 300 and earned.json()["kind"] == "earn"
        spent = c.post(
            f"/v1/loyalty/members/{ann}/redeem",
            json={"points": 120, "reason": "voucher"},
            headers=key("redeem-1"),
        )
        assert spent.json()["points"] == -120
        member = c.get(f"/v1/loyalty/members/{ann}").json()
        assert member["balance"] == 180
        assert sum(lot["remaining"] for lot in member["lots"]) == 180
        ledger = c.get(f"/v1/loyalty/members/{ann}/ledger").json()["entries"]
        assert [e["kind"] for e in ledger][:2] == ["redeem", "earn"]


def test_idempotency_keys(server, ann):
    with client(server, "operator") as c:
        body = {"points": 10, "reason": "bonus"}
        first = c.post(f"/v1/loyalty/members/{ann}/earn", json=body, headers=key("bonus-7"))
        again = c.post(f"/v1/loyalty/members/{ann}/earn", json=body, headers=key("bonus-7"))
        assert again.status_code == 200 and again.json() == first.json()
        other = c.post(
            f"/v1/loyalty/members/{ann}/earn",
            json={**body, "points": 11},
            headers=key("bonus-7"),
        )
        assert other.status_code == 409
        missing = c.post(f"/v1/loyalty/members/{ann}/earn", json=body)
        assert missing.status_code == 422  # a write without a key is refused


def test_overspending_is_409_with_a_clear_message(server, ann):
    with client(server, "operator") as c:
        balance = c.get(f"/v1/loyalty/members/{ann}").json()["balance"]
        response = c.post(
            f"/v1/loyalty/members/{ann}/redeem",
            json={"points": balance + 1, "reason": "too much"},
            headers=key("too-much"),
        )
        assert response.status_code == 409
        assert str(balance) in response.json()["detail"]
        assert c.get(f"/v1/loyalty/members/{ann}").json()["balance"] == balance


def test_bad_requests_and_unknowns(server, ann):
    with client(server, "operator") as c:
        assert c.get("/v1/loyalty/members/nobody").status_code == 404
        assert c.get("/v1/loyalty/members/nobody/ledger").status_code == 404
        assert c.post("/v1/loyalty/members", json={"profile": "x@nowhere"}).status_code == 404
        for points in (0, -5, 2.5, "10"):
            r = c.post(
                f"/v1/loyalty/members/{ann}/earn",
                json={"points": points, "reason": "x"},
                headers=key(f"bad-{points}"),
            )
            assert r.status_code == 422, (points, r.text)


@pytest.mark.parametrize("role,status", [("analyst", 403), ("ingest", 403), ("admin", 200)])
def test_the_program_is_for_operators(server, ann, role, status):
    with client(server, role) as c:
        assert c.get(f"/v1/loyalty/members/{ann}").status_code == status


def test_concurrent_redemptions_over_http_never_overspend(server):
    with client(server, "operator") as c:
        bob = c.post("/v1/loyalty/members", json={"profile": "bob@example.com"}).json()
        member = bob["member_id"]
        c.post(
            f"/v1/loyalty/members/{member}/earn",
            json={"points": 200, "reason": "start"},
            headers=key("bob-start"),
        )

    def redeem(i: int) -> int:
        with client(server, "operator") as c:
            return c.post(
                f"/v1/loyalty/members/{member}/redeem",
                json={"points": 10, "reason": "race"},
                headers=key(f"bob-race-{i}"),
            ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(redeem, range(40)))
    assert codes.count(200) == 20 and codes.count(409) == 20
    with client(server, "operator") as c:
        assert c.get(f"/v1/loyalty/members/{member}").json()["balance"] == 0


def test_jobs_and_liability(server, ann):
    with client(server, "operator") as c:
        synced = c.post("/v1/loyalty/jobs/sync")
        assert synced.status_code == 200, synced.text
        assert synced.json()["facts_loaded"] >= 1  # enrolments and entries become events
        tiers = c.post("/v1/loyalty/jobs/tiers")
        assert tiers.status_code == 200, tiers.text
        before = c.get(f"/v1/loyalty/members/{ann}").json()["balance"]
        assert before > 0
        expired = c.post("/v1/loyalty/jobs/expire", params={"as_of": "2100-01-01"})
        assert expired.status_code == 200, expired.text
        assert expired.json()["points"] >= before
        assert c.get(f"/v1/loyalty/members/{ann}").json()["balance"] == 0
        again = c.post("/v1/loyalty/jobs/expire", params={"as_of": "2100-01-01"}).json()
        assert again["points"] == 0  # idempotent
        assert c.post("/v1/loyalty/jobs/expire", params={"as_of": "soon"}).status_code == 400
    with client(server, "analyst") as finance:
        report = finance.get("/v1/loyalty/liability", params={"as_of": "2100-01-02"})
        assert report.status_code == 200, report.text
        assert finance.post("/v1/loyalty/jobs/expire").status_code == 403


def test_erasure_unlinks_the_membership_and_keeps_the_ledger(server, ann):
    with client(server, "admin") as admin:
        exported = admin.get("/v1/profiles/ann@example.com/export").json()
        assert exported["loyalty"]["member"]["member_id"] == ann
        assert exported["loyalty"]["entries"]  # the person's ledger is in their export
        erased = admin.delete("/v1/profiles/ann@example.com")
        assert erased.status_code == 200, erased.text
        assert erased.json()["rows_deleted"]["loyalty_members_unlinked"] == 1
        member = admin.get(f"/v1/loyalty/members/{ann}").json()
        assert member["profile_id"].startswith("erased:")  # entries stay, nobody is named
        assert admin.get(f"/v1/loyalty/members/{ann}/ledger").json()["entries"]
