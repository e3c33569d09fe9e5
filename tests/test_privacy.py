"""Personal data rights: export everything held about a person, erase every trace of them.

The workspace is generated sample data (800 people) with every derived table built (profiles,
VoC signals and themes, personas), plus rows added for the chosen person: a rejected order,
a line the reader cannot parse, a linked mention and an unlinked one by the same handle, and
a referral naming them only by email. Erasure is checked by scanning every text column of
every table for their identifiers, not by trusting the list of tables it knows.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cxloop
from cxloop.analytics.personas import PersonasSettings, build_personas
from cxloop.analytics.voc import VocSettings, build_voc
from cxloop.errors import CxloopError, NotFoundError
from cxloop.generate import generate
from cxloop.privacy import PERSONAL_KINDS, Person, erase_person, export_person
from tests.conftest import run_cli, write

HANDLE = "priv_tester_77"
GHOST = "ghost.reader@example.net"  # no profile: their customer row is rejected


def _pick(ws: cxloop.Workspace) -> dict[str, Any]:
    """A person with several source records, orders, answers with text and a persona, whose
    email no other profile holds."""
    row = ws.engine.fetchone(
        """SELECT p.profile_id, min(r.source), min(r.customer_id), p.email
        FROM profiles p JOIN profile_records r USING (profile_id)
        WHERE p.record_count >= 2 AND p.email IS NOT NULL
          AND (SELECT count(*) FROM profile_links l WHERE l.profile_id = p.profile_id
               AND l.kind = 'orders') >= 2
          AND EXISTS (SELECT 1 FROM profile_links l JOIN feedback f ON l.kind = 'feedback'
               AND f.source = l.source AND f.response_id = l.id
               WHERE l.profile_id = p.profile_id AND f.text IS NOT NULL)
          AND (SELECT count(DISTINCT profile_id) FROM profile_records x
               WHERE x.email = p.email) = 1
        GROUP BY p.profile_id, p.email ORDER BY p.profile_id LIMIT 1"""
    )
    pid, source, customer_id, email = row
    other = ws.engine.fetchone(
        "SELECT source, customer_id FROM profile_records WHERE profile_id <> ? "
        "ORDER BY customer_id LIMIT 1",
        [pid],
    )
    return {
        "profile_id": pid,
        "source": source,
        "customer_id": customer_id,
        "email": email,
        "referrer": other,
    }


def _extra_rows(folder: Path, person: dict[str, Any]) -> list[Path]:
    source, cid, email = person["source"], person["customer_id"], person["email"]
    ref_source, ref_id = person["referrer"]
    header = "order_id,customer_id,source,ordered_at,amount,currency,status,channel,items"
    orders = write(
        folder / "orders_extra.csv",
        f"{header}\n"
        f"OPRIV1,{cid},{source},2025-01-01,-5,USD,completed,web,1\n"  # negative amount
        f"OPRIV2,x,y,2025-01-01,5,USD,completed,web,1,{email.upper()},spare\n"  # unreadable
        f"OPRIV3,{cid}9,{source},2025-01-01,-5,USD,completed,web,1\n",  # someone else
    )
    mentions = write(
        folder / "mentions_extra.csv",
        "mention_id,posted_at,platform,author,customer_id,brand,kind,text,reach\n"
        f"MPRIV1,2025-02-01,x,{HANDLE},{cid},Northwind,post,Privacy tester says hi,10\n"
        f"MPRIV2,2025-02-02,x,{HANDLE},,Northwind,post,Unlinked post by the same handle,10\n",
    )
    referrals = write(
        folder / "referrals_extra.csv",
        "referral_id,referrer_id,source,code,referee_email,created_at\n"
        f"RFPRIV1,{ref_id},{ref_source},NW-PRIV,{email},2025-03-01\n"
        f"RFPRIV2,{ref_id},{ref_source},NW-PRIV,{GHOST},2025-03-02\n",
    )
    customers = write(
        folder / "customers_extra.csv",
        f"customer_id,source,email,created_at\nGHOST1,crm,{GHOST.title()},someday\n",
    )
    return [orders, mentions, referrals, customers]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("privacy")
    data = generate(base / "data", people=800, seed=11)
    with cxloop.Workspace.init(base / "ws", brand="Northwind", competitors=("Contoso",)) as ws:
        ws.ingest(sorted(data.files.values()))
        ws.profiles.build()
        person = _pick(ws)
        ws.ingest(_extra_rows(base / "extra", person))
        ws.profiles.build()
        build_voc(ws, VocSettings.from_config(ws))
        build_personas(ws, PersonasSettings.from_config(ws))
    return base / "ws", person


@pytest.fixture
def ws_copy(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """A private copy: erasure changes the workspace."""
    return Path(shutil.copytree(built[0], tmp_path / "ws"))


def _counts(ws: cxloop.Workspace) -> dict[str, int]:
    names = [r[0] for r in ws.engine.fetchall("SELECT table_name FROM duckdb_tables()")]
    return {n: ws.engine.scalar(f'SELECT count(*) FROM "{n}"') for n in names}


def _traces(ws: cxloop.Workspace, needles: list[str]) -> list[str]:
    """`table.column` of every text value that contains one of `needles` as a whole token
    (case-insensitive): `C17` is found in `{"id": "C17"}`, not in another person's `C179`."""
    words = "|".join(re.escape(n.lower()) for n in needles)
    pattern = f"(^|[^a-z0-9])({words})($|[^a-z0-9])"
    found = []
    columns = ws.engine.fetchall(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal "
        "AND (data_type LIKE '%VARCHAR%' OR data_type LIKE '%JSON%')"
    )
    for table, column in columns:
        hits = ws.engine.scalar(
            f'SELECT count(*) FROM "{table}" '
            f'WHERE regexp_matches(lower(CAST("{column}" AS VARCHAR)), ?)',
            [pattern],
        )
        if hits:
            found.append(f"{table}.{column}")
    return found


