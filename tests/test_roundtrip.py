"""Generate -> ingest -> profiles recovers the generator's planted truths."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import cxloop
from cxloop.generate import generate
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    base = tmp_path_factory.mktemp("roundtrip")
    data = generate(base / "data", people=3000, seed=11)
    ws = cxloop.Workspace.init(base / "ws", brand="Northwind", competitors=("Contoso",))
    report = ws.ingest(sorted(data.files.values()))
    summary = ws.profiles.build()
    yield data, ws, report, summary
    ws.close()


def truth(data, name):
    return json.loads((data.truth_dir / name).read_text(encoding="utf-8"))


def test_profile_counts_equal_the_truth(loaded):
    data, _, _, summary = loaded
    identity = truth(data, "identity.json")
    assert summary.profiles == identity["expected_profiles"]
    assert summary.known_profiles == identity["expected_known_profiles"]
    assert summary.anonymous_profiles == identity["anonymous_only_profiles"]
    assert summary.by_rule["anonymous_id"] == identity["stitched_anonymous_ids"]


def test_no_profile_mixes_two_people(loaded):
    data, ws, _, _ = loaded
    records = ws.engine.fetchall("SELECT source, customer_id, profile_id FROM profile_records")
    person = {
        (r[0], r[1]): r[2]
        for r in duckdb.sql(
            "SELECT source, customer_id, person_id FROM read_csv(?, all_varchar = true)",
            params=[str(data.truth_dir / "record_person.csv")],
        ).fetchall()
    }
    people_in_profile: dict[str, set[str]] = {}
    for source, customer_id, profile_id in records:
        people_in_profile.setdefault(profile_id, set()).add(person[(source, customer_id)])
    assert all(len(p) == 1 for p in people_in_profile.values())


def test_rejects_equal_the_planted_dirty_rows(loaded):
    data, _, report, _ = loaded
    expected = truth(data, "rejects.json")
    assert {f.kind: f.rejected for f in report.files} == {
        k: v for k, v in expected.items() if k in {f.kind for f in report.files}
    }
    for f in report.files:
        if f.rejected:
            assert Path(f.rejects_file).exists()


def test_every_row_with_a_customer_reference_is_linked(loaded):
    _, ws, _, _ = loaded
    for kind in ("events", "orders", "referrer"):
        assert (
            ws.engine.scalar(
                "SELECT count(*) FROM profile_links WHERE kind = ? AND profile_id IS NULL", [kind]
            )
            == 0
        ), kind
    # Mentions by authors who are not customers, and anonymous answers, stay unlinked.
    assert (
        ws.engine.scalar(
            "SELECT count(*) FROM profile_links l JOIN mentions m ON l.id = m.mention_id "
            "WHERE l.kind = 'mentions' AND l.profile_id IS NULL AND m.customer_id IS NOT NULL"
        )
        == 0
    )
    assert (
        ws.engine.scalar(
            "SELECT count(*) FROM profile_links l JOIN feedback f ON l.source = f.source "
            "AND l.id = f.response_id WHERE l.kind = 'feedback' AND l.profile_id IS NULL "
            "AND (f.customer_id IS NOT NULL OR f.email LIKE '%@%.%')"
        )
        == 0
    )


def test_demo_runs_end_to_end(tmp_path):
    result = run_cli("demo", "--people", "1500", "--out", str(tmp_path / "demo"), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["headline"]["completed orders"] > 0
    assert doc["profiles"]["profiles"] > 0
    again = run_cli("demo", "--people", "1500", "--out", str(tmp_path / "demo"), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["headline"] == doc["headline"]


def test_demo_never_touches_a_folder_it_did_not_make(tmp_path):
    import cxloop as cx

    mine = tmp_path / "project"
    cx.Workspace.init(mine / "workspace").close()
    result = run_cli("demo", "--people", "200", "--out", str(mine))
    assert result.returncode != 0 and "not made by `cxloop demo`" in result.stderr
    assert (mine / "workspace" / "cxloop.toml").exists()


def test_overall_nps_equals_the_truth_computed_from_the_files(loaded):
    """The scorecard's NPS over all answers equals a direct count over the generator's file,
    leaving out the rows the generator made invalid on purpose (truth/rejects.csv)."""
    from cxloop.analytics.scorecard import build_scorecard

    data, ws, _, _ = loaded
    counts = duckdb.execute(
        """
        WITH bad AS (SELECT "row" FROM read_csv(?) WHERE kind = 'feedback'),
        rows AS (SELECT row_number() OVER () AS "row", * FROM read_csv(?, all_varchar = true))
        SELECT count(*) FILTER (WHERE CAST(score AS DOUBLE) >= 9),
               count(*) FILTER (WHERE CAST(score AS DOUBLE) < 7),
               count(*)
        FROM rows WHERE metric = 'nps' AND "row" NOT IN (SELECT "row" FROM bad)
        """,
        [str(data.truth_dir / "rejects.csv"), str(data.files["feedback"])],
    ).fetchone()
    promoters, detractors, n = counts
    doc = build_scorecard(ws)
    nps = doc["metrics"]["nps"]
    assert nps["n"] == n
    assert (nps["promoters"], nps["detractors"]) == (promoters, detractors)
    assert nps["value"] == pytest.approx(100 * (promoters - detractors) / n)
