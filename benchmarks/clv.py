"""CLV benchmark: RFM summary (SQL in DuckDB) + BG/NBD fit + Gamma-Gamma fit + predictions.

Target (issue 4): 1,000,000 customers in under 20 s. The `lifetimes` package (the `bench`
extra) fits the same summary and predicts the same CLV in the same run, reported as a ratio.

    .venv/bin/python benchmarks/clv.py                        # 1,000,000 customers
    .venv/bin/python benchmarks/clv.py --customers 100000 --repeats 3

Data: customers simulated with numpy from the BG/NBD (r=0.6, alpha=8 per week, a=0.7, b=3.5)
and Gamma-Gamma (p=6, q=4, gamma=45) models, first purchase uniform over a year, observed for
two years; every purchase becomes a row of an `orders` table (about 4 M rows for 1 M customers)
with its `profile_links` row, in a DuckDB file. The timed cxloop path runs the summary query on
those tables (the same SQL `cxloop clv` runs; the identity-resolution step is not timed), then
fits and predicts. lifetimes gets the summary arrays as they come out of that query and runs
BetaGeoFitter.fit, GammaGammaFitter.fit and customer_lifetime_value (12 months, 1%/month).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from cxloop.analytics.clv.predict import predict
from cxloop.analytics.clv.summary import summary_from_engine
from cxloop.models.clv import BGNBDFitter, GammaGammaFitter

START = date(2024, 7, 1)
DAYS = 730
TRUTH = {"r": 0.6, "alpha": 8.0, "a": 0.7, "b": 3.5, "p": 6.0, "q": 4.0, "gamma": 45.0}


def simulate_orders(n: int, seed: int) -> pa.Table:
    """BG/NBD purchase days and Gamma-Gamma amounts for n customers, as order rows."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUTH["r"], 1 / TRUTH["alpha"], n) / 7.0  # per day
    p = rng.beta(TRUTH["a"], TRUTH["b"], n)
    nu = rng.gamma(TRUTH["q"], 1 / TRUTH["gamma"], n)
    t = rng.uniform(0, 365, n)
    who, when = [np.arange(n)], [t]
    alive = np.arange(n)
    while len(alive):
        t = t + rng.exponential(1.0, len(alive)) / lam[alive]
        inside = t < DAYS
        alive, t = alive[inside], t[inside]
        who.append(alive)
        when.append(t)
        stay = rng.random(len(alive)) >= p[alive]
        alive, t = alive[stay], t[stay]
    person = np.concatenate(who)
    day = np.floor(np.concatenate(when)).astype("int64")
    amount = np.round(rng.gamma(TRUTH["p"], 1 / nu[person]), 2)
    seconds = (np.datetime64(START, "s") + day * 86400).astype("datetime64[us]")
    ids = np.char.add("o", np.arange(len(person)).astype(str))
    return pa.table(
        {
            "order_id": ids,
            "customer": person,
            "ordered_at": seconds,
            "amount": amount,
        }
    )


def build_database(path: Path, orders: pa.Table) -> None:
    con = duckdb.connect(str(path))
    con.register("sim", orders)
    con.execute(
        """CREATE TABLE orders AS SELECT order_id, 'shop' AS source,
           CAST(ordered_at AS TIMESTAMP) AS ordered_at, CAST(amount AS DECIMAL(18,4)) AS amount,
           'completed' AS status FROM sim"""
    )
    con.execute(
        """CREATE TABLE profile_links AS SELECT 'orders' AS kind, 'shop' AS source,
           order_id AS id, 'P' || lpad(CAST(customer AS VARCHAR), 8, '0') AS profile_id
           FROM sim"""
    )
    con.close()


