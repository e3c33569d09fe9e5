"""`cxloop advocacy ...` end to end in a subprocess: report JSON, codes, asks, flagged
referrals and an operator's decision."""

from __future__ import annotations

import json
from types import SimpleNamespace

from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.programs.advocacy.reactions import close_ledgers
from tests.advocacy_fixtures import enable_advocacy
from tests.conftest import run_cli, write
from tests.test_advocacy_referrals import CUSTOMERS, FEEDBACK, ORDERS, REFERRALS

NPS = """N1,S1,shop,2026-01-05T10:00:00Z,nps,10,,false
N2,S4,shop,2026-01-05T10:00:00Z,nps,2,,false
"""


def cli(*args: str) -> SimpleNamespace:
    """Run a command in this process (a subprocess per command would take seconds each)."""
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr="")


def test_the_advocacy_commands(tmp_path):
    path = tmp_path / "ws"
    with cxloop.Workspace.init(path, brand="Northwind") as ws:
        enable_advocacy(ws)
        files = [
            write(tmp_path / "customers.csv", CUSTOMERS),
            write(tmp_path / "orders.csv", ORDERS.format(o2="completed")),
            write(tmp_path / "referrals.csv", REFERRALS),
            write(tmp_path / "feedback.csv", FEEDBACK + NPS),
        ]
        assert all(r.ok for r in ws.ingest(files).reactions)
    close_ledgers()

    result = cli("advocacy", "report", str(path), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"advocates", "referrals", "cac", "asks"} <= set(doc)
    assert doc["referrals"]["converted"] == 1 and doc["referrals"]["flagged"] == 2
    assert doc["referrals"]["revenue"] == "80.00"
    assert doc["cac"]["referral_cac"] == "7.50"  # (500 + 250 points) x 0.01 for 1 customer
    assert [a["ask"] for a in doc["asks"]] == ["survey", "review", "story", "referral",
                                               "reference"]  # fmt: skip
    top = doc["advocates"]["top"][0]
    assert top["parts"]["converted"] == 1 and top["parts"]["reviews"] == 1

    table = run_cli("advocacy", "report", str(path))
    assert table.returncode == 0 and "referrals converted" in table.stdout

    flagged = json.loads(cli("advocacy", "flagged", str(path), "--json").stdout)
    assert {c["conversion_id"] for c in flagged} == {"shop:O3", "shop:O4"}
    decided = cli("advocacy", "decide", str(path), "shop:O4", "--approve", "--json")
    assert json.loads(decided.stdout)["status"] == "holding", decided.stderr

    profile = top["profile_id"]
    first = json.loads(cli("advocacy", "code", str(path), profile, "--json").stdout)
    again = json.loads(cli("advocacy", "code", str(path), profile, "--json").stdout)
    assert first["code"] == again["code"] and len(first["code"]) == 14

    detractor = cli("advocacy", "ask", str(path), "S4", "review", "--source", "cli",
                        "--json")  # fmt: skip
    assert json.loads(detractor.stdout)["reason"] == "detractor", detractor.stderr
    asked = cli("advocacy", "ask", str(path), "S1", "story", "--source", "cli", "--json")
    decision = json.loads(asked.stdout)
    assert decision["issued"], decision
    done = cli("advocacy", "complete", str(path), decision["ask_id"], "--json")
    assert json.loads(done.stdout)["newly_completed"] is True, done.stderr
    assert json.loads(cli("advocacy", "complete", str(path), decision["ask_id"],
                              "--json").stdout)["newly_completed"] is False  # fmt: skip

    nxt = cli("advocacy", "next-asks", str(path), "--json")
    assert nxt.returncode == 0, nxt.stderr
    assert all(n["next_ask"] != "review" or n["latest_nps"] not in range(7)
               for n in json.loads(nxt.stdout))  # fmt: skip
    bad = run_cli("advocacy", "ask", str(path), "S1", "dance", "--source", "cli")
    assert bad.returncode != 0 and "unknown ask 'dance'" in bad.stderr
    assert "Traceback" not in bad.stderr
