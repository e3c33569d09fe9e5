"""Personas on synthetic customers with three planted behavioural groups:

- A, web searchers: frequent small web orders, many searches and product views on the web;
- B, store shoppers: one to three big orders in stores, store visits and store checkouts;
- C, app users who need support: app orders, support calls and chats, low NPS with angry texts.

Groups A and B are acquired evenly over six quarters; C mostly in the last quarter (the
planted drift). The groups must be recovered (adjusted Rand index), k = 3 chosen by BIC, the
labels must name what sets each group apart, the model must be saved and reused for new data.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import cxloop
from cxloop.analytics.personas import (
    ASSIGNMENTS_TABLE,
    PersonasSettings,
    build_personas,
    export_personas,
)
from cxloop.errors import CxloopError
from tests.conftest import write

START = datetime(2024, 1, 1)
END = datetime(2025, 6, 28)
LAST_QUARTER = datetime(2025, 4, 1)
GROUPS = ("A", "B", "C")
PER_GROUP = 60


def _group_rows(
    rng: np.random.Generator, group: str, cid: str, first: datetime, end: datetime
) -> tuple[list[str], list[str], list[str]]:
    """Orders, events and feedback of one customer of a group (CSV lines)."""
    orders, events, feedback = [], [], []
    n_orders = {"A": rng.integers(6, 10), "B": rng.integers(1, 3), "C": rng.integers(2, 4)}[group]
    span = max((end - first).total_seconds(), 86400.0)
    times = sorted(first + timedelta(seconds=float(s)) for s in rng.uniform(0, span, n_orders - 1))
    for i, at in enumerate([first, *times]):
        oid = f"{cid}-o{i}"
        if group == "A":
            amount, channel = rng.uniform(15, 40), "web" if rng.random() < 0.9 else "app"
            steps = [("search", "web")] * 3 + [("product_view", "web")] * 3 + [("checkout", "web")]
        elif group == "B":
            amount, channel = rng.uniform(250, 500), "store"
            steps = [("store_visit", "store"), ("checkout", "store")]
        else:
            amount, channel = rng.uniform(60, 120), "app"
            steps = [("product_view", "app"), ("support_contact", "call_center"), ("chat", "chat")]
        orders.append(f"{oid},{cid},{at:%Y-%m-%d %H:%M:%S},{amount:.2f},completed,{channel}")
        for j, (touchpoint, ch) in enumerate(steps):
            t = at - timedelta(minutes=len(steps) - j)
            events.append(f"{oid}-e{j},{cid},{t:%Y-%m-%d %H:%M:%S},{touchpoint},{ch}")
    last = times[-1] if times else first
    if group == "C":
        score, text = rng.integers(0, 4), "Terrible support, slow, rude and useless. Awful."
    elif group == "A" and rng.random() < 0.5:
        score, text = rng.integers(9, 11), "Great shop, I love the search, fast and easy."
    else:
        score = None
    if score is not None:
        at = last + timedelta(hours=2)
        feedback.append(f"{cid}-f,{cid},{at:%Y-%m-%d %H:%M:%S},nps,{score},{text}")
    return orders, events, feedback


def make_data(
    folder: Path,
    *,
    seed: int = 1,
    groups: tuple[str, ...] = GROUPS,
    per_group: int = PER_GROUP,
    prefix: str = "c",
    start: datetime = START,
    end: datetime = END,
    drift: bool = True,
) -> tuple[list[Path], dict[str, str]]:
    """CSV files of the planted groups, and each customer id's group."""
    rng = np.random.default_rng(seed)
    customers = ["customer_id,email,created_at"]
    orders = ["order_id,customer_id,ordered_at,amount,status,channel"]
    events = ["event_id,customer_id,occurred_at,touchpoint,channel"]
    feedback = ["response_id,customer_id,submitted_at,metric,score,text"]
    truth: dict[str, str] = {}
    quarter_end = end - timedelta(days=1)
    for group in groups:
        for i in range(per_group):
            cid = f"{prefix}{group}{i:03d}"
            truth[cid] = group
            late = drift and group == "C" and i >= per_group // 6
            low = LAST_QUARTER if late else start
            high = quarter_end if late else (LAST_QUARTER if drift and group == "C" else end)
            first = low + (high - low) * float(rng.uniform(0, 1))
            customers.append(f"{cid},{cid}@example.com,{first:%Y-%m-%d %H:%M:%S}")
            o, e, f = _group_rows(rng, group, cid, first, end)
            orders += o
            events += e
            feedback += f
    files = [
        write(folder / "customers.csv", "\n".join(customers) + "\n"),
        write(folder / "orders.csv", "\n".join(orders) + "\n"),
        write(folder / "events.csv", "\n".join(events) + "\n"),
        write(folder / "feedback.csv", "\n".join(feedback) + "\n"),
    ]
    return files, truth


