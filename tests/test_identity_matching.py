"""Probabilistic identity resolution (Splink, Fellegi–Sunter) against planted true duplicates.

The records come from `cxloop.generate.duplicates`: 2,000 people, a third of them recorded
two or three times with typos, swapped names, transposed dates, missing fields and changed
emails, plus households (same last name, address, often the landline) as hard negatives.
Precision and recall are measured on record pairs, for the model's accepted pairs and for
the profiles (rules alone, then rules + model); the figures are in docs/identity.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import cxloop
from cxloop.errors import ConfigError
from cxloop.generate.duplicates import DuplicatedCustomers, generate_duplicates
from tests.conftest import run_cli

PEOPLE, SEED = 1500, 7


def enable_matching(ws_dir: Path, **settings: object) -> None:
    """Switch probabilistic matching on in a workspace's cxloop.toml (lean training)."""
    config = ws_dir / "cxloop.toml"
    text = config.read_text(encoding="utf-8").replace(
        "probabilistic = false", "probabilistic = true"
    )
    settings = {"training_pairs": 1_000_000, **settings}
    for key, value in settings.items():
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} =")]
        at = lines.index("[identity]") + 1
        lines.insert(at, f"{key} = {json.dumps(value)}")
        text = "\n".join(lines) + "\n"
    config.write_text(text, encoding="utf-8")


