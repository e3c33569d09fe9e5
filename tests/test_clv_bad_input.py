"""Bad input to `cxloop clv` gives one clear line, never a traceback or a silent NaN."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

import cxloop
from cxloop.analytics.clv import ClvSettings, build_clv, rfm_summary
from cxloop.errors import CxloopError
from tests.conftest import run_cli, write

HEADER = "order_id,customer_id,ordered_at,amount,status\n"


def workspace(tmp_path: Path, rows: str) -> Path:
    ws = tmp_path / "ws"
    cxloop.Workspace.init(ws).close()
    with cxloop.Workspace.open(ws) as w:
        w.ingest([write(tmp_path / "orders.csv", HEADER + rows)])
    return ws


def run(ws: Path, **kwargs: object) -> dict:
    with cxloop.Workspace.open(ws) as w:
        return build_clv(w, ClvSettings(**kwargs))  # type: ignore[arg-type]


def many(n: int, *, repeat_amount: str = "20", repeat: bool = True) -> str:
    """n customers, each buying on 2025-01-0k and (if repeat) again some days later."""
    lines = []
    for i in range(n):
        lines.append(f"a{i},c{i},2025-01-{1 + i % 9:02d},10,completed")
        if repeat and i % 2 == 0:
            lines.append(f"b{i},c{i},2025-02-{1 + i % 20:02d},{repeat_amount},completed")
            lines.append(f"d{i},c{i},2025-03-{1 + i % 25:02d},{repeat_amount},completed")
    return "\n".join(lines) + "\n"


def test_no_orders(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cxloop.Workspace.init(ws).close()
    with pytest.raises(CxloopError, match="no completed orders"):
        run(ws)


def test_single_customer(tmp_path: Path) -> None:
    ws = workspace(tmp_path, "o1,c1,2025-01-01,10,completed\no2,c1,2025-02-01,10,completed\n")
    with pytest.raises(CxloopError, match="only 1 customer"):
        run(ws)


def test_no_repeat_buyers(tmp_path: Path) -> None:
    ws = workspace(tmp_path, many(30, repeat=False))
    with pytest.raises(CxloopError, match="none of the 30 customers made a repeat purchase"):
        run(ws)


def test_calibration_end_before_first_order(tmp_path: Path) -> None:
    ws = workspace(tmp_path, many(30))
    with pytest.raises(CxloopError, match="before the first completed order"):
        run(ws, calibration_end=date(2024, 12, 1))


def test_holdout_before_calibration_end(tmp_path: Path) -> None:
    ws = workspace(tmp_path, many(30))
    with pytest.raises(CxloopError, match="must be after the calibration end"):
        run(ws, calibration_end=date(2025, 3, 1), holdout_end=date(2025, 2, 1))
    with pytest.raises(CxloopError, match="needs a calibration end"):
        run(ws, holdout_end=date(2025, 2, 1))


def test_zero_amounts_are_left_out_of_the_spend_model_with_a_note(tmp_path: Path) -> None:
    rows = many(60) + "z1,zz,2025-01-02,5,completed\nz2,zz,2025-02-02,0,completed\n"
    ws = workspace(tmp_path, rows)
    doc = run(ws, compare_models=False)
    assert any("zero mean repeat spend" in w for w in doc["warnings"])
    assert doc["n_spend_customers"] == doc["n_repeat_buyers"] - 1
    assert np.isfinite(doc["totals"]["clv"])


def test_all_zero_spend_is_an_error(tmp_path: Path) -> None:
    ws = workspace(tmp_path, many(30, repeat_amount="0"))
    with pytest.raises(CxloopError, match="repeat buyer"):
        run(ws)


def test_summary_conventions(tmp_path: Path) -> None:
    """Same-day orders merge; cancelled orders do not count; the first purchase is not a
    repeat; late first buyers are left out; the holdout counts later repeat days."""
    rows = (
        "o1,c1,2025-01-01,10,completed\n"
        "o2,c1,2025-01-08,5,completed\n"
        "o3,c1,2025-01-08 18:00:00,7,completed\n"  # same day as o2: one transaction of 12
        "o4,c1,2025-01-15,99,cancelled\n"
        "o5,c1,2025-01-29,30,completed\n"
        "o6,c1,2025-02-05,1,completed\n"  # holdout
        "o7,c2,2025-01-15,50,completed\n"
        "o8,c3,2025-02-01,50,completed\n"  # first purchase after the calibration end
    )
    ws = workspace(tmp_path, rows)
    with cxloop.Workspace.open(ws) as w:
        s = rfm_summary(
            w, calibration_end=date(2025, 1, 29), holdout_end=date(2025, 2, 28), time_unit="days"
        )
    assert s.n == 2
    i = int(np.argmax(s.frequency))
    assert s.frequency[i] == 2 and s.recency[i] == 28 and s.age[i] == 28
    assert s.monetary_value[i] == pytest.approx((12 + 30) / 2)
    assert s.holdout_frequency is not None and s.holdout_frequency[i] == 1
    j = 1 - i
    assert s.frequency[j] == 0 and s.recency[j] == 0 and s.age[j] == 14
    assert np.isnan(s.monetary_value[j])


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    ws = workspace(tmp_path, many(30, repeat=False))
    for args in (
        [],
        ["--model", "nope"],
        ["--calibration-end", "yesterday"],
        ["--discount-rate", "-1"],
        ["--export", str(tmp_path / "x.xlsx")],
    ):
        result = run_cli("clv", str(ws), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1


def btyd_orders(n: int, seed: int = 4) -> str:
    """n customers buying as BG/NBD (rate ~ Gamma(0.8, 20) per day, dropout ~ Beta(1, 4))."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        day = float(rng.integers(0, 60))
        lam, p = rng.gamma(0.8, 1 / 20), rng.beta(1, 4)
        k = 0
        while day < 300:
            amount = round(float(rng.gamma(6, 8)), 2)
            stamp = np.datetime64("2025-01-01") + int(day)
            lines.append(f"o{i}-{k},c{i},{stamp},{amount},completed")
            k += 1
            if k > 1 and rng.random() < p:
                break
            day += rng.exponential(1 / lam)
    return "\n".join(lines) + "\n"


def test_cli_table_and_csv_export(tmp_path: Path) -> None:
    ws = workspace(tmp_path, btyd_orders(400))
    export = tmp_path / "clv.csv"
    result = run_cli("clv", str(ws), "--export", str(export), "--time-unit", "days")
    assert result.returncode == 0, result.stderr
    assert "Value tiers" in result.stdout
    lines = export.read_text().splitlines()
    assert lines[0].startswith("profile_id,frequency,recency,T,")
    assert len(lines) == 401