def _needles(doc: dict[str, Any]) -> list[str]:
    ids = doc["identifiers"]
    return [
        doc["profile_id"],
        *ids["emails"],
        *(r["customer_id"] for r in ids["records"]),
        *ids["anonymous_ids"],
        HANDLE,
    ]


def test_export_holds_every_row_of_the_person(built: tuple[Path, dict[str, Any]]) -> None:
    path, person = built
    with cxloop.Workspace.open(path) as ws:
        before = (_counts(ws), ws.data_version)
        doc = export_person(ws, person["customer_id"])
        same = export_person(ws, person["email"].upper())
        links = dict(
            ws.engine.fetchall(
                "SELECT kind, count(*) FROM profile_links WHERE profile_id = ? GROUP BY 1",
                [person["profile_id"]],
            )
        )
        assert (_counts(ws), ws.data_version) == before  # reading changes nothing
    json.dumps(doc, allow_nan=False)  # JSON-ready as it is
    assert doc["profile_id"] == same["profile_id"] == person["profile_id"]
    assert {"source": person["source"], "customer_id": person["customer_id"]} in doc["identifiers"][
        "records"
    ]
    assert len(doc["customers"]) == len(doc["identifiers"]["records"]) >= 2
    assert len(doc["orders"]) == links["orders"] and len(doc["feedback"]) == links["feedback"]
    assert {m["mention_id"] for m in doc["mentions"]} >= {"MPRIV1", "MPRIV2"}
    assert "RFPRIV1" in {r["referral_id"] for r in doc["referrals"]}
    assert doc["identifiers"]["handles"] == [{"platform": "x", "author": HANDLE}]
    rejected = {r["record"]["order_id"] for r in doc["ingest_rejects"] if r["record"]}
    assert "OPRIV1" in rejected and "OPRIV3" not in rejected  # `C...9` is someone else
    assert any(r["raw"] and "OPRIV2" in r["raw"] for r in doc["ingest_rejects"])
    assert sum(len(f["rows"]) for f in doc["rejects_files"]) == len(doc["ingest_rejects"])
    derived = doc["derived"]
    assert derived["note"].startswith("Derived data")
    assert [p["profile_id"] for p in derived["profiles"]] == [person["profile_id"]]
    assert len(derived["persona_assignments"]) == 1
    assert {t["id"] for t in derived["voc_texts"]} >= {"MPRIV1", "MPRIV2"}
    assert derived["voc_text_themes"]
    assert isinstance(doc["orders"][0]["amount"], str)  # Decimal, exactly


