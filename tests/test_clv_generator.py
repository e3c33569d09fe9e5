"""The CLV models recover the purchase and spend parameters planted by the generator.

The generator (docs/generator.md, src/cxloop/generate/purchases.py) draws purchases from the
BG/NBD model (Fader, Hardie & Lee 2005, Marketing Science 24(2)) with lambda per week and spend
from the Gamma-Gamma model (FHL 2005, JMR 42(4)), writing the truth to truth/parameters.json.
Three of its deliberate deviations are switched off so the planted truth is the exact model:
the late-delivery multiplier on dropout (which makes p a mixture of two Beta laws), and
cancelled or returned orders (which the generator counts as purchases while the CLV summary
counts completed orders only). Two deviations remain, both small: the summary works in whole
calendar days (times are rounded down to the day) and merges orders of one day into one
transaction. The check is therefore |estimate - truth| < 3 standard errors.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

import cxloop
from cxloop.analytics.clv import ClvSettings, build_clv
from cxloop.generate.pipeline import generate_with
from cxloop.generate.settings import GeneratorSettings


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    root = tmp_path_factory.mktemp("gen")
    settings = replace(
        GeneratorSettings(people=30_000, seed=7, dirty_rate=0.0),
        late_dropout_multiplier=1.0,
        cancel_share=0.0,
        return_share=0.0,
        return_share_after_late=0.0,
    )
    data = generate_with(root / "data", settings)
    truth = json.loads((data.truth_dir / "parameters.json").read_text())
    with cxloop.Workspace.init(root / "ws") as ws:
        ws.ingest([data.files["customers"], data.files["orders"]])
        doc = build_clv(
            ws,
            ClvSettings(
                calibration_end=date.fromisoformat(truth["window"]["end"]),
                compare_models=False,
            ),
        )
    return truth, doc


def test_bgnbd_parameters_recovered(fitted: tuple[dict, dict]) -> None:
    truth, doc = fitted
    assert truth["bgnbd"]["time_unit"] == "week"
    assert doc["n_repeat_buyers"] > 10_000
    for name in ("r", "alpha", "a", "b"):
        estimate, se = doc["params"][name], doc["standard_errors"][name]
        assert abs(estimate - truth["bgnbd"][name]) < 3 * se, (name, estimate, se)


def test_gamma_gamma_parameters_recovered(fitted: tuple[dict, dict]) -> None:
    truth, doc = fitted
    for name in ("p", "q", "gamma"):
        estimate = doc["spend_params"][name]
        se = doc["spend_standard_errors"][name]
        assert abs(estimate - truth["gamma_gamma"][name]) < 3 * se, (name, estimate, se)
    # Planted independence: spend does not depend on frequency, so no warning.
    assert abs(doc["independence"]["correlation"]) < 0.1
    assert doc["warnings"] == []
