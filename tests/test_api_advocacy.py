"""The advocacy routes over HTTP (operator role): report, asks, completion, codes, referrals;
new data posted to the service is rewarded as it loads (the post-ingest reactor)."""

from __future__ import annotations

import httpx
import pytest

import cxloop
from cxloop.programs.advocacy.reactions import close_ledgers
from tests.advocacy_fixtures import enable_advocacy
from tests.servers import running_server
from tests.test_advocacy_referrals import CUSTOMERS, FEEDBACK, ORDERS, REFERRALS

NPS = "N1,S1,shop,2026-01-05T10:00:00Z,nps,10,,false\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("advocacy-api")
    files = {"customers": CUSTOMERS, "orders": ORDERS.format(o2="completed"),
             "referrals": REFERRALS, "feedback": FEEDBACK + NPS}  # fmt: skip
    with cxloop.Workspace.init(base / "ws", brand="Northwind") as ws:
        enable_advocacy(ws)
        for kind, text in files.items():
            (base / f"{kind}.csv").write_text(text)
        ws.ingest([base / f"{kind}.csv" for kind in files])
    close_ledgers()
    with running_server(base / "ws") as srv:
        yield srv
    close_ledgers()


def client(server, role: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {getattr(server, role)}"},
        timeout=60,
    )


def test_report_asks_codes_and_referrals(server):
    with client(server, "analyst") as c:  # reads the figures, changes nothing
        assert c.get("/v1/advocacy/report").status_code == 200
        assert c.post("/v1/advocacy/asks", json={"profile": "S1", "ask": "survey",
                                                 "source": "x"}).status_code == 403  # fmt: skip
        assert c.get("/v1/advocacy/referrals").status_code == 403
    with client(server, "ingest") as c:
        assert c.get("/v1/advocacy/report").status_code == 403
    with client(server, "operator") as c:
        doc = c.get("/v1/advocacy/report").json()
        assert {"advocates", "referrals", "cac", "asks"} <= set(doc)
        assert doc["referrals"]["converted"] == 1 and doc["referrals"]["flagged"] == 2

        asked = c.post("/v1/advocacy/asks", json={"profile": "alice@x.org", "ask": "story",
                                                  "source": "api-test"})  # fmt: skip
        assert asked.status_code == 200, asked.text
        ask_id = asked.json()["ask_id"]
        again = c.post("/v1/advocacy/asks", json={"profile": "alice@x.org", "ask": "story",
                                                  "source": "api-test"}).json()  # fmt: skip
        assert again["replayed"] and again["ask_id"] == ask_id
        done = c.post(f"/v1/advocacy/asks/{ask_id}/complete", json={"reference": "url"})
        assert done.json()["newly_completed"] is True
        assert c.post(f"/v1/advocacy/asks/{ask_id}/complete", json={}).json()[
            "newly_completed"] is False  # fmt: skip
        unknown = c.post("/v1/advocacy/asks/ask_nothing/complete", json={})
        assert unknown.status_code == 404
        bad = c.post("/v1/advocacy/asks", json={"profile": "alice@x.org", "ask": "dance",
                                                "source": "x"})  # fmt: skip
        assert bad.status_code == 400 and "unknown ask" in bad.text

        code = c.post("/v1/advocacy/codes", json={"profile": "alice@x.org"}).json()
        assert c.post("/v1/advocacy/codes", json={"profile": "S1"}).json() == code

        flagged = c.get("/v1/advocacy/referrals/flagged").json()["referrals"]
        assert {r["conversion_id"] for r in flagged} == {"shop:O3", "shop:O4"}
        rejected = c.post("/v1/advocacy/referrals/shop:O3/decision", json={"approve": False})
        assert rejected.json()["status"] == "rejected"
        twice = c.post("/v1/advocacy/referrals/shop:O3/decision", json={"approve": True})
        assert twice.status_code == 400  # decided already
        assert c.get("/v1/advocacy/referrals?status=nonsense").status_code == 422
        assert c.get("/v1/advocacy/next-asks").status_code == 200
        assert c.post("/v1/advocacy/jobs/release").status_code == 200


def test_a_review_posted_to_the_service_is_rewarded_as_it_loads(server):
    import time

    review = {"response_id": "R-API", "customer_id": "S2", "source": "shop", "metric": "rating",
              "score": 5, "submitted_at": "2026-03-01T10:00:00Z", "text": "Great fit",
              "public": True}  # fmt: skip
    with client(server, "operator") as c:
        before = c.get("/v1/advocacy/report").json()["reviews"]["rewarded"]
    with client(server, "ingest") as c:
        assert c.post("/v1/feedback", json=[review, review]).status_code == 200
    with client(server, "operator") as c:
        deadline = time.monotonic() + 90  # generous: CI machines are shared
        while time.monotonic() < deadline:
            after = c.get("/v1/advocacy/report", headers={"Cache-Control": "no-cache"}).json()
            if after["reviews"]["rewarded"] > before:
                break
            time.sleep(0.2)
        assert after["reviews"]["rewarded"] == before + 1