def run_cxloop(db: Path, cal: date) -> dict:
    times = {}
    con = duckdb.connect(str(db), read_only=True)
    started = time.perf_counter()
    s = summary_from_engine(con, calibration_end=cal, holdout_end=None, time_unit="weeks")
    times["summary"] = time.perf_counter() - started
    mark = time.perf_counter()
    model = BGNBDFitter().fit(s.frequency, s.recency, s.age)
    times["bgnbd"] = time.perf_counter() - mark
    mark = time.perf_counter()
    repeat = s.frequency > 0
    spend = GammaGammaFitter().fit(s.frequency[repeat], s.monetary_value[repeat])
    times["gamma_gamma"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pred = predict(
        model,
        spend,
        s.frequency,
        s.recency,
        s.age,
        np.where(repeat, s.monetary_value, 0.0),
        horizon_weeks=52,
        discount_rate=0.01,
        unit_days=7.0,
    )
    times["predict"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    con.close()
    return {"times": times, "summary": s, "params": {**model.params_, **spend.params_},
            "clv": float(pred.clv.sum())}  # fmt: skip


def run_lifetimes(s: object) -> dict:
    import pandas as pd
    from lifetimes import BetaGeoFitter
    from lifetimes import GammaGammaFitter as LtGammaGamma

    x, t_x, big_t, m = s.frequency, s.recency, s.age, s.monetary_value  # type: ignore[attr-defined]
    times = {}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoFitter().fit(x, t_x, big_t)
        times["bgnbd"] = time.perf_counter() - started
        mark = time.perf_counter()
        rep = x > 0
        gg = LtGammaGamma().fit(x[rep], m[rep])
        times["gamma_gamma"] = time.perf_counter() - mark
        mark = time.perf_counter()
        clv = gg.customer_lifetime_value(
            bg, pd.Series(x), pd.Series(t_x), pd.Series(big_t),
            pd.Series(np.where(rep, m, 0.0)), time=12, discount_rate=0.01, freq="W",
        )  # fmt: skip
        times["predict"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    params = {**bg.params_.to_dict(), **{k: float(v) for k, v in gg.params_.items()}}
    return {"times": times, "params": params, "clv": float(clv.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lifetimes-repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-lifetimes", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "orders.duckdb"
        t0 = time.perf_counter()
        orders = simulate_orders(args.customers, args.seed)
        build_database(db, orders)
        print(
            f"{args.customers:,} customers, {orders.num_rows:,} orders simulated and stored in "
            f"{time.perf_counter() - t0:.1f} s (not timed)"
        )
        cal = START + timedelta(days=DAYS - 1)
        ours = [run_cxloop(db, cal) for _ in range(args.repeats)]
    med = {k: statistics.median(r["times"][k] for r in ours) for k in ours[0]["times"]}
    print(
        "cxloop: median over {} runs: total {total:.2f} s (summary {summary:.2f}, BG/NBD "
        "{bgnbd:.2f}, Gamma-Gamma {gamma_gamma:.2f}, predictions {predict:.2f})".format(
            args.repeats, **med
        )
    )
    fitted = ours[0]["params"]
    print("fitted vs planted: " + ", ".join(f"{k} {fitted[k]:.3f}/{v:g}" for k, v in TRUTH.items()))
    if args.no_lifetimes:
        return
    theirs = [run_lifetimes(ours[0]["summary"]) for _ in range(args.lifetimes_repeats)]
    lmed = {k: statistics.median(r["times"][k] for r in theirs) for k in theirs[0]["times"]}
    print(
        "lifetimes: median over {} runs: total {total:.2f} s (BG/NBD {bgnbd:.2f}, Gamma-Gamma "
        "{gamma_gamma:.2f}, CLV {predict:.2f}); no summary step (it is given ours)".format(
            args.lifetimes_repeats, **lmed
        )
    )
    fit_ours = med["bgnbd"] + med["gamma_gamma"] + med["predict"]
    print(
        f"ratio lifetimes / cxloop (fit + predict, summary excluded): "
        f"{lmed['total'] / fit_ours:.1f}x; including cxloop's SQL summary: "
        f"{lmed['total'] / med['total']:.1f}x"
    )
    print(
        f"total CLV: cxloop {ours[0]['clv']:,.0f}, lifetimes {theirs[0]['clv']:,.0f}; params "
        "lifetimes: " + ", ".join(f"{k} {v:.3f}" for k, v in theirs[0]["params"].items())
    )


if __name__ == "__main__":
    main()
