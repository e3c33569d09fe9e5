"""The closed loop over HTTP (operator role): an answer ingested through the API opens a case;
list, assign, refuse a wrong step (409), resolve, report, and the follow-up in the outbox."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.loop_helpers import loop_workspace
from tests.servers import running_server

CUSTOMERS = (
    "customer_id,source,email,consent_marketing,created_at\n"
    "C1,shop,ann@example.com,true,2024-01-01\n"
    "C2,shop,bob@example.com,false,2024-01-01\n"
)
TOUCHPOINTS = "touchpoint,stage,owner\ndelivery,own,logistics\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("cases-api")
    (base / "customers.csv").write_text(CUSTOMERS)
    (base / "touchpoints.csv").write_text(TOUCHPOINTS)
    with loop_workspace(base / "ws") as ws:
        ws.ingest([base / "customers.csv", base / "touchpoints.csv"])
    with running_server(base / "ws") as srv:
        yield srv


def client(server, role: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {getattr(server, role)}"},
        timeout=60,
    )


def test_an_ingested_detractor_answer_is_a_case_worked_through_the_api(server):
    answers = [
        {
            "response_id": "R1",
            "customer_id": "C1",
            "source": "shop",
            "metric": "nps",
            "score": 2,
            "touchpoint": "delivery",
            "submitted_at": "2026-01-05T10:00:00Z",
            "text": "The parcel was late",
        },
        {
            "response_id": "R2",
            "customer_id": "C2",
            "source": "shop",
            "metric": "nps",
            "score": 10,
            "touchpoint": "delivery",
            "submitted_at": "2026-01-05T11:00:00Z",
        },
    ]
    with client(server, "ingest") as c:
        loaded = c.post("/v1/feedback", json=answers)
        assert loaded.status_code == 200, loaded.text
    with client(server, "analyst") as c:
        assert c.get("/v1/cases").status_code == 403  # operators only
    with client(server, "operator") as c:
        deadline = time.monotonic() + 30  # the load (and its reactions) may be batched
        while True:
            listed = c.get("/v1/cases", params={"team": "logistics"})
            assert listed.status_code == 200, listed.text
            if listed.json()["cases"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        [case] = listed.json()["cases"]
        assert case["feedback_key"] == "feedback:shop:R1" and case["status"] == "open"
        case_id = case["case_id"]
        refused = c.post(f"/v1/cases/{case_id}/resolve", json={"code": "refund"})
        assert refused.status_code == 409
        assert "assign it first" in refused.text
        assert c.get("/v1/cases/Knothing").status_code == 404
        assigned = c.post(f"/v1/cases/{case_id}/assign", json={"assignee": "ana"})
        assert assigned.json()["status"] == "assigned"
        noted = c.post(
            f"/v1/cases/{case_id}/update", json={"note": "called the customer", "contacted": True}
        )
        assert noted.json()["first_response_at"] is not None
        resolved = c.post(f"/v1/cases/{case_id}/resolve", json={"code": "courier re-sent"})
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
        shown = c.get(f"/v1/cases/{case_id}").json()
        assert [h["action"] for h in shown["history"]] == ["open", "assign", "note", "resolve"]
        report = c.get("/v1/cases/report").json()
        assert {"open", "by_team", "sla", "resolution_time"} <= set(report)
        assert report["resolution_time"]["n"] == 1
        outbox = c.get("/v1/outbox").json()
        assert outbox["counts"]["pending"] == 1  # Ann consented: her follow-up survey
        [message] = outbox["messages"]
        assert message["topic"] == "survey_invitation"
        assert message["payload"]["case_id"] == case_id
