"""Tests of the sample data generator: determinism, the contract, and the planted truths.

The truths are checked against the files themselves (an independent union-find over the
identity rules, a small contract validator in SQL), never against cxloop's own loader or
resolver, so a bug in either side shows up as a disagreement.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import duckdb
import numpy as np
import phonenumbers
import pytest
from scipy import stats

from cxloop.generate import GeneratedData, GeneratorSettings, generate
from cxloop.generate.catalogue import TOUCHPOINTS
from cxloop.generate.personas import draw_traits, shares_at
from cxloop.generate.purchases import expected_repeat_purchases, simulate_purchases

KINDS = ("customers", "events", "orders", "feedback", "mentions", "referrals", "touchpoints")

REQUIRED = {
    "customers": ["customer_id"],
    "events": ["event_id", "occurred_at", "touchpoint"],
    "orders": ["order_id", "customer_id", "ordered_at", "amount"],
    "feedback": ["response_id", "submitted_at", "metric", "score"],
    "mentions": ["mention_id", "posted_at", "platform", "author", "brand", "kind"],
    "referrals": ["referral_id", "referrer_id", "created_at"],
    "touchpoints": ["touchpoint", "stage"],
}


def _ts(column: str) -> str:
    """SQL: the value is present but not an ISO 8601 timestamp."""
    return f"({column} IS NOT NULL AND TRY_CAST({column} AS TIMESTAMPTZ) IS NULL)"


def _json(column: str) -> str:
    return f"({column} IS NOT NULL AND NOT coalesce(json_type({column}) = 'OBJECT', false))"


# A row breaks the data contract when the predicate holds (docs: shared data-contract.md).
VIOLATIONS = {
    "customers": " OR ".join(
        [
            "customer_id IS NULL",
            _ts("created_at"),
            "(date_of_birth IS NOT NULL AND TRY_CAST(date_of_birth AS DATE) IS NULL)",
            "consent_marketing NOT IN ('true', 'false')",
            _json("attributes"),
        ]
    ),
    "events": " OR ".join(
        [
            "event_id IS NULL",
            "occurred_at IS NULL",
            _ts("occurred_at"),
            "touchpoint IS NULL",
            "(stage IS NOT NULL AND stage NOT IN ('buy', 'own', 'advocate'))",
            "(customer_id IS NULL AND anonymous_id IS NULL)",
            "TRY_CAST(duration_s AS DOUBLE) < 0",
            "(duration_s IS NOT NULL AND TRY_CAST(duration_s AS DOUBLE) IS NULL)",
            "(success IS NOT NULL AND success NOT IN ('true', 'false'))",
            _json("properties"),
        ]
    ),
    "orders": " OR ".join(
        [
            "order_id IS NULL",
            "customer_id IS NULL",
            "ordered_at IS NULL",
            _ts("ordered_at"),
            "amount IS NULL",
            "TRY_CAST(amount AS DECIMAL(18, 2)) IS NULL",
            "TRY_CAST(amount AS DECIMAL(18, 2)) < 0",
            "status NOT IN ('completed', 'cancelled', 'returned')",
            "TRY_CAST(items AS INTEGER) < 0",
        ]
    ),
    "feedback": " OR ".join(
        [
            "response_id IS NULL",
            "submitted_at IS NULL",
            _ts("submitted_at"),
            "metric IS NULL",
            "metric NOT IN ('nps', 'ces', 'csat', 'rating', 'comment')",
            "(metric <> 'comment' AND score IS NULL)",
            "(metric = 'nps' AND NOT TRY_CAST(score AS INTEGER) BETWEEN 0 AND 10)",
            "(metric = 'ces' AND NOT TRY_CAST(score AS INTEGER) BETWEEN 1 AND 7)",
            "(metric IN ('csat', 'rating') AND NOT TRY_CAST(score AS INTEGER) BETWEEN 1 AND 5)",
            "(customer_id IS NULL AND email IS NULL)",
        ]
    ),
    "mentions": " OR ".join(
        [
            "mention_id IS NULL",
            "posted_at IS NULL",
            _ts("posted_at"),
            "platform IS NULL",
            "author IS NULL",
            "brand IS NULL",
            "kind IS NULL",
            "kind NOT IN ('post', 'reply', 'review', 'share', 'like')",
            "TRY_CAST(reach AS BIGINT) < 0",
        ]
    ),
    "referrals": " OR ".join(
        ["referral_id IS NULL", "referrer_id IS NULL", "created_at IS NULL", _ts("created_at")]
    ),
    "touchpoints": "touchpoint IS NULL OR stage NOT IN ('buy', 'own', 'advocate')",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> GeneratedData:
    """A moderately sized CSV data set with dirty rows (about half a second to generate)."""
    return generate(tmp_path_factory.mktemp("sample"), people=3_000, seed=7)


@pytest.fixture(scope="module")
def db(sample: GeneratedData) -> duckdb.DuckDBPyConnection:
    """Every file of `sample` as a text-only view named after its kind."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for kind, path in sample.files.items():
        con.execute(
            f"CREATE VIEW {kind} AS SELECT * FROM read_csv('{path}', all_varchar = true, "
            "header = true)"
        )
    for name in ("record_person", "anonymous_person", "feedback_truth", "purchases", "rejects"):
        path = sample.truth_dir / f"{name}.csv"
        con.execute(f"CREATE VIEW truth_{name} AS SELECT * FROM read_csv('{path}')")
    return con


