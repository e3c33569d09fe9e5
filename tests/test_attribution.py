"""Markov removal-effect and heuristic attribution against hand-worked cases and invariants.

Expected numbers are derived by hand in each docstring, from the definitions in Anderl, Becker,
von Wangenheim & Schumann (2016), IJRM 33(3): removal effect RE(t) = 1 - P(conv without t) /
P(conv), with a removed state's incoming transitions sent to NULL, and credit = total
conversions x RE(t) / sum RE.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.analytics.journey import attribute_conversions, fit_markov_chain, journeys
from cxloop.analytics.journey.attribution import NO_CONVERSIONS
from cxloop.errors import CxloopError

CLASSIC = [("C1", "C2"), ("C1",), ("C2", "C3")]
CLASSIC_CONVERSIONS = [1, 0, 1]


def test_classic_three_paths_by_hand():
    """Paths: C1 > C2 > conv, C1 > null, C2 > C3 > conv.

    Transitions (counts, then probabilities):
      START -> C1: 2, START -> C2: 1          => 2/3, 1/3
      C1 -> C2: 1, C1 -> NULL: 1              => 1/2, 1/2
      C2 -> CONV: 1, C2 -> C3: 1              => 1/2, 1/2
      C3 -> CONV: 1                           => 1
    Absorption in CONV: x_C3 = 1; x_C2 = 1/2 + 1/2 * 1 = 1; x_C1 = 1/2 * x_C2 = 1/2;
      P(conv) = 2/3 * 1/2 + 1/3 * 1 = 2/3 (= the observed rate 2/3).
    Remove C1: START -> C1 goes to NULL; P = 1/3 * x_C2 = 1/3;      RE = 1 - (1/3)/(2/3) = 1/2.
    Remove C2: x_C1 = 0 and START -> C2 goes to NULL; P = 0;         RE = 1.
    Remove C3: x_C2 = 1/2, x_C1 = 1/4; P = 2/3*1/4 + 1/3*1/2 = 1/3; RE = 1/2.
    Sum RE = 2, 2 conversions: C1 = 2 * 0.5/2 = 0.5, C2 = 1, C3 = 0.5.
    Heuristics: first touch C1 1, C2 1; last touch C2 1, C3 1; linear C1 1/2, C2 1, C3 1/2.
    """
    chain = fit_markov_chain(journeys(CLASSIC, CLASSIC_CONVERSIONS))
    assert chain.labels == ("START", "C1", "C2", "C3", "CONVERSION", "NULL")
    assert chain.transition("START", "C1") == pytest.approx(2 / 3)
    assert chain.transition("START", "C2") == pytest.approx(1 / 3)
    assert chain.transition("C1", "C2") == pytest.approx(1 / 2)
    assert chain.transition("C1", "NULL") == pytest.approx(1 / 2)
    assert chain.transition("C2", "CONVERSION") == pytest.approx(1 / 2)
    assert chain.transition("C2", "C3") == pytest.approx(1 / 2)
    assert chain.transition("C3", "CONVERSION") == pytest.approx(1.0)
    assert chain.transitions.sum(axis=1) == pytest.approx([1.0] * 6)
    assert chain.conversion_probability() == pytest.approx(2 / 3)
    assert chain.conversion_probability(without=["C1"]) == pytest.approx(1 / 3)
    assert chain.conversion_probability(without=["C2"]) == pytest.approx(0.0)
    assert chain.conversion_probability(without=["C3"]) == pytest.approx(1 / 3)

    result = attribute_conversions(CLASSIC, CLASSIC_CONVERSIONS)
    assert result.conversion_probability == pytest.approx(2 / 3)
    assert [r.touchpoint for r in result.touchpoints] == ["C1", "C2", "C3"]
    assert [r.removal_effect for r in result.touchpoints] == pytest.approx([0.5, 1.0, 0.5])
    assert [r.markov_conversions for r in result.touchpoints] == pytest.approx([0.5, 1.0, 0.5])
    assert [r.markov_share for r in result.touchpoints] == pytest.approx([0.25, 0.5, 0.25])
    assert [r.first_touch for r in result.touchpoints] == pytest.approx([1.0, 1.0, 0.0])
    assert [r.last_touch for r in result.touchpoints] == pytest.approx([0.0, 1.0, 1.0])
    assert [r.linear for r in result.touchpoints] == pytest.approx([0.5, 1.0, 0.5])
    assert result["C2"].last_touch_share == pytest.approx(0.5)
    assert result.note is None


def test_repeats_and_counts_by_hand():
    """Rows (path, journeys, conversions, value): (A, A, B) 2, 2, 10; (B) 2, 1, 5; (A) 4, 1, 1.

    Repeats kept. Transition counts, then probabilities:
      START -> A: 2 + 4 = 6, START -> B: 2                    => 3/4, 1/4
      A -> A: 2, A -> B: 2, A -> CONV: 1, A -> NULL: 3 (of 8)  => 1/4, 1/4, 1/8, 3/8
      B -> CONV: 2 + 1 = 3, B -> NULL: 1 (of 4)               => 3/4, 1/4
    x_B = 3/4; x_A = 1/4 x_A + 1/4 * 3/4 + 1/8  =>  3/4 x_A = 5/16  =>  x_A = 5/12.
    P(conv) = 3/4 * 5/12 + 1/4 * 3/4 = 15/48 + 9/48 = 1/2 (= observed 4 of 8 journeys).
    Remove A: P = 1/4 * 3/4 = 3/16;                      RE_A = 1 - (3/16)/(1/2) = 5/8.
    Remove B: x_A = 1/4 x_A + 1/8 => x_A = 1/6; P = 3/4 * 1/6 = 1/8; RE_B = 1 - 1/4 = 3/4.
    Sum RE = 11/8, 4 conversions: A = 4 * 5/11 = 20/11, B = 4 * 6/11 = 24/11.
    Value 16 with the same shares: A = 80/11, B = 96/11.
    First touch A 2 + 1 = 3, B 1; last touch A 1, B 2 + 1 = 3.
    Linear: (A, A, B) gives 2/3 per touch => A 4/3 + 1 = 7/3, B 2/3 + 1 = 5/3.
    Collapsed, A -> A disappears, x_A = (2 * 3/4 + 1) / 6 = 5/12 again: same removal effects,
    but linear gives (A, B) 1 each => A 2, B 2.
    """
    paths = [("A", "A", "B"), ("B",), ("A",)]
    kwargs = {"counts": [2, 2, 4], "values": [10.0, 5.0, 1.0]}
    chain = fit_markov_chain(journeys(paths, [2, 1, 1], counts=[2, 2, 4]))
    assert chain.transition("A", "A") == pytest.approx(1 / 4)
    assert chain.transition("A", "NULL") == pytest.approx(3 / 8)
    result = attribute_conversions(paths, [2, 1, 1], **kwargs)
    assert result.conversion_probability == pytest.approx(1 / 2)
    assert (result.conversions, result.journeys, result.value) == (4.0, 8.0, 16.0)
    a, b = result["A"], result["B"]
    assert (a.removal_effect, b.removal_effect) == pytest.approx((5 / 8, 3 / 4))
    assert (a.markov_conversions, b.markov_conversions) == pytest.approx((20 / 11, 24 / 11))
    assert (a.markov_value, b.markov_value) == pytest.approx((80 / 11, 96 / 11))
    assert (a.first_touch, b.first_touch) == pytest.approx((3, 1))
    assert (a.last_touch, b.last_touch) == pytest.approx((1, 3))
    assert (a.linear, b.linear) == pytest.approx((7 / 3, 5 / 3))
    # Values: first touch 10 + 1 to A, 5 to B; linear A 20/3 + 1, B 10/3 + 5.
    assert (a.first_touch_value, b.first_touch_value) == pytest.approx((11, 5))
    assert (a.linear_value, b.linear_value) == pytest.approx((23 / 3, 25 / 3))

    collapsed = attribute_conversions(paths, [2, 1, 1], collapse_repeats=True, **kwargs)
    assert collapsed.conversion_probability == pytest.approx(1 / 2)
    assert collapsed["A"].removal_effect == pytest.approx(5 / 8)
    assert collapsed["B"].removal_effect == pytest.approx(3 / 4)
    assert (collapsed["A"].linear, collapsed["B"].linear) == pytest.approx((2, 2))


def test_heuristic_models_on_a_small_case():
    """(A, B, C) converts twice, (B, C) once, (C, A) never. First touch: A 2, B 1; last
    touch: C 3; linear: A 2/3, B 2/3 + 1/2 = 7/6, C 2/3 + 1/2 = 7/6 (sum 3)."""
    result = attribute_conversions(
        [("A", "B", "C"), ("B", "C"), ("C", "A")], [2, 1, 0], counts=[2, 1, 5]
    )
    assert [r.first_touch for r in result.touchpoints] == pytest.approx([2, 1, 0])
    assert [r.last_touch for r in result.touchpoints] == pytest.approx([0, 0, 3])
    assert [r.linear for r in result.touchpoints] == pytest.approx([2 / 3, 7 / 6, 7 / 6])
    assert [r.first_touch_share for r in result.touchpoints] == pytest.approx([2 / 3, 1 / 3, 0])


def test_second_order_tells_apart_what_first_order_confuses():
    """(A, B) converts, (C, B) does not.

    First order: START -> A 1/2, START -> C 1/2; A -> B 1; C -> B 1; B -> CONV 1/2, NULL 1/2.
      P = 1/2. Remove A: P = 1/2 * 1/2 = 1/4, RE_A = 1/2; remove C: likewise RE_C = 1/2,
      although C never led to a conversion; remove B: P = 0, RE_B = 1.
      Sum 2 => A 1/4, B 1/2, C 1/4.
    Second order: states (A), (C), (A, B), (C, B); START -> (A) 1/2, START -> (C) 1/2;
      (A) -> (A, B) 1 -> CONV; (C) -> (C, B) 1 -> NULL. P = 1/2.
      Remove A (drops (A) and (A, B)): P = 0, RE_A = 1; remove B (drops (A, B), (C, B)): RE_B = 1;
      remove C: P = 1/2, RE_C = 0. Sum 2 => A 1/2, B 1/2, C 0.
    """
    paths = [("A", "B"), ("C", "B")]
    first = attribute_conversions(paths, [1, 0])
    assert [r.removal_effect for r in first.touchpoints] == pytest.approx([0.5, 1.0, 0.5])
    assert [r.markov_conversions for r in first.touchpoints] == pytest.approx([0.25, 0.5, 0.25])

    chain = fit_markov_chain(journeys(paths, [1, 0]), order=2)
    assert chain.labels == ("START", "A", "A > B", "C", "C > B", "CONVERSION", "NULL")
    assert chain.transition("A > B", "CONVERSION") == 1.0
    assert chain.transition("C > B", "NULL") == 1.0
    second = attribute_conversions(paths, [1, 0], order=2)
    assert second.conversion_probability == pytest.approx(0.5)
    assert [r.removal_effect for r in second.touchpoints] == pytest.approx([1.0, 1.0, 0.0])
    assert [r.markov_conversions for r in second.touchpoints] == pytest.approx([0.5, 0.5, 0.0])
    assert second.order == 2


def test_no_conversions_reports_zeros_with_a_note():
    result = attribute_conversions([("A", "B"), ("B",)], [0, 0], touchpoints=["A", "B", "C"])
    assert result.note == NO_CONVERSIONS
    assert result.conversion_probability == 0.0
    assert [r.touchpoint for r in result.touchpoints] == ["A", "B", "C"]
    for row in result.touchpoints:
        assert row.removal_effect == row.markov_conversions == row.markov_share == 0.0
    text = json.dumps(result.to_dict(), allow_nan=False)  # JSON-ready: no NaN anywhere
    assert '"note": "no conversions' in text


def test_catalogue_lists_unreached_touchpoints_in_its_order():
    result = attribute_conversions(
        CLASSIC, CLASSIC_CONVERSIONS, touchpoints=["C3", "X", "C2", "C1"]
    )
    assert [r.touchpoint for r in result.touchpoints] == ["C3", "X", "C2", "C1"]
    assert result["X"].removal_effect == 0.0 and result["X"].linear == 0.0
    assert result["C1"].removal_effect == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("paths", "conversions", "kwargs", "message"),
    [
        ([], [], {}, "at least one path"),
        ([("A",)], [1, 0], {}, "one number per path"),
        ([("A",), ("B",)], [1, 0], {"counts": [1, -2]}, "not negative; path 1"),
        ([("A",)], [-1], {}, "not negative"),
        ([("A",)], [2], {}, "2 conversions but 1 journeys"),
        ([("A", "")], [1], {}, "path 0, step 1: touchpoint names must be non-empty"),
        ([("A", None)], [1], {}, "non-empty text, not None"),
        ([("A", "NULL")], [1], {}, "reserved"),
        ([()], [1], {}, "path 0 is empty"),
        (["AB"], [1], {}, "is a string"),
        ([("A", "Z")], [1], {"touchpoints": ["A", "B"]}, "unknown touchpoint 'Z'"),
        ([("A",)], [0], {"values": [3.0]}, "value but no conversions"),
        ([("A",)], [1], {"order": 0}, "order must be a whole number"),
        ([("A",)], [1], {"values": [float("nan")]}, "finite"),
    ],
)
def test_bad_input_is_explained(paths, conversions, kwargs, message):
    with pytest.raises(CxloopError, match=message):
        attribute_conversions(paths, conversions, **kwargs)


NAMES = ["a", "b", "c", "d"]
path_rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=5).map(tuple),
        st.integers(1, 6),  # journeys
        st.floats(0, 1),  # share of them that converted
    ),
    min_size=1,
    max_size=7,
)


def _table(rows):
    paths = [p for p, _, _ in rows]
    counts = [n for _, n, _ in rows]
    conversions = [round(n * s) for _, n, s in rows]
    return paths, conversions, counts


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(rows=path_rows, order=st.integers(1, 2))
def test_invariants(rows, order):
    paths, conversions, counts = _table(rows)
    result = attribute_conversions(paths, conversions, counts=counts, order=order)
    total = sum(conversions)
    for row in result.touchpoints:
        assert -1e-12 <= row.removal_effect <= 1 + 1e-12
    for model in ("markov_conversions", "first_touch", "last_touch", "linear"):
        credited = sum(getattr(r, model) for r in result.touchpoints)
        assert credited == pytest.approx(total, abs=1e-9)
    # A chain fitted by counting reproduces the observed conversion rate (flow conservation).
    assert result.conversion_probability == pytest.approx(total / sum(counts), abs=1e-9)
    if total == 0:
        assert result.note == NO_CONVERSIONS
    json.dumps(result.to_dict(), allow_nan=False)


@PROPERTY
@given(rows=path_rows, order=st.integers(1, 2), perm=st.permutations(["w", "x", "y", "z"]))
def test_relabelling_touchpoints_permutes_the_result(rows, order, perm):
    paths, conversions, counts = _table(rows)
    rename = dict(zip(NAMES, perm, strict=True))
    renamed = [tuple(rename[t] for t in p) for p in paths]
    before = attribute_conversions(paths, conversions, counts=counts, order=order)
    after = attribute_conversions(renamed, conversions, counts=counts, order=order)
    for row in before.touchpoints:
        moved = after[rename[row.touchpoint]].to_dict()
        for key, value in row.to_dict().items():
            if key != "touchpoint":
                assert moved[key] == pytest.approx(value, abs=1e-9), key


@PROPERTY
@given(rows=path_rows)
def test_first_order_removal_effects_ignore_repeats(rows):
    """A self-loop only rescales a state's other transitions, so in first order collapsing
    runs of one touchpoint changes no absorption probability (module docstring)."""
    paths, conversions, counts = _table(rows)
    kept = attribute_conversions(paths, conversions, counts=counts)
    collapsed = attribute_conversions(paths, conversions, counts=counts, collapse_repeats=True)
    assert kept.conversion_probability == pytest.approx(collapsed.conversion_probability)
    for row in kept.touchpoints:
        assert row.removal_effect == pytest.approx(collapsed[row.touchpoint].removal_effect)
