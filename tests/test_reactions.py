"""Post-ingest reactions: new rows reach the programs once loaded; failures are kept, retried."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cxloop import reactions
from cxloop.errors import CxloopError
from cxloop.reactions import LoadedRows
from tests.conftest import write

EVENTS_HEADER = "event_id,customer_id,occurred_at,touchpoint,stage,duration_s,success,properties\n"
SEEN: list[list[str]] = []
FAIL = {"on": False}


def recording_reactor(ws, loaded: Sequence[LoadedRows]) -> dict[str, Any]:
    """A reactor that lists the event ids it is offered (and can be made to fail)."""
    if FAIL["on"]:
        raise CxloopError("the program store is unreachable")
    ids: list[str] = []
    for rows in loaded:
        where, params = rows.predicate
        ids += [
            r[0]
            for r in ws.engine.fetchall(
                f"SELECT event_id FROM events WHERE {where} ORDER BY event_id", params
            )
        ]
    SEEN.append(ids)
    return {"events": len(ids)}


def broken_reactor(ws, loaded: Sequence[LoadedRows]) -> dict[str, Any]:
    raise ZeroDivisionError("a bug")


@pytest.fixture
def recording(monkeypatch):
    SEEN.clear()
    FAIL["on"] = False
    monkeypatch.setattr(
        reactions, "REACTORS", (("recorder", "tests.test_reactions:recording_reactor"),)
    )


def events(tmp_path, name: str, ids: list[str]):
    rows = "".join(f"{i},c1,2024-03-01T10:00:00Z,checkout,buy,,,\n" for i in ids)
    return write(tmp_path / name / "events.csv", EVENTS_HEADER + rows)


def test_each_ingest_offers_only_the_rows_it_loaded(ws, tmp_path, recording):
    report = ws.ingest([events(tmp_path, "a", ["e1", "e2"])])
    assert SEEN == [["e1", "e2"]]
    assert report.to_dict()["reactions"] == [
        {"name": "recorder", "ok": True, "summary": {"events": 2}, "error": None}
    ]
    ws.ingest([events(tmp_path, "b", ["e2", "e3"])])  # e2 unchanged: not offered again
    assert SEEN[-1] == ["e3"]
    ws.ingest([events(tmp_path, "c", ["e3"])])  # nothing new: the reactor is not called
    assert len(SEEN) == 2


def test_a_failed_reaction_keeps_the_rows_and_offers_them_again(ws, tmp_path, recording):
    FAIL["on"] = True
    report = ws.ingest([events(tmp_path, "a", ["e1"])])
    assert report.loaded == 1  # the load itself stands
    assert report.reactions[0].ok is False
    assert "unreachable" in (report.reactions[0].error or "")
    assert ws.count("events") == 1
    assert ws.engine.scalar("SELECT count(*) FROM reaction_backlog") == 1
    FAIL["on"] = False
    ws.ingest([events(tmp_path, "b", ["e2"])])
    assert sorted(SEEN[-1]) == ["e1", "e2"]  # the backlog came back with the new rows
    assert ws.engine.scalar("SELECT count(*) FROM reaction_backlog") == 0


def test_retry_backlog_without_new_data(ws, tmp_path, recording):
    FAIL["on"] = True
    ws.ingest([events(tmp_path, "a", ["e1"])])
    FAIL["on"] = False
    outcomes = reactions.retry_backlog(ws)
    assert [o.ok for o in outcomes] == [True]
    assert SEEN == [["e1"]]
    assert reactions.retry_backlog(ws) == []


def test_a_reactor_bug_is_reported_without_its_message(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(reactions, "REACTORS", (("bug", "tests.test_reactions:broken_reactor"),))
    report = ws.ingest([events(tmp_path, "a", ["e1"])])
    assert report.loaded == 1
    assert report.reactions[0].error == "internal error (ZeroDivisionError)"


def test_a_crash_after_the_load_loses_no_reaction(ws, tmp_path, recording, monkeypatch):
    """The queue entry commits with the rows: a process that dies before its reactors ran
    leaves them queued, and the next ingest (or retry_backlog) offers them."""

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies right after the load committed

    monkeypatch.setattr("cxloop.workspace.run_reactions", crash)
    with pytest.raises(KeyboardInterrupt):
        ws.ingest([events(tmp_path, "a", ["e1"])])
    monkeypatch.undo()
    monkeypatch.setattr(
        reactions, "REACTORS", (("recorder", "tests.test_reactions:recording_reactor"),)
    )
    assert ws.count("events") == 1 and SEEN == []
    assert [o.ok for o in reactions.retry_backlog(ws)] == [True]
    assert SEEN == [["e1"]]
    assert ws.engine.scalar("SELECT count(*) FROM reaction_backlog") == 0


def test_an_entry_queued_while_a_reactor_runs_stays_queued(ws, tmp_path, monkeypatch):
    """Settling the queue removes exactly the entries offered, not one queued meanwhile."""
    loaded_meanwhile = {"done": False}

    def reactor(ws_, loaded):
        if not loaded_meanwhile["done"]:
            loaded_meanwhile["done"] = True
            ws_.engine.execute(
                "INSERT INTO reaction_backlog VALUES ('r', 'events', 'later.csv', "
                "TIMESTAMP '2030-01-01', NULL, TIMESTAMP '2030-01-01')"
            )
        return {}

    monkeypatch.setattr("tests.test_reactions.broken_reactor", reactor)
    monkeypatch.setattr(reactions, "REACTORS", (("r", "tests.test_reactions:broken_reactor"),))
    ws.ingest([events(tmp_path, "a", ["e1"])])
    assert ws.engine.fetchall("SELECT path FROM reaction_backlog") == [("later.csv",)]


def test_catch_up_selects_every_row(ws, tmp_path, recording):
    ws.ingest([events(tmp_path, "a", ["e1", "e2"])])
    SEEN.clear()
    reactions.run_reactions(ws, [LoadedRows.everything("events")])
    assert SEEN == [["e1", "e2"]]