def _truth(sample: GeneratedData, name: str) -> dict:
    return json.loads((sample.truth_dir / f"{name}.json").read_text())


def _bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.*"))}


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", people=400, seed=3)
    b = generate(tmp_path / "b", people=400, seed=3)
    c = generate(tmp_path / "c", people=400, seed=4)
    assert _bytes(a.out_dir) == _bytes(b.out_dir)
    # + 13 truth files, + the content files (3) and their truth (content.py)
    assert len(_bytes(a.out_dir)) == len(KINDS) + 13 + 4
    assert a.files["customers"].read_bytes() != c.files["customers"].read_bytes()
    assert a.files["events"].read_bytes() != c.files["events"].read_bytes()


def test_one_file_per_kind_with_lower_case_contract_columns(sample: GeneratedData, db) -> None:
    assert set(sample.files) == set(KINDS)
    for kind, path in sample.files.items():
        assert path == sample.out_dir / f"{kind}.csv"
        header = path.read_bytes().split(b"\r\n", 1)[0].decode()
        columns = [c.strip('"') for c in header.split(",")]
        assert columns == [c.lower() for c in columns]
        assert set(REQUIRED[kind]) <= set(columns), kind
        assert db.execute(f"SELECT count(*) FROM {kind}").fetchone()[0] == sample.rows[kind]


def test_dirty_rows_are_the_only_contract_violations(sample: GeneratedData, db) -> None:
    expected = _truth(sample, "rejects")
    for kind in KINDS:
        broken = db.execute(f"SELECT count(*) FROM {kind} WHERE {VIOLATIONS[kind]}").fetchone()[0]
        assert broken == expected[kind], kind
        assert (expected[kind] >= 1) == (kind != "touchpoints")
    listed = db.execute("SELECT kind, count(*) FROM truth_rejects GROUP BY kind").fetchall()
    assert dict(listed) == {k: v for k, v in expected.items() if v}


def test_clean_data_has_no_violations(tmp_path: Path) -> None:
    clean = generate(tmp_path, people=300, seed=5, dirty_rate=0.0)
    con = duckdb.connect()
    for kind, path in clean.files.items():
        sql = (
            f"SELECT count(*) FROM read_csv('{path}', all_varchar = true) WHERE {VIOLATIONS[kind]}"
        )
        assert con.execute(sql).fetchone()[0] == 0, kind
    assert set(json.loads((clean.truth_dir / "rejects.json").read_text()).values()) == {0}


def test_values_follow_the_contract(sample: GeneratedData, db) -> None:
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    ids = "SELECT count(customer_id) - count(DISTINCT customer_id) FROM customers"
    assert one(ids) == 0
    prefixes = db.execute("SELECT DISTINCT source, left(customer_id, 1) FROM customers "
                      "WHERE customer_id IS NOT NULL").fetchall()  # fmt: skip
    assert sorted(prefixes) == [("crm", "C"), ("shop", "S"), ("store", "T")]
    assert one("SELECT min(length(customer_id)) FROM customers") == 8
    summary = _truth(sample, "summary")
    duplicates = one("SELECT count(event_id) - count(DISTINCT event_id) FROM events")
    assert duplicates == summary["duplicate_event_rows"] >= 1
    twins = "SELECT count(*) FROM (SELECT DISTINCT * FROM events WHERE event_id IS NOT NULL)"
    assert one(twins) == one("SELECT count(DISTINCT event_id) FROM events")
    catalogue = {row[0] for row in TOUCHPOINTS}
    used = {r[0] for r in db.execute("SELECT DISTINCT touchpoint FROM events").fetchall()}
    assert used - {None} == catalogue
    assert 0.4 < one("SELECT avg((stage IS NULL)::int) FROM events") < 0.6
    assert one("SELECT count(*) FROM orders WHERE currency <> 'USD'") == 0
    shares = dict(db.execute("SELECT status, count(*) / sum(count(*)) OVER () FROM orders "
                         "GROUP BY status").fetchall())  # fmt: skip
    assert 0.02 < shares["returned"] < 0.06 and 0.01 < shares["cancelled"] < 0.035
    brands = dict(db.execute("SELECT brand, count(*) / sum(count(*)) OVER () FROM mentions "
                         "WHERE brand IS NOT NULL GROUP BY brand").fetchall())  # fmt: skip
    assert set(brands) == {"Northwind", "Contoso", "Fabrikam"}
    assert 0.40 < brands["Northwind"] < 0.50
    countries = dict(db.execute("SELECT country, count(*) FROM customers GROUP BY 1").fetchall())
    assert countries["US"] > 10 * (countries.get("CA", 0) + countries.get("GB", 0)) > 0
    consent = one("SELECT avg((consent_marketing = 'true')::int) FROM customers")
    assert 0.55 < consent < 0.65
    per_person = sample.rows["events"] / 3_000
    assert 15 < per_person < 40


