"""Pivotal moments on generated data with planted effects (docs/generator.md, truth/effects.json):
late delivery (-2.5 points on the 0-10 scale) and unresolved support (-3.0) lower scores."""

from __future__ import annotations

import json

import pytest

import cxloop
from cxloop.analytics.moments import MomentsSettings, build_moments
from cxloop.generate import generate
from tests.conftest import run_cli

FIELDS = {
    "touchpoint",
    "condition",
    "effect",
    "ci_low",
    "ci_high",
    "naive_effect",
    "n_exposed",
    "n_unexposed",
    "reach",
    "effect_high_value",
    "priority",
    "owner",
    "significant",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("moments")
    data = generate(base / "data", people=6000, seed=3, dirty_rate=0)
    with cxloop.Workspace.init(base / "ws", brand="Northwind") as ws:
        ws.ingest(sorted(data.files.values()))
        ws.profiles.build()
    return base / "ws"


def test_planted_failures_are_found_ranked_and_adjusted(workspace):
    with cxloop.Workspace.open(workspace) as ws:
        doc = build_moments(ws, MomentsSettings(outcome="nps"))
    assert doc["outcome"] == "nps" and doc["n"] > 1000
    found = {(m["touchpoint"], m["condition"]): m for m in doc["moments"]}
    for key in (("delivery", "failed"), ("support_contact", "failed")):
        m = found[key]
        assert set(m) >= FIELDS
        assert m["significant"] and m["effect"] < -1.0, key
        assert m["ci_low"] < m["effect"] < m["ci_high"]
        assert m["naive_effect"] is not None and m["owner"] in {"logistics", "customer_care"}
    # Late delivery touches the most answers of the planted failures: it ranks first.
    assert (doc["moments"][0]["touchpoint"], doc["moments"][0]["condition"]) == (
        "delivery",
        "failed",
    )
    ranks = [m["significant"] for m in doc["moments"]]
    assert ranks == sorted(ranks, reverse=True)  # significant moments come first


def test_repurchase_never_credits_the_next_purchase(workspace):
    with cxloop.Workspace.open(workspace) as ws:
        doc = build_moments(ws, MomentsSettings(outcome="repurchase"))
    # Buy-stage events of the next order are not experiences of this one (no tautology).
    assert not any(
        m["touchpoint"] in {"checkout", "add_to_cart"} and m["significant"] and m["effect"] > 0.2
        for m in doc["moments"]
    )


def test_cli_json_and_errors(workspace, tmp_path):
    empty = tmp_path / "empty"
    cxloop.Workspace.init(empty).close()
    result = run_cli("moments", str(empty), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["moments"] == [] and doc["notes"]
    bad = run_cli("moments", str(empty), "--outcome", "happiness")
    assert bad.returncode != 0 and "unknown outcome" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_value_confounded_null_moment_is_not_significant_after_adjustment(workspace):
    """truth/effects.json: loyalty_lounge has no effect on scores, but high-value customers
    use it more and answer higher. The naive difference shows an "effect"; the adjusted one
    must not."""
    with cxloop.Workspace.open(workspace) as ws:
        doc = build_moments(ws, MomentsSettings(outcome="nps"))
    lounge = next(
        m
        for m in doc["moments"]
        if (m["touchpoint"], m["condition"]) == ("loyalty_lounge", "reached")
    )
    assert lounge["naive_ci_low"] > 0  # the naive number misleads
    assert not lounge["significant"]
    assert lounge["ci_low"] < 0 < lounge["ci_high"]
