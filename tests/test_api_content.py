"""The architecture and content routes over HTTP: roles, the workflow's 409, documents."""

from __future__ import annotations

import httpx
import pytest

import cxloop
from cxloop.experience.example import write_example
from tests.servers import running_server

CUSTOMERS = "customer_id,source,email,created_at\nC1,shop,ann@example.com,2024-01-01\n"
EVENTS = (
    "event_id,customer_id,source,occurred_at,touchpoint,properties\n"
    'E1,C1,shop,2024-02-01,delivery,"{""content_id"": ""G1""}"\n'
)


WORKSPACES: dict[str, object] = {}


def server_ws(server):
    return WORKSPACES[server.base_url]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("content-api")
    (base / "customers.csv").write_text(CUSTOMERS)
    (base / "events.csv").write_text(EVENTS)
    with cxloop.Workspace.init(base / "ws") as ws:
        ws.ingest([base / "customers.csv", base / "events.csv"])
        ws.profiles.build()
    write_example(base / "ws")
    with running_server(base / "ws") as srv:
        WORKSPACES[srv.base_url] = base / "ws"
        yield srv


def client(server, role: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {getattr(server, role)}"},
        timeout=60,
    )


ASSET = {"content_id": "G1", "title": "Tracking guide", "type": "guide", "moment": "delivery",
         "value_level": "functional", "owner": "logistics"}  # fmt: skip


def test_operator_creates_and_moves_assets(server) -> None:
    with client(server, "analyst") as c:
        assert c.post("/v1/content", json=ASSET).status_code == 403
    with client(server, "operator") as c:
        made = c.post("/v1/content", json=ASSET)
        assert made.status_code == 201, made.text
        assert made.json()["status"] == "idea"
        assert c.post("/v1/content", json=ASSET).status_code == 400  # exists
        bad = c.post("/v1/content", json={**ASSET, "content_id": "G2", "value_level": "joy"})
        assert bad.status_code == 400 and "value_level 'joy'" in bad.json()["detail"]
        refused = c.post("/v1/content/G1/status", json={"status": "published"})
        assert refused.status_code == 409
        assert "idea -> published is not allowed" in refused.json()["detail"]
        for status in ("planned", "approved", "published"):
            moved = c.post("/v1/content/G1/status", json={"status": status})
            assert moved.status_code == 200 and moved.json()["status"] == status
        assert c.post("/v1/content/NOPE/status", json={"status": "planned"}).status_code == 404
    with client(server, "analyst") as c:
        one = c.get("/v1/content/G1").json()
        assert [h["to_status"] for h in one["history"]] == [
            "idea", "planned", "approved", "published",
        ]  # fmt: skip
        assert [a["content_id"] for a in c.get("/v1/content").json()["assets"]] == ["G1"]
        lift = c.get("/v1/content/lift", headers={"Cache-Control": "no-cache"})
        assert lift.status_code == 200, lift.text
        asset = lift.json()["assets"][0]
        assert asset["engagement"]["views"] == 1 and asset["lift"] is None
        # The example names touchpoints this workspace never saw: refused with file and line.
        arch = c.get("/v1/architecture")
        assert arch.status_code == 400
        assert "architecture.toml: line 19, key moments[0].touchpoints[0]" in arch.json()["detail"]
        (server_ws(server) / "architecture.toml").write_text(
            '[[moments]]\nname = "delivery"\ntouchpoints = ["delivery"]\n', encoding="utf-8"
        )
        arch = c.get("/v1/architecture")  # an edited file is never answered from the cache
        assert arch.status_code == 200, arch.text
        (moment,) = arch.json()["moments"]
        assert moment["reach"]["value"] == 1.0 and moment["owner"] is None