def test_every_reference_names_an_existing_record(sample: GeneratedData, db) -> None:
    for kind, id_col in (("events", "customer_id"), ("orders", "customer_id"),
                         ("feedback", "customer_id"), ("referrals", "referrer_id"),
                         ("referrals", "referee_id")):  # fmt: skip
        missing = db.execute(
            f"SELECT count(*) FROM {kind} k WHERE k.{id_col} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM truth_record_person r WHERE r.customer_id = k.{id_col} "
            "AND r.source = k.source)"
        ).fetchone()[0]
        assert missing == 0, (kind, id_col)
    missing = db.execute(
        "SELECT count(*) FROM mentions m WHERE customer_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM truth_record_person r WHERE r.customer_id = m.customer_id "
        "AND r.source = 'crm')"
    ).fetchone()[0]
    assert missing == 0
    email_only = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM customers c "
        "WHERE lower(trim(c.email)) = lower(trim(f.email)))) FROM feedback f "
        "WHERE source = 'survey'"
    ).fetchone()
    assert email_only[0] > 0 and email_only[1] == 0
    converted = db.execute(
        "SELECT count(*) FROM referrals r JOIN orders o ON o.order_id = r.converted_order_id "
        "AND o.customer_id = r.referee_id AND o.referral_code = r.code"
    ).fetchone()[0]
    assert converted == _truth(sample, "summary")["referrals_converted"] > 0


class _Components:
    """Union-find over identity nodes, written here independently of cxloop's resolver."""

    def __init__(self) -> None:
        self.parent: dict[tuple, tuple] = {}

    def find(self, node: tuple) -> tuple:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a: tuple, b: tuple) -> None:
        self.parent[self.find(a)] = self.find(b)


def _phone(raw: str, country: str | None) -> str | None:
    number = phonenumbers.parse(raw.strip(), country or "US")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None if len(set(e164[2:])) <= 1 else e164  # 000-000-0000 is a placeholder


def test_identity_truth_matches_the_rules_applied_to_the_files(sample: GeneratedData, db) -> None:
    """Count connected components of records, e-mail references and anonymous ids.

    Rules (the brief of identity resolution): same lower(trim(email)), same E.164 phone with
    the record's country (default US), an event with both anonymous_id and a customer id;
    placeholders (noreply@..., 000-000-0000) never join anything.
    """
    truth = _truth(sample, "identity")
    uf = _Components()
    records = db.execute(
        f"SELECT source, customer_id, email, phone, country FROM customers "
        f"WHERE NOT ({VIOLATIONS['customers']})"
    ).fetchall()
    owner_of_value: dict[tuple, set] = {}
    person = dict(
        ((s, c), p) for s, c, p in db.execute(
            "SELECT source, customer_id, person_id FROM truth_record_person").fetchall()
    )  # fmt: skip
    for source, customer_id, email, phone, country in records:
        node = ("r", source, customer_id)
        uf.find(node)
        values = []
        if email and not email.strip().lower().startswith("noreply@"):
            values.append(("e", email.strip().lower()))
        if phone and (e164 := _phone(phone, country)):
            values.append(("p", e164))
        for value in values:
            uf.union(node, value)
            owner_of_value.setdefault(value, set()).add(person[(source, customer_id)])
    shared = {v for v, owners in owner_of_value.items() if len(owners) > 1}
    assert not shared, "an identifier is shared by two persons"
    stitches = db.execute(
        f"SELECT DISTINCT anonymous_id, source, customer_id FROM events "
        f"WHERE anonymous_id IS NOT NULL AND NOT ({VIOLATIONS['events']})"
    ).fetchall()
    anonymous = set()
    for anonymous_id, source, customer_id in stitches:
        anonymous.add(anonymous_id)
        uf.find(("a", anonymous_id))
        if customer_id is not None:
            uf.union(("a", anonymous_id), ("r", source, customer_id))
    roots_known = {uf.find(("r", s, c)) for s, c, *_ in records}
    roots_anon = {uf.find(("a", a)) for a in anonymous} - roots_known
    assert len(roots_known) == truth["expected_known_profiles"]
    assert len(roots_anon) == truth["anonymous_only_profiles"]
    assert truth["expected_profiles"] == len(roots_known) + len(roots_anon)
    assert truth["persons"] <= truth["expected_profiles"]
    assert truth["expected_profiles"] <= 3 * truth["persons"] + truth["anonymous_ids"]
    assert len(anonymous) == truth["anonymous_ids"]
    assert truth["placeholder_records"] >= 1
    assert truth["planted_unlinkable_persons"] <= truth["unlinkable_persons"]
    assert 0.02 < truth["unlinkable_persons"] / truth["multi_record_persons"] < 0.08