def test_erase_leaves_no_trace_and_touches_no_one_else(ws_copy: Path, built: tuple) -> None:
    person = built[1]
    with cxloop.Workspace.open(ws_copy) as ws:
        doc = export_person(ws, person["customer_id"])
        bystander = ws.engine.scalar(
            "SELECT min(profile_id) FROM persona_assignments WHERE profile_id <> ?",
            [person["profile_id"]],
        )
        their_before = export_person(ws, bystander)
        before, version = _counts(ws), ws.data_version
        needles = _needles(doc)
        assert _traces(ws, needles)  # the scan does find them before

        audit = erase_person(ws, person["customer_id"], actor="dpo", reason="ticket 4711")

        after = _counts(ws)
        for kind in PERSONAL_KINDS:
            assert before[kind] - after[kind] == len(doc[kind]), kind
        for table in ("profiles", "persona_assignments", "voc_texts", "voc_text_themes"):
            assert before[table] - after[table] == len(doc["derived"][table]), table
        assert before["ingest_rejects"] - after["ingest_rejects"] == len(doc["ingest_rejects"])
        assert audit["rows_deleted"]["customers"] == len(doc["customers"])
        assert audit["reject_file_lines"] == len(doc["ingest_rejects"])
        assert _traces(ws, needles) == []
        for path in ws.rejects_dir.iterdir():
            text = path.read_text(encoding="utf-8").lower()
            assert not re.search(f"\\b({'|'.join(map(re.escape, needles))})\\b", text, re.I)
        kept = ws.engine.scalar(
            "SELECT count(*) FROM ingest_rejects WHERE raw LIKE '%OPRIV3%' "
            "OR json_extract_string(record, '$.order_id') = 'OPRIV3'"
        )
        assert kept == 1  # the order of customer `C...9` is someone else's

        assert ws.data_version == version + 1 == audit["data_version"]
        log = ws.engine.fetchall("SELECT * FROM erasure_log")
        assert len(log) == 1 and log[0][0] == audit["erasure_id"]
        assert json.loads(log[0][4]) == audit["rows_deleted"]
        assert not any(n.lower() in str(log).lower() for n in needles)

        keys = [person["email"], f"{person['source']}:{person['customer_id']}", *needles[:3]]
        assert all(ws.profiles.lookup(k) is None for k in keys)
        ws.profiles.build()  # what remains does not bring them back
        assert all(ws.profiles.lookup(k) is None for k in keys)
        their_after = export_person(ws, bystander)
        for doc_ in (their_before, their_after):
            doc_.pop("exported_at")
        assert their_after == their_before

        with pytest.raises(NotFoundError):
            erase_person(ws, person["email"])
        assert ws.data_version == version + 1


def test_someone_without_a_profile_is_found_in_referrals_and_rejects(ws_copy: Path) -> None:
    with cxloop.Workspace.open(ws_copy) as ws:
        doc = export_person(ws, GHOST.upper())
        assert doc["profile_id"] is None
        assert [r["referral_id"] for r in doc["referrals"]] == ["RFPRIV2"]
        assert [r["record"]["customer_id"] for r in doc["ingest_rejects"]] == ["GHOST1"]
        assert [len(f["rows"]) for f in doc["rejects_files"]] == [1]
        before = _counts(ws)
        audit = erase_person(ws, GHOST)
        assert audit["rows_deleted"]["referrals"] == 1
        assert audit["rows_deleted"]["ingest_rejects"] == audit["reject_file_lines"] == 1
        assert before["customers"] == _counts(ws)["customers"]
        assert _traces(ws, [GHOST, "GHOST1"]) == []
        with pytest.raises(NotFoundError):
            export_person(ws, GHOST)
        with pytest.raises(CxloopError, match="placeholder"):
            erase_person(ws, "noreply@example.com")