def _load(path: Path, files: list[Path]) -> None:
    """Load the files into the workspace at `path`, created with personas tried 2..6."""
    if not path.exists():
        cxloop.Workspace.init(path, brand="Northwind").close()
        config = path / "cxloop.toml"
        text = config.read_text(encoding="utf-8")
        assert "max_personas = 8" in text
        config.write_text(text.replace("max_personas = 8", "max_personas = 6"), encoding="utf-8")
    with cxloop.Workspace.open(path) as ws:
        ws.ingest(files)
        ws.profiles.build()


def _groups_of(ws: cxloop.Workspace, truth: dict[str, str]) -> dict[str, str]:
    """profile_id -> planted group, through the identity graph's records."""
    rows = ws.engine.fetchall("SELECT customer_id, profile_id FROM profile_records")
    return {pid: truth[cid] for cid, pid in rows if cid in truth}


def _assigned(ws: cxloop.Workspace) -> dict[str, int]:
    return dict(ws.engine.fetchall(f"SELECT profile_id, persona FROM {ASSIGNMENTS_TABLE}"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    base = tmp_path_factory.mktemp("personas")
    files, truth = make_data(base / "data")
    _load(base / "ws", files)
    with cxloop.Workspace.open(base / "ws") as ws:
        doc = build_personas(ws)  # [personas] min_personas = 2, max_personas = 6
        groups = _groups_of(ws, truth)
        assigned = _assigned(ws)
    return base, doc, groups, assigned


def _persona_of_group(groups: dict[str, str], assigned: dict[str, int]) -> dict[str, int]:
    out = {}
    for group in GROUPS:
        personas = [assigned[p] for p, g in groups.items() if g == group]
        out[group] = max(set(personas), key=personas.count)
    return out


def test_planted_groups_are_recovered_with_k_chosen_by_bic(planted):
    _, doc, groups, assigned = planted
    method = doc["method"]
    assert method["model"] == "fitted" and method["criterion"] == "BIC"
    assert sorted(int(k) for k in method["bic"]) == [2, 3, 4, 5, 6]
    assert method["k"] == 3
    assert min(method["bic"].items(), key=lambda kv: kv[1])[0] == "3"
    ids = sorted(groups)
    ari = adjusted_rand_score([groups[p] for p in ids], [assigned[p] for p in ids])
    assert ari > 0.9, ari
    assert doc["customers"] == len(GROUPS) * PER_GROUP


def test_personas_have_size_value_and_features(planted):
    _, doc, _, _ = planted
    personas = doc["personas"]
    assert [p["persona"] for p in personas] == [1, 2, 3]
    assert sum(p["size"] for p in personas) == doc["customers"]
    assert sum(p["revenue_share"] for p in personas) == pytest.approx(1.0)
    for p in personas:
        share = p["share"]
        assert share["ci_low"] < share["value"] < share["ci_high"]
        assert (
            p["revenue_per_customer"]["value"] > 0 and p["revenue_per_customer"]["n"] == p["size"]
        )
        assert set(p["features"]) == set(doc["method"]["feature_names"])
        assert all(set(f) == {"mean", "z"} for f in p["features"].values())
        assert 2 <= len(p["distinguishing"]) <= 4
    json.dumps(doc, allow_nan=False)  # no NaN anywhere: a JSON document as it is


def test_labels_name_what_sets_each_group_apart(planted):
    _, doc, groups, assigned = planted
    label = {p["persona"]: p["label"] for p in doc["personas"]}
    of = _persona_of_group(groups, assigned)
    assert len(set(of.values())) == 3
    assert any(w in label[of["A"]] for w in ("search", "frequent", "small baskets", "web"))
    assert any(w in label[of["B"]] for w in ("store", "big baskets"))
    assert any(w in label[of["C"]] for w in ("support", "call centre", "chat", "the app"))
    assert len(set(label.values())) == 3


def test_planted_drift_is_flagged(planted):
    _, doc, groups, assigned = planted
    c = _persona_of_group(groups, assigned)["C"]
    last = doc["drift"][-1]
    assert last["period"] == "2025-Q2"
    row = next(r for r in last["personas"] if r["persona"] == c)
    assert row["significant"] and row["direction"] == "rising"
    assert row["share"]["value"] > row["earlier_share"]
    flagged = [f for f in doc["drift_tests"]["flagged"] if f["kind"] == "acquisition share"]
    assert any(f["persona"] == c and f["period"] == "2025-Q2" for f in flagged)
    # A and B are acquired evenly: no period flags them rising.
    others = {p for g, p in _persona_of_group(groups, assigned).items() if g != "C"}
    assert not any(f["persona"] in others and f["direction"] == "rising" for f in flagged)
    assert doc["drift_tests"]["homogeneity"]["significant"]
    trend = next(t for t in doc["drift_tests"]["trend"] if t["persona"] == c)
    assert trend["direction"] == "rising"


def test_centroid_shift_and_movers_compare_with_an_earlier_cutoff(planted):
    _, doc, _, _ = planted
    tests = doc["drift_tests"]
    assert tests["cutoff"] == "2025-01-01"  # the quarter one period before the end of the data
    movers = tests["movers"]
    assert 0 < movers["customers"] < doc["customers"]
    assert movers["new_customers"] == doc["customers"] - movers["customers"]
    assert 0 <= movers["moved"] <= movers["customers"]
    assert len(tests["centroid_shift"]) == 3
    for row in tests["centroid_shift"]:
        assert row["distance_since_fit"] is not None


def test_assignments_are_stored(planted):
    base, doc, _, assigned = planted
    assert len(assigned) == doc["customers"]
    assert (base / "ws" / "models" / "personas.json").is_file()


def test_model_is_reused_for_new_data_and_refit_only_when_asked(tmp_path):
    files, truth = make_data(tmp_path / "d1", drift=False)
    _load(tmp_path / "ws", files)
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        settings = PersonasSettings.from_config(ws)
        first = build_personas(ws, settings)
        assert first["method"]["model"] == "fitted"
        saved = (tmp_path / "ws" / "models" / "personas.json").read_text()
        of = _persona_of_group(_groups_of(ws, truth), _assigned(ws))
    # New customers of group A, acquired after the fit, in a second load.
    more, more_truth = make_data(
        tmp_path / "d2",
        seed=9,
        groups=("A",),
        per_group=30,
        prefix="n",
        start=datetime(2025, 7, 1),
        end=datetime(2025, 9, 28),
        drift=False,
    )
    _load(tmp_path / "ws", [more[0], more[1], more[2]])
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        # The stored rows are stale (new data): the export assigns again, with the saved model.
        assert export_personas(ws, tmp_path / "all.csv") == first["customers"] + 30
        second = build_personas(ws, settings)
        method = second["method"]
        assert method["model"] == "loaded"
        assert method["fitted_at"] == first["method"]["fitted_at"]
        assert method["fitted_data_version"] < method["data_version"]
        assert second["customers"] == first["customers"] + 30
        assert (tmp_path / "ws" / "models" / "personas.json").read_text() == saved
        assigned = _assigned(ws)
        new = [assigned[p] for p in _groups_of(ws, more_truth)]
        assert len(new) == 30 and sum(p == of["A"] for p in new) >= 27
        assert [p["label"] for p in second["personas"]] == [p["label"] for p in first["personas"]]

        third = build_personas(ws, PersonasSettings.from_config(ws, refit=True))
        assert third["method"]["model"] == "fitted"
        assert third["method"]["reason"] == "refit asked for"
        fixed = build_personas(ws, PersonasSettings.from_config(ws, k=4))
        assert fixed["method"]["model"] == "fitted" and fixed["method"]["k"] == 4
        assert "4 personas asked for" in fixed["method"]["reason"]
        again = build_personas(ws, PersonasSettings.from_config(ws, k=4))
        assert again["method"]["model"] == "loaded"


def test_the_fit_is_deterministic(tmp_path):
    files, _ = make_data(tmp_path / "d", per_group=30, drift=False)
    _load(tmp_path / "ws", files)
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        first = build_personas(ws)
        before = _assigned(ws)
        again = build_personas(ws, PersonasSettings.from_config(ws, refit=True))
        assert again["method"]["model"] == "fitted"
        assert _assigned(ws) == before
    assert again["method"]["bic"] == first["method"]["bic"]
    assert [p["label"] for p in again["personas"]] == [p["label"] for p in first["personas"]]


def test_an_unreadable_model_is_refitted(tmp_path):
    files, _ = make_data(tmp_path / "d", per_group=20, drift=False)
    _load(tmp_path / "ws", files)
    write(tmp_path / "ws" / "models" / "personas.json", "{not json")
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        doc = build_personas(ws, PersonasSettings.from_config(ws, k=3))
    assert doc["method"]["model"] == "fitted"
    assert "unreadable" in doc["method"]["reason"]


def test_empty_workspace_gives_a_document_with_notes(ws, tmp_path):
    doc = build_personas(ws)
    assert doc["personas"] == [] and doc["drift"] == [] and doc["customers"] == 0
    assert doc["notes"] and "no customers" in doc["notes"][0]
    assert doc["method"]["model"] == "not fitted"
    json.dumps(doc, allow_nan=False)
    assert export_personas(ws, tmp_path / "empty.csv") == 0


def test_too_few_customers_for_a_persona_is_a_note(tmp_path):
    files, _ = make_data(tmp_path / "d", groups=("A",), per_group=5, drift=False)
    _load(tmp_path / "ws", files)
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        doc = build_personas(ws)
    assert doc["customers"] == 5 and doc["personas"] == []
    assert any("too few" in n for n in doc["notes"])


def test_export_csv_and_parquet(planted, tmp_path, monkeypatch):
    from cxloop.analytics.personas import assign

    def recompute(*args, **kwargs):
        raise AssertionError("the stored assignments are current: nothing to compute")

    # The rows stored by the last build are current: the export only writes them.
    monkeypatch.setattr(assign, "prepare", recompute)
    base, doc, _, _ = planted
    with cxloop.Workspace.open(base / "ws") as ws:
        n_csv = export_personas(ws, tmp_path / "personas.csv")
        n_parquet = export_personas(ws, tmp_path / "personas.parquet")
    assert n_csv == n_parquet == doc["customers"]
    con = duckdb.connect()
    rows = con.execute(
        "SELECT count(*), count(DISTINCT persona), min(probability) > 0 FROM read_parquet(?)",
        [str(tmp_path / "personas.parquet")],
    ).fetchone()
    assert rows == (doc["customers"], 3, True)
    header = (tmp_path / "personas.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["profile_id", "persona", "label", "probability", "acquired"]
    assert "orders_per_year" in header


def test_export_refuses_other_formats(ws, tmp_path):
    with pytest.raises(CxloopError, match=r"\.csv or \.parquet"):
        export_personas(ws, tmp_path / "personas.xlsx")
    with pytest.raises(CxloopError, match="no such folder"):
        export_personas(ws, tmp_path / "missing" / "personas.csv")


def test_settings_come_from_the_config_with_overrides(ws):
    s = PersonasSettings.from_config(ws, k=None, refit=False)
    assert (s.min_personas, s.max_personas, s.period, s.k, s.refit) == (
        2,
        8,
        "quarter",
        None,
        False,
    )
    assert PersonasSettings.from_config(ws, k=5, refit=True).k == 5
    assert PersonasSettings.from_config(ws, max_personas=5).max_personas == 5
    with pytest.raises(CxloopError, match="unknown personas setting"):
        PersonasSettings.from_config(ws, colour="blue")
    with pytest.raises(CxloopError):
        PersonasSettings(min_personas=5, max_personas=3).validate()
    with pytest.raises(CxloopError):
        PersonasSettings(period="week").validate()


def test_render_and_report_section(planted, capsys):
    from cxloop.cli.personas_view import render_personas
    from cxloop.report.personas_sections import personas_sections

    base, doc, _, _ = planted
    render_personas(doc)
    printed = capsys.readouterr().out
    assert "Personas" in printed and doc["personas"][0]["label"][:20] in printed
    with cxloop.Workspace.open(base / "ws") as ws:
        context: dict = {}
        sections = personas_sections(ws, context)
    assert sections and sections[0].anchor == "personas"
    assert context["personas"]["method"]["model"] == "loaded"
    html = "".join(str(b) for b in sections[0].blocks)
    assert "2025-Q2" in html  # the flagged drift


# Identical customers are degenerate on purpose: scikit-learn warns that it finds fewer
# distinct clusters than asked and PCA divides a zero variance; cxloop's answer is the check.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_identical_customers_a_fixed_k_and_the_report(tmp_path):
    """No variation to cluster: labels say "typical customer" rather than noise, an empty
    persona does not break the report, and a plain run after `--k` lets BIC choose again."""
    from cxloop.analytics.personas import PersonasSettings, build_personas
    from cxloop.report.personas_sections import personas_sections
    from tests.conftest import write

    customers = "customer_id,email\n" + "".join(f"c{i},c{i}@x.com\n" for i in range(40))
    orders = "order_id,customer_id,ordered_at,amount,status,channel\n" + "".join(
        f"o{i}a,c{i},2025-01-05,50,completed,web\no{i}b,c{i},2025-03-05,50,completed,web\n"
        for i in range(40)
    )
    paths = [write(tmp_path / "customers.csv", customers), write(tmp_path / "orders.csv", orders)]
    with cxloop.Workspace.init(tmp_path / "ws", brand="Northwind") as ws:
        ws.ingest(paths)
        fixed = build_personas(ws, PersonasSettings.from_config(ws, k=3))
        assert all("typical customer" in p["label"] for p in fixed["personas"])
        again = build_personas(ws, PersonasSettings.from_config(ws))
        personas_sections(ws, {})  # renders, empty personas included
    assert again["method"]["model"] == "fitted" and again["method"]["criterion"] == "BIC"