def test_truth_files_agree_with_the_data(sample: GeneratedData, db) -> None:
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    truth = _truth(sample, "identity")
    assert one("SELECT count(*) FROM truth_record_person") == sample.rows["customers"]
    assert one("SELECT count(DISTINCT person_id) FROM truth_record_person") == truth["persons"]
    assert one("SELECT count(*) FROM truth_anonymous_person") == truth["anonymous_ids"]
    visitors = one("SELECT count(*) FROM truth_anonymous_person WHERE person_id IS NULL")
    assert visitors == truth["anonymous_visitors"] == pytest.approx(300, rel=0.1)
    buyers = one(
        "SELECT count(DISTINCT r.person_id) FROM orders o JOIN truth_record_person r "
        "ON r.customer_id = o.customer_id AND r.source = o.source"
    )
    assert one("SELECT count(*) FROM truth_purchases") == buyers
    assert one("SELECT count(*) FROM truth_feedback_truth") == sample.rows["feedback"]
    params = _truth(sample, "parameters")
    assert params["window"] == {"start": "2024-07-01", "end": "2026-06-30", "days": 730.0}
    assert params["bgnbd"]["r"] == 0.6 and params["gamma_gamma"]["p"] == 6.0
    effects = _truth(sample, "effects")
    assert effects["scores"]["late_delivery"]["effect"]["nps"] == -2.5
    span = db.execute(
        "SELECT min(occurred_at::TIMESTAMPTZ)::VARCHAR, max(occurred_at::TIMESTAMPTZ)::VARCHAR "
        f"FROM events WHERE NOT ({VIOLATIONS['events']})"
    ).fetchone()
    assert str(span[0]).startswith("2024-07-01") and str(span[1]).startswith("2026-06-30")


def test_purchases_follow_bgnbd_and_gamma_gamma() -> None:
    """Mean repeat purchases match FHL (2005) eq. 7; means of lambda, p and spend match."""
    s = replace(GeneratorSettings(), late_dropout_multiplier=1.0)
    rng = np.random.default_rng(11)
    n = 100_000
    acquired = rng.uniform(0.0, s.acquisition_days, n)
    orders, truth = simulate_purchases(rng, s, np.arange(n), acquired, np.ones(n))
    repeats = np.bincount(orders.person, minlength=n) - 1
    weeks = (s.window_days - acquired) / 7.0
    theory = expected_repeat_purchases(weeks, s.bgnbd_r, s.bgnbd_alpha, s.bgnbd_a, s.bgnbd_b)
    assert repeats.mean() == pytest.approx(theory.mean(), rel=0.03)
    assert truth.lam.mean() == pytest.approx(s.bgnbd_r / s.bgnbd_alpha, rel=0.03)
    assert truth.p.mean() == pytest.approx(s.bgnbd_a / (s.bgnbd_a + s.bgnbd_b), rel=0.03)
    mean_amount = s.spend_p * s.spend_gamma / (s.spend_q - 1.0)  # E[z] of the Gamma-Gamma model
    assert orders.amount.mean() == pytest.approx(mean_amount, rel=0.03)
    assert np.all(orders.t < s.window_days) and np.all(orders.amount >= 0)


def test_late_first_delivery_raises_dropout() -> None:
    s = GeneratorSettings()
    rng = np.random.default_rng(12)
    n = 60_000
    orders, truth = simulate_purchases(rng, s, np.arange(n), np.zeros(n), np.ones(n))
    per_order = np.bincount(orders.person, minlength=n)
    repeat_buyers = per_order >= 2
    churned = ~np.isnan(truth.churned)
    late, on_time = truth.first_late & repeat_buyers, ~truth.first_late & repeat_buyers
    assert churned[late].mean() > churned[on_time].mean() + 0.05
    assert 0.12 < truth.first_late.mean() < 0.18