def test_unknown_person_is_not_found_and_nothing_changes(ws_copy: Path) -> None:
    with cxloop.Workspace.open(ws_copy) as ws:
        before, version = _counts(ws), ws.data_version
        for key in ("nobody@example.com", "  ", "P0000000000000000"):
            with pytest.raises(NotFoundError):
                erase_person(ws, key)
            with pytest.raises(NotFoundError):
                export_person(ws, key)
        assert (_counts(ws), ws.data_version) == (before, version)


def test_a_reason_that_names_the_person_is_refused(ws_copy: Path, built: tuple) -> None:
    person = built[1]
    with cxloop.Workspace.open(ws_copy) as ws:
        before = _counts(ws)
        with pytest.raises(CxloopError, match="must not name the person"):
            erase_person(ws, person["customer_id"], reason=f"asked by {person['email']}")
        assert _counts(ws) == before


def test_rejected_rows_are_matched_on_whole_values() -> None:
    person = Person(
        profile_id="P1",
        records=(("crm", "17"),),
        emails=("ann@example.com",),
        phones=("16175550100",),
        anonymous_ids=("anon-1",),
        handles=(("x", "ann_x"),),
    )
    assert person.is_named_in({"customer_id": "17", "source": "crm"}, None)
    assert person.is_named_in({"Customer_ID": " 17 "}, None)  # no source: could be them
    assert not person.is_named_in({"customer_id": "17", "source": "shop"}, None)
    assert not person.is_named_in({"customer_id": "170"}, None)
    assert not person.is_named_in({"items": "17"}, None)  # not an id column
    assert person.is_named_in({"referee_email": " ANN@example.com"}, None)
    assert person.is_named_in({"properties": '{"cookie": "anon-1"}'}, None)
    assert person.is_named_in({"phone": "(617) 555-0100"}, None)
    assert not person.is_named_in({"phone": "555-0100"}, None)  # too short to be theirs
    assert person.is_named_in({"author": "Ann_X", "platform": "x"}, None)
    assert not person.is_named_in({"author": "ann_x", "platform": "reddit"}, None)
    assert person.is_named_in(None, 'o1,17,crm,"2024-01-01",bad')
    assert not person.is_named_in(None, "o1,170,crm")
    assert person.is_named_in(None, '{"id": "e1", "email": "Ann@example.com", broken')


def test_cli_export_and_erase(ws_copy: Path, built: tuple, tmp_path: Path) -> None:
    from cxloop.cli.main import app

    person, runner = built[1], CliRunner()
    key = person["email"]
    result = runner.invoke(app, ["privacy", "export", str(ws_copy), key])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["profile_id"] == person["profile_id"]
    out_file = tmp_path / "export.json"
    result = runner.invoke(app, ["privacy", "export", str(ws_copy), key, "--out", str(out_file)])
    assert result.exit_code == 0, result.output
    assert json.loads(out_file.read_text(encoding="utf-8"))["profile_id"] == person["profile_id"]
    assert out_file.stat().st_mode & 0o077 == 0  # personal data: the owner's only

    result = runner.invoke(app, ["privacy", "erase", str(ws_copy), key], input="n\n")
    assert result.exit_code != 0  # declined: nothing erased
    result = runner.invoke(
        app, ["privacy", "erase", str(ws_copy), key, "--yes", "--reason", "T-1", "--json"]
    )
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)
    assert audit["reason"] == "T-1" and audit["rows_deleted"]["customers"] >= 2

    again = run_cli("privacy", "erase", str(ws_copy), key, "--yes")
    assert again.returncode == NotFoundError.exit_code
    assert "no person matches" in again.stderr and "Traceback" not in again.stderr