def record_pairs(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {
        (a, b) if a < b else (b, a)
        for members in groups.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }


def profile_pairs(ws: cxloop.Workspace) -> set[tuple[str, str]]:
    """Pairs of records (`source:customer_id`) that ended in one profile."""
    groups: dict[str, list[str]] = {}
    for source, cid, pid in ws.engine.fetchall(
        "SELECT source, customer_id, profile_id FROM profile_records"
    ):
        groups.setdefault(pid, []).append(f"{source}:{cid}")
    return record_pairs(groups)


def model_pairs(ws: cxloop.Workspace) -> set[tuple[str, str]]:
    rows = ws.engine.fetchall(
        "SELECT replace(substr(a, 3), chr(31), ':'), replace(substr(b, 3), chr(31), ':') "
        "FROM identity_matches WHERE status = 'match'"
    )
    return {(a, b) if a < b else (b, a) for a, b in rows}


def parameters(path: Path) -> list[float]:
    """Every m and u probability and the prior of a saved model, in model order."""
    model = json.loads(path.read_text(encoding="utf-8"))
    values = [model["probability_two_random_records_match"]]
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            values += [level.get("m_probability") or 0.0, level.get("u_probability") or 0.0]
    return values


def precision_recall(found: set, truth: set) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / max(len(found), 1), hits / len(truth)


@pytest.fixture(scope="module")
def duplicates() -> DuplicatedCustomers:
    return generate_duplicates(PEOPLE, seed=SEED)


# Profiles with rules + model, default rates: the rules' phone edge joins households that
# share a landline (0.730 alone, seed 7), which the model cannot undo (0.760 with it).
PROFILE_PRECISION_FLOOR = 0.75
_RULES: dict[int, set[tuple[str, str]]] = {}


def rules_profile_pairs(data: DuplicatedCustomers, like: cxloop.Workspace) -> set:
    """Profile pairs of the same records with the rules alone (built once per data set)."""
    import tempfile

    if id(data) not in _RULES:
        with tempfile.TemporaryDirectory() as tmp:
            pacsv.write_csv(data.customers, Path(tmp) / "customers.csv")
            with cxloop.Workspace.init(Path(tmp) / "rules") as rules:
                rules.ingest([Path(tmp) / "customers.csv"])
                rules.profiles.build()
                _RULES[id(data)] = profile_pairs(rules)
    return _RULES[id(data)]


@pytest.fixture(scope="module")
def matched(tmp_path_factory, duplicates):
    """A workspace with the duplicates loaded and profiles built with the model."""
    root = tmp_path_factory.mktemp("matching")
    pacsv.write_csv(duplicates.customers, root / "customers.csv")
    cxloop.Workspace.init(root / "ws").close()
    # The default match threshold; a wide review band, so the review list has pairs to show.
    enable_matching(root / "ws", review_threshold=0.01)
    ws = cxloop.Workspace.open(root / "ws")
    ws.ingest([root / "customers.csv"])
    ws.profiles.build()
    yield ws
    ws.close()


def test_precision_and_recall_beat_the_rules_alone(matched, duplicates, tmp_path):
    truth = duplicates.true_pairs()
    model_p, model_r = precision_recall(model_pairs(matched), truth)
    both_p, both_r = precision_recall(profile_pairs(matched), truth)
    # The same records with the rules alone.
    pacsv.write_csv(duplicates.customers, tmp_path / "customers.csv")
    with cxloop.Workspace.init(tmp_path / "rules") as rules:
        rules.ingest([tmp_path / "customers.csv"])
        rules.profiles.build()
        rules_p, rules_r = precision_recall(profile_pairs(rules), truth)
    print(
        f"\n{len(truth)} true pairs; model pairs P={model_p:.3f} R={model_r:.3f}; "
        f"profiles rules alone P={rules_p:.3f} R={rules_r:.3f}; "
        f"rules + model P={both_p:.3f} R={both_r:.3f}"
    )
    # Recall is the price of precision: a full name and a home with no date of birth and
    # another email is what two namesakes of one household show too, so such pairs go to
    # review (0.796 on this data, 0.913 before the household guard let them through).
    assert model_p >= 0.99 and model_r >= 0.78
    assert both_r >= rules_r + 0.15  # the model finds what the rules cannot
    assert both_p >= rules_p  # ... without merging more strangers than the rules do


def test_without_shared_landlines_profiles_are_precise(tmp_path):
    """The rules' phone edge merges households sharing a landline; without those, the
    profiles of rules + model reach the floors on their own."""
    from cxloop.generate.duplicates import DuplicateRates

    data = generate_duplicates(1000, seed=11, rates=DuplicateRates(shared_landline=0.0))
    pacsv.write_csv(data.customers, tmp_path / "customers.csv")
    cxloop.Workspace.init(tmp_path / "ws").close()
    enable_matching(tmp_path / "ws")
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        ws.ingest([tmp_path / "customers.csv"])
        ws.profiles.build()
        p, r = precision_recall(profile_pairs(ws), data.true_pairs())
    assert p >= 0.95 and r >= 0.85, (p, r)


def test_model_is_saved_and_training_is_reproducible(matched):
    path = Path(matched.path) / "identity_model.json"
    first = json.loads(path.read_text(encoding="utf-8"))
    assert {c["output_column_name"] for c in first["comparisons"]} == {
        "name",
        "date_of_birth",
        "address",
        "email",
        "phone",
    }
    before, estimates = model_pairs(matched), parameters(path)
    matched.profiles.build(retrain=True)
    # Equal up to the order of floating-point sums in DuckDB's parallel aggregates.
    assert parameters(path) == pytest.approx(estimates, rel=1e-9, abs=1e-15)
    assert model_pairs(matched) == before


def test_merges_do_not_depend_on_record_order(matched, duplicates, tmp_path):
    """Shuffled records, a model trained from scratch: the same model and the same profiles."""
    order = list(range(duplicates.customers.num_rows))
    random.Random(3).shuffle(order)
    pacsv.write_csv(duplicates.customers.take(pa.array(order)), tmp_path / "customers.csv")
    cxloop.Workspace.init(tmp_path / "ws").close()
    enable_matching(tmp_path / "ws", review_threshold=0.01)
    with cxloop.Workspace.open(tmp_path / "ws") as other:
        other.ingest([tmp_path / "customers.csv"])
        other.profiles.build()
        saved = parameters(Path(matched.path) / "identity_model.json")
        ours = parameters(tmp_path / "ws" / "identity_model.json")
        assert ours == pytest.approx(saved, rel=1e-9, abs=1e-15)
        query = "SELECT source, customer_id, profile_id FROM profile_records ORDER BY 1, 2"
        assert other.engine.fetchall(query) == matched.engine.fetchall(query)


def test_review_list_explains_each_pair(matched):
    from rich.console import Console

    from cxloop import analyses
    from cxloop.cli import identity_view

    pairs = analyses.profiles_review(matched, limit=5)
    assert matched.profiles.summary().review_pairs >= len(pairs) > 0
    model = json.loads((Path(matched.path) / "identity_model.json").read_text())
    lam = model["probability_two_random_records_match"]
    prior = math.log2(lam / (1 - lam))
    settings = matched.config.identity
    for pair in pairs:
        assert settings.review_threshold <= pair["match_probability"]
        assert pair["reason"]
        assert (pair["left"]["profile_id"] != pair["right"]["profile_id"]) != pair["contradicted"]
        assert {c["comparison"] for c in pair["comparisons"]} == {
            "name",
            "date_of_birth",
            "address",
            "email",
            "phone",
        }
        assert all(c["level"] for c in pair["comparisons"])
        # The weights add up: prior + each comparison's contribution = the pair's weight.
        total = prior + sum(c["weight"] for c in pair["comparisons"])
        assert total == pytest.approx(pair["match_weight"], abs=1e-6)
    console = Console(record=True, width=120)
    identity_view.print_review(console, pairs[:2], total=len(pairs))
    text = console.export_text()
    assert "Review 1/2" in text and "why" in text and "2 of 5 pairs shown" in text


def test_lookup_says_which_model_match_joined_records(matched):
    a, b = matched.engine.fetchone(
        "SELECT a, b FROM identity_matches WHERE status = 'match' AND profile_a = profile_b "
        "ORDER BY a, b LIMIT 1"
    )
    key = ":".join(a.split("\x1f")[1:])
    profile = matched.profiles.lookup(key)
    assert any(
        link["rule"] == "probabilistic"
        and {link["from"], link["to"]}
        == {
            a.replace("\x1f", ":"),
            b.replace("\x1f", ":"),
        }
        for link in profile["links"]
    )
    assert profile["matches"] and profile["matches"][0]["comparisons"]
    assert matched.profiles.summary().by_rule["probabilistic"] == len(model_pairs(matched))


def test_household_members_are_not_merged_by_the_model(matched, duplicates):
    """Different people of one planted household (same last name, address, often the
    landline): never a model match, and never in one profile unless the rules alone (a
    shared landline, `match_phone`) already join them."""
    homes = duplicates.household_pairs()
    assert len(homes) > 100  # the generator planted them
    assert not model_pairs(matched) & homes
    with_rules = rules_profile_pairs(duplicates, matched)
    # Those the model sends to review are explained as such.
    rows = matched.engine.fetchall(
        "SELECT replace(substr(a, 3), chr(31), ':'), replace(substr(b, 3), chr(31), ':'), "
        "status FROM identity_matches WHERE reason LIKE '%household%'"
    )
    assert rows and all(status == "review" for _, _, status in rows)
    # Pairs judged two people that other links joined anyway are on the review list, flagged.
    contradicted = matched.engine.scalar(
        "SELECT count(*) FROM identity_matches WHERE status = 'review' "
        "AND profile_a = profile_b AND (reason LIKE '%household%' OR reason LIKE 'dates%')"
    )
    listed = matched.profiles.review(limit=100_000)
    assert contradicted > 0
    assert sum(p["contradicted"] for p in listed) == contradicted
    assert all(p["reason"] for p in listed if p["contradicted"])
    joined = (profile_pairs(matched) - with_rules) & homes
    if joined:  # defect 8 of the review: the closure does not keep a cannot-link
        pytest.xfail(f"{len(joined)} household pairs joined through other model edges")


def test_profiles_are_precise_with_the_default_settings(matched, duplicates):
    """A floor on the profiles' precision with default rates and settings: the model may not
    add more strangers than the rules' shared landlines already put together."""
    truth = duplicates.true_pairs()
    found = profile_pairs(matched)
    rules = rules_profile_pairs(duplicates, matched)
    added = found - rules
    precision, recall = precision_recall(found, truth)
    added_precision = len(added & truth) / max(len(added), 1)
    # 0.858 (seed 7): the rest are joined through chains of model edges (defect 8).
    assert added_precision >= 0.85, (added_precision, len(added))
    assert precision >= PROFILE_PRECISION_FLOOR and recall >= 0.88, (precision, recall)


def scored_with(model_ws: cxloop.Workspace, tmp_path: Path, csv: str) -> cxloop.Workspace:
    """A small workspace scored with the trained model of `model_ws` (no training)."""
    from tests.conftest import write

    write(tmp_path / "customers.csv", csv)
    cxloop.Workspace.init(tmp_path / "small").close()
    enable_matching(tmp_path / "small", review_threshold=0.01)
    model = (Path(model_ws.path) / "identity_model.json").read_text(encoding="utf-8")
    (tmp_path / "small" / "identity_model.json").write_text(model, encoding="utf-8")
    ws = cxloop.Workspace.open(tmp_path / "small")
    ws.ingest([tmp_path / "customers.csv"])
    ws.profiles.build()
    return ws


def test_placeholder_phone_is_no_evidence_for_the_model(matched, tmp_path):
    """Two different John Smiths on a shop's walk-in phone (shared by more records than
    `max_records_per_identifier`): the rules drop the phone, and so must the model."""
    limit = matched.config.identity.max_records_per_identifier
    rows = [
        "customer_id,source,first_name,last_name,date_of_birth,email,phone",
        "1,crm,John,Smith,,john.smith1@example.com,(212) 555-0100",
        "2,shop,John,Smith,1971-04-02,jsmith77@mail.example,(212) 555-0100",
    ]
    rows += [
        f"{i},store,Walk{chr(97 + i % 26)},In{i},,,(212) 555-0100" for i in range(3, limit + 3)
    ]
    with scored_with(matched, tmp_path, "\n".join(rows) + "\n") as ws:
        pairs = model_pairs(ws)
        assert ("crm:1", "shop:2") not in pairs, pairs
        assert not pairs
        assert ws.profiles.summary().profiles == limit + 2


def test_household_fields_and_disagreeing_birth_dates_never_merge(matched, tmp_path):
    """Mary and Tom Smith at one address with one landline and nothing else in common; two
    John Smiths with one email but dates of birth years apart: none is a model match."""
    csv = (
        "customer_id,source,first_name,last_name,date_of_birth,email,address,postcode,phone\n"
        "1,crm,Mary,Smith,,,12 Oak Street,NY10,(212) 555-0101\n"
        "2,shop,Tom,Smith,,,12 Oak St,NY10,(212) 555-0101\n"
        "3,crm,John,Smith,1951-04-02,jsmith@example.com,9 Elm Road,NY11,\n"
        "4,store,John,Smith,1983-09-17,jsmith@example.com,9 Elm Road,NY11,\n"
    )
    with scored_with(matched, tmp_path, csv) as ws:
        rows = ws.engine.fetchall(
            "SELECT replace(substr(a, 3), chr(31), ':'), replace(substr(b, 3), chr(31), ':'), "
            "status, reason FROM identity_matches"
        )
        assert not model_pairs(ws), rows


def test_matching_off_leaves_rules_alone(ws, tmp_path):
    from tests.conftest import write

    write(
        tmp_path / "customers.csv",
        "customer_id,source,first_name,last_name,date_of_birth\n"
        "1,crm,Ada,Lovelace,1815-12-10\n2,shop,Ada,Lovelace,1815-12-10\n",
    )
    ws.ingest([tmp_path / "customers.csv"])
    summary = ws.profiles.build()
    assert summary.by_rule["probabilistic"] == 0 and summary.review_pairs == 0
    assert summary.profiles == 2
    assert ws.profiles.review() == []
    assert not (Path(ws.path) / "identity_model.json").exists()
    # Switching matching on makes the profiles stale: the next analysis rebuilds them.
    assert not ws.profiles.stale
    ws.config = dataclasses.replace(
        ws.config, identity=dataclasses.replace(ws.config.identity, probabilistic=True)
    )
    assert ws.profiles.stale


def test_duplicate_generator_is_seeded_and_plants_what_it_says():
    a, b = generate_duplicates(300, seed=2), generate_duplicates(300, seed=2)
    assert a.customers.equals(b.customers) and (a.person == b.person).all()
    assert not generate_duplicates(300, seed=3).customers.equals(a.customers)
    people = len(set(a.person.tolist()))
    assert people == 300 and a.customers.num_rows > 1.3 * people
    keys = [
        f"{s}:{c}"
        for s, c in zip(
            *a.customers.select(["source", "customer_id"]).to_pydict().values(), strict=True
        )
    ]
    assert len(set(keys)) == len(keys)  # ids are unique within their source


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"match_threshold": 0.4, "review_threshold": 0.5}, "review_threshold <= match_threshold"),
        ({"match_threshold": 1.0}, "match_threshold < 1"),
        ({"training_pairs": 10}, "training_pairs"),
        ({"match_treshold": 0.9}, "unknown setting [identity] match_treshold"),
    ],
)
def test_bad_matching_settings_are_named(settings, message):
    from cxloop.config import WorkspaceConfig

    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        WorkspaceConfig.from_dict({"identity": settings})


def test_too_few_records_or_a_broken_model_are_clear_errors(tmp_path):
    from tests.conftest import write

    write(
        tmp_path / "customers.csv",
        "customer_id,source,first_name,last_name\n1,crm,Ada,Lovelace\n2,shop,Ada,Lovelace\n",
    )
    cxloop.Workspace.init(tmp_path / "ws").close()
    enable_matching(tmp_path / "ws")
    assert run_cli("ingest", str(tmp_path / "ws"), str(tmp_path / "customers.csv")).returncode == 0
    result = run_cli("profiles", str(tmp_path / "ws"), "--review", "--json")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "at least 1,000 customer records" in result.stderr
    (tmp_path / "ws" / "identity_model.json").write_text("{not json", encoding="utf-8")
    result = run_cli("profiles", str(tmp_path / "ws"), "--rebuild")
    assert result.returncode != 0
    assert "identity_model.json" in result.stderr and "Traceback" not in result.stderr