def test_planted_effects_show_in_the_scores(sample: GeneratedData, db) -> None:
    rows = dict(
        db.execute(
            "SELECT t.late_delivery, avg(f.score::DOUBLE) FROM feedback f "
            "JOIN truth_feedback_truth t USING (response_id) "
            "WHERE f.metric = 'nps' AND f.touchpoint IS NULL AND f.score::INT BETWEEN 0 AND 10 "
            "GROUP BY 1"
        ).fetchall()
    )
    assert rows[True] - rows[False] < -1.5
    support = dict(
        db.execute(
            "SELECT e.success, avg(f.score::DOUBLE) FROM feedback f JOIN events e "
            "ON json_extract_string(e.properties, '$.order_id') = f.order_id "
            "AND e.touchpoint = f.touchpoint "
            "WHERE f.metric = 'ces' AND f.score::INT BETWEEN 1 AND 7 GROUP BY 1"
        ).fetchall()
    )
    assert support["false"] - support["true"] < -1.0
    themes = dict(
        db.execute(
            "SELECT late_delivery, avg((theme = 'delivery')::INT) FROM truth_feedback_truth "
            "WHERE theme IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    assert themes[True] > 0.6 and themes[True] > themes[False] + 0.3


def test_parquet_and_csv_hold_the_same_rows(tmp_path: Path) -> None:
    as_csv = generate(tmp_path / "csv", people=300, seed=9)
    as_parquet = generate(tmp_path / "pq", people=300, seed=9, file_format="parquet")
    con = duckdb.connect()
    for kind in KINDS:
        assert as_parquet.files[kind].suffix == ".parquet"
        csv_rows = con.execute(
            f"SELECT * FROM read_csv('{as_csv.files[kind]}', all_varchar = true)"
        ).fetchall()
        query = con.execute(f"SELECT * FROM '{as_parquet.files[kind]}' LIMIT 0")
        columns = [d[0] for d in query.description]
        as_text = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in columns)
        parquet_rows = con.execute(f"SELECT {as_text} FROM '{as_parquet.files[kind]}'").fetchall()
        assert csv_rows == parquet_rows, kind
    assert as_csv.rows == as_parquet.rows
    csv_truth = (as_csv.truth_dir / "identity.json").read_text()
    assert csv_truth == (as_parquet.truth_dir / "identity.json").read_text()


def test_progress_is_reported_a_handful_of_times(tmp_path: Path) -> None:
    calls: list[tuple[str, float]] = []
    generate(tmp_path, people=100, seed=1, progress=lambda step, done: calls.append((step, done)))
    assert 3 <= len(calls) <= 12
    fractions = [done for _, done in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_every_setting_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "generator.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(GeneratorSettings) if f.name not in doc]
    assert not missing


def test_settings_refuse_impossible_worlds() -> None:
    with pytest.raises(ValueError, match="people"):
        GeneratorSettings(people=0)
    with pytest.raises(ValueError, match="dirty_rate"):
        GeneratorSettings(dirty_rate=0.9)
    with pytest.raises(ValueError, match="drift_persona"):
        GeneratorSettings(drift_persona="nobody")
    with pytest.raises(ValueError, match="sum to 1"):
        GeneratorSettings(personas=GeneratorSettings().personas[:3])


def test_loyalty_lounge_is_a_confounded_null(tmp_path: Path) -> None:
    """The lounge has no effect on scores, but its members are the valuable, happier buyers."""
    data = generate(tmp_path, people=20_000, seed=5)
    truth = json.loads((data.truth_dir / "effects.json").read_text())["confounded_null"]
    assert truth["touchpoint"] == "loyalty_lounge" and truth["effect"]["nps"] == 0.0
    assert truth["confounded_by"] == "customer value"
    assert truth["person_effect_value_correlation"] > 0.5
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    for kind in ("events", "feedback"):
        db.execute(
            f"CREATE VIEW {kind} AS SELECT * FROM read_csv('{data.files[kind]}', "
            "all_varchar = true)"
        )
    for name in ("record_person", "purchases"):
        db.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{data.truth_dir / name}.csv')")
    db.execute(
        "CREATE TABLE lounge AS SELECT r.person_id, "
        "min(TRY_CAST(e.occurred_at AS TIMESTAMPTZ)) AS first_visit FROM events e "
        "JOIN record_person r ON r.customer_id = e.customer_id AND r.source = e.source "
        "WHERE e.touchpoint = 'loyalty_lounge' GROUP BY 1"
    )
    rates = db.execute(
        "SELECT p.value_quintile, avg((l.person_id IS NOT NULL)::INT) FROM purchases p "
        "LEFT JOIN lounge l USING (person_id) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    share = [rate for _, rate in rates]
    assert len(share) == 5 and share == sorted(share)
    assert share[0] < 0.1 and share[4] > 0.5
    naive = dict(
        db.execute(
            "SELECT coalesce(l.first_visit < TRY_CAST(f.submitted_at AS TIMESTAMPTZ), false), "
            "avg(TRY_CAST(f.score AS DOUBLE)) FROM feedback f "
            "JOIN record_person r ON r.customer_id = f.customer_id AND r.source = f.source "
            "LEFT JOIN lounge l USING (person_id) "
            "WHERE f.metric = 'nps' AND f.touchpoint IS NULL "
            "AND TRY_CAST(f.score AS INT) BETWEEN 0 AND 10 GROUP BY 1"
        ).fetchall()
    )
    assert naive[True] - naive[False] > 0.3


PERSONAS = ("premium_loyalist", "store_regular", "digital_native", "deal_seeker")


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """20,000 persons (clean), with orders, events and the persona truth as views."""
    data = generate(tmp_path_factory.mktemp("large"), people=20_000, seed=11, dirty_rate=0.0)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for kind in ("orders", "events"):
        con.execute(
            f"CREATE VIEW {kind} AS SELECT * FROM read_csv('{data.files[kind]}', "
            "all_varchar = true)"
        )
    for name in ("record_person", "anonymous_person", "personas"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{data.truth_dir / name}.csv')")
    con.execute(
        "CREATE TABLE person_orders AS SELECT p.persona, p.person_id, o.channel, "
        "o.amount::DOUBLE AS amount FROM orders o JOIN record_person r "
        "ON r.customer_id = o.customer_id AND r.source = o.source "
        "JOIN personas p USING (person_id)"
    )
    con.execute(
        "CREATE TABLE person_events AS SELECT p.persona, p.person_id, e.touchpoint, e.channel "
        "FROM events e LEFT JOIN record_person r "
        "ON r.customer_id = e.customer_id AND r.source = e.source "
        "LEFT JOIN anonymous_person a ON a.anonymous_id = e.anonymous_id "
        "JOIN personas p ON p.person_id = coalesce(r.person_id, a.person_id)"
    )
    con.execute(f"CREATE VIEW settings AS SELECT '{data.truth_dir}' AS truth_dir")
    return con


def _truth_dir(con: duckdb.DuckDBPyConnection) -> Path:
    return Path(con.execute("SELECT truth_dir FROM settings").fetchone()[0])


def test_persona_draws_keep_the_btyd_laws_exactly() -> None:
    """lambda and nu stay Gamma(r, alpha) and Gamma(q, gamma), independent of each other and
    of the acquisition day, while the persona follows their ranks and the planted shares."""
    s = GeneratorSettings(people=200_000, seed=3)
    traits = draw_traits(np.random.default_rng(5), s)
    lam_law = stats.gamma(s.bgnbd_r, scale=1.0 / s.bgnbd_alpha)
    nu_law = stats.gamma(s.spend_q, scale=1.0 / s.spend_gamma)
    assert stats.kstest(traits.lam, lam_law.cdf).pvalue > 0.001
    assert stats.kstest(traits.nu, nu_law.cdf).pvalue > 0.001
    assert abs(stats.spearmanr(traits.lam, traits.nu).statistic) < 0.01
    assert abs(stats.spearmanr(traits.lam, traits.acquired).statistic) < 0.01
    assert stats.kstest(traits.axis, "uniform").pvalue > 0.001
    for late in (False, True):  # the rate law holds within personas' drifting mix too
        half = (traits.acquired > s.acquisition_days / 2) == late
        assert stats.kstest(traits.lam[half], lam_law.cdf).pvalue > 0.001
    organic = ~traits.reserved
    expected = shares_at(s, traits.acquired[organic]).mean(axis=0)
    observed = np.bincount(traits.persona[organic], minlength=4) / organic.sum()
    assert observed == pytest.approx(expected, abs=0.005)
    # Persona follows the ranks: deal seekers buy most often with the smallest baskets.
    names = [p.name for p in s.personas]
    lam = {n: np.median(traits.lam[traits.persona == i]) for i, n in enumerate(names)}
    nu = {n: np.median(traits.nu[traits.persona == i]) for i, n in enumerate(names)}
    assert lam["deal_seeker"] > 3 * lam["premium_loyalist"]
    assert nu["deal_seeker"] > 1.5 * nu["premium_loyalist"]  # larger nu: smaller amounts


def test_personas_are_planted_with_their_shares_and_drift(large) -> None:
    one = lambda sql: large.execute(sql).fetchone()[0]  # noqa: E731
    assert one("SELECT count(*) FROM personas") == 20_000
    assert {r[0] for r in large.execute("SELECT DISTINCT persona FROM personas").fetchall()} == set(
        PERSONAS
    )
    truth = json.loads((_truth_dir(large) / "personas.json").read_text())
    planted = {p["name"]: p["mean_share_over_acquisition"] for p in truth["personas"]}
    assert truth["drift"]["persona"] == "digital_native"
    assert (truth["drift"]["start_share"], truth["drift"]["end_share"]) == (0.15, 0.4)
    # Organic customers: first purchase within the acquisition period (referred friends later).
    buyers = "FROM personas WHERE is_buyer AND acquired_at < TIMESTAMPTZ '2025-07-01'"
    n = one(f"SELECT count(*) {buyers}")
    shares = dict(large.execute(f"SELECT persona, count(*) / {n} {buyers} GROUP BY 1").fetchall())
    for name in PERSONAS:
        se = np.sqrt(planted[name] * (1 - planted[name]) / n)
        assert abs(shares[name] - planted[name]) < 4 * se + 0.01, name
    # Drift: the digital natives' share among new customers, first vs last quarter of the
    # acquisition period; planted means 0.15 + 0.25 / 8 and 0.15 + 0.25 * 7 / 8.
    quarter = (
        "SELECT avg((persona = 'digital_native')::INT), count(*) FROM personas WHERE is_buyer "
        "AND acquired_at >= TIMESTAMPTZ '{}' AND acquired_at < TIMESTAMPTZ '{}'"
    )
    early, n_early = large.execute(quarter.format("2024-07-01", "2024-09-30")).fetchone()
    late, n_late = large.execute(quarter.format("2025-04-01", "2025-07-01")).fetchone()
    assert early == pytest.approx(0.18125, abs=4 * np.sqrt(0.18 * 0.82 / n_early) + 0.01)
    assert late == pytest.approx(0.36875, abs=4 * np.sqrt(0.37 * 0.63 / n_late) + 0.01)
    observed = truth["drift"]["observed_by_acquisition_quarter"]
    assert [q["quarter"] for q in observed[:4]] == ["2024Q3", "2024Q4", "2025Q1", "2025Q2"]
    rising = [q["share"] for q in observed[:4]]
    assert rising == sorted(rising) and rising[3] > rising[0] + 0.12


def _columns(rows: dict[str, tuple]) -> list[dict[str, float]]:
    """{persona: (a, b, ...)} as [{persona: a}, {persona: b}, ...]."""
    return [dict(zip(rows, col, strict=True)) for col in zip(*rows.values(), strict=True)]


def test_personas_differ_in_the_exported_orders_and_events(large) -> None:
    """What a clustering of customers sees: channel mix, basket size, frequency, touchpoints."""
    orders = {
        r[0]: r[1:]
        for r in large.execute(
            "SELECT persona, avg((channel = 'store')::INT), avg((channel = 'app')::INT), "
            "avg((channel = 'web')::INT), avg(amount), count(*) / count(DISTINCT person_id) "
            "FROM person_orders GROUP BY 1"
        ).fetchall()
    }
    store, app, web, amount, per_buyer = _columns(orders)
    assert store["store_regular"] > 0.85 and max(store[p] for p in PERSONAS[2:]) < 0.1
    assert app["digital_native"] > 0.7 and web["deal_seeker"] > 0.7
    assert 0.3 < app["premium_loyalist"] < 0.6 and 0.3 < web["premium_loyalist"] < 0.6
    assert amount["premium_loyalist"] > 1.6 * amount["deal_seeker"]
    assert per_buyer["deal_seeker"] > 2 * per_buyer["premium_loyalist"]
    events = {
        r[0]: r[1:]
        for r in large.execute(
            "SELECT persona, avg((touchpoint = 'search')::INT), "
            "avg((touchpoint = 'product_view')::INT), avg((touchpoint = 'store_visit')::INT), "
            "count(*) FILTER (WHERE touchpoint = 'social_share') / count(DISTINCT person_id), "
            "avg((channel IN ('web', 'app'))::INT) FROM person_events GROUP BY 1"
        ).fetchall()
    }
    search, view, visit, social, online = _columns(events)
    assert max(search, key=search.get) == "deal_seeker" and search["deal_seeker"] > 0.25
    assert max(view, key=view.get) == "digital_native"
    assert max(visit, key=visit.get) == "store_regular" and online["store_regular"] < 0.3
    assert max(social, key=social.get) == "digital_native"
    assert social["digital_native"] > 3 * social["deal_seeker"]


def test_records_fit_the_persona(large) -> None:
    """Store regulars carry a loyalty card, digital natives (app users) a shop account."""
    held = dict(
        large.execute(
            "SELECT p.persona, avg((list_contains(s, 'store'))::INT) FROM personas p JOIN "
            "(SELECT person_id, list(source) AS s FROM record_person GROUP BY 1) USING (person_id)"
            " WHERE p.is_buyer GROUP BY 1"
        ).fetchall()
    )
    assert held["store_regular"] == 1.0 and held["digital_native"] < 0.15
    app_without_account = large.execute(
        "SELECT count(*) FROM person_orders o WHERE channel = 'app' AND NOT EXISTS (SELECT 1 "
        "FROM record_person r WHERE r.person_id = o.person_id AND r.source = 'shop')"
    ).fetchone()[0]
    assert app_without_account == 0


def test_segment_truth_follows_its_definitions(sample: GeneratedData, db) -> None:
    """Signals recomputed from the files (dirty rows left out) agree with truth/personas.csv."""
    path = sample.truth_dir / "personas.csv"
    db.execute(f"CREATE OR REPLACE VIEW truth_personas AS SELECT * FROM read_csv('{path}')")
    db.execute(
        f"CREATE OR REPLACE VIEW truth_mentions AS SELECT * FROM "
        f"read_csv('{sample.truth_dir / 'mentions_truth.csv'}')"
    )
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    valid = {kind: f"(SELECT * FROM {kind} WHERE NOT ({VIOLATIONS[kind]}))" for kind in KINDS}
    person = (
        "JOIN truth_record_person r ON r.customer_id = {0}.customer_id AND r.source = {0}.source"
    )
    db.execute(
        "CREATE OR REPLACE TABLE recount AS SELECT r.person_id, count(*) AS n, "
        f"max(o.ordered_at::TIMESTAMPTZ)::DATE AS last FROM {valid['orders']} o "
        f"{person.format('o')} WHERE o.status = 'completed' GROUP BY 1"
    )
    wrong = one(
        "SELECT count(*) FROM truth_personas t LEFT JOIN recount c USING (person_id) "
        "WHERE t.completed_orders <> coalesce(c.n, 0) OR t.repeat_buyer <> (coalesce(c.n, 0) >= 2)"
        " OR t.active <> coalesce(c.last >= DATE '2025-06-30', false)"
    )
    assert wrong == 0
    db.execute(
        "CREATE OR REPLACE TABLE acts AS "
        f"SELECT r.person_id FROM {valid['referrals']} x JOIN truth_record_person r "
        "ON r.customer_id = x.referrer_id AND r.source = 'shop' "
        f"UNION SELECT r.person_id FROM {valid['feedback']} f {person.format('f')} "
        "WHERE f.public = 'true' AND f.metric = 'rating' AND f.score::INT >= 4 "
        f"UNION SELECT r.person_id FROM {valid['mentions']} m "
        "JOIN truth_mentions t USING (mention_id) JOIN truth_record_person r "
        "ON r.customer_id = m.customer_id AND r.source = 'crm' "
        "WHERE t.sentiment = 1 AND m.text ILIKE '%recommend%'"
    )
    wrong = one(
        "SELECT count(*) FROM truth_personas t LEFT JOIN acts a USING (person_id) "
        "WHERE t.advocate <> (a.person_id IS NOT NULL)"
    )
    assert wrong == 0 and one("SELECT count(*) FROM acts") > 0
    rules = one(
        "SELECT count(*) FROM truth_personas WHERE segment <> CASE "
        "WHEN repeat_buyer AND active AND affinity = 'affinity' THEN 'loyal' "
        "WHEN repeat_buyer AND active AND affinity = 'no_affinity' THEN 'captive' "
        "WHEN affinity = 'affinity' THEN 'fan' ELSE 'other' END "
        "OR loyad <> (segment = 'loyal' AND advocate) "
        "OR affinity <> CASE WHEN satisfaction >= 8.5 THEN 'affinity' "
        "WHEN satisfaction <= 6.5 THEN 'no_affinity' ELSE 'neutral' END"
    )
    assert rules == 0
    segments = dict(
        db.execute("SELECT segment, count(*) FROM truth_personas GROUP BY 1").fetchall()
    )
    assert set(segments) == {"loyal", "captive", "fan", "other"}
    assert one("SELECT count(*) FROM truth_personas WHERE loyad") > 0
    # Captives are mostly price-driven deal seekers, loyal customers rarely are.
    captive = dict(db.execute(
        "SELECT persona, count(*) FROM truth_personas WHERE segment = 'captive' GROUP BY 1"
    ).fetchall())  # fmt: skip
    assert max(captive, key=captive.get) == "deal_seeker"
