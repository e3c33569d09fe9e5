"""Themes (discovered and pinned) and the log-odds reasons behind detractors and promoters."""

from __future__ import annotations

import csv
import math
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from cxloop.analytics.voc.reasons import RELATIONSHIP, log_odds_dirichlet, theme_reasons
from cxloop.analytics.voc.themes import discover_themes
from cxloop.generate import generate

BRANDS = ("Northwind", "Contoso", "Fabrikam")
PLANTED = (
    "delivery", "product_quality", "price_value", "customer_service", "app_website", "returns",
)  # fmt: skip

PIZZA = [
    "The pizza crust was crispy and the cheese melted perfectly.",
    "Cheese pizza with a thin crust, baked in a wood oven.",
    "Too much sauce on the pizza and the crust was soggy.",
    "The oven baked crust had a smoky taste, lovely pizza.",
    "Extra cheese and tomato sauce, the best pizza in town.",
    "Pepperoni pizza arrived cold, the cheese was hard.",
    "Thin crust, fresh basil and mozzarella cheese.",
    "Wood oven pizza with a chewy crust and sweet tomato sauce.",
    "The pepperoni was spicy and the cheese was stringy.",
    "My pizza had burnt crust from the oven.",
    "Mozzarella and basil on a crispy crust.",
    "Tomato sauce was bland but the pizza crust was good.",
    "Great pepperoni pizza, generous cheese.",
    "The oven pizza came with garlic sauce.",
    "Crust too thick, not enough cheese or sauce.",
]
PHONE = [
    "The phone battery drains in a few hours.",
    "The charger cable stopped working after a week.",
    "Screen cracked and the battery swelled on my phone.",
    "Fast charger, the phone battery charges in an hour.",
    "The phone screen is bright but the battery is weak.",
    "Replacement charger cable was too short for the phone.",
    "Battery life is great and the screen is sharp.",
    "The screen flickers when the charger is plugged in.",
    "New phone, battery lasts two days, love the screen.",
    "The cable frayed and the charger got hot.",
    "Phone will not charge, the battery or the cable is dead.",
    "Touch screen is laggy, phone restarts randomly.",
    "Wireless charger works with my phone, battery stays full.",
    "Cracked screen, cheap cable, weak battery.",
    "The charger and cable came in the phone box.",
]
FLIGHT = [
    "The flight was delayed and we waited at the gate for hours.",
    "Lost luggage at the airport, nobody at the desk helped.",
    "Boarding at the gate was chaotic and the flight left late.",
    "Smooth flight, friendly crew, luggage arrived quickly.",
    "The airport security line was long but boarding was fast.",
    "Our flight changed gate twice before boarding.",
    "Luggage belt at the airport broke, waited an hour for bags.",
    "The flight crew handled the delay well, boarding on time.",
    "Airport lounge was nice, the gate was far away.",
    "Delayed flight, missed connection, luggage went elsewhere.",
    "Boarding passes scanned at the gate, flight took off early.",
    "Checked luggage was damaged on the flight.",
    "The airport was crowded, our gate had no seats.",
    "Overnight flight, the luggage allowance was generous.",
    "Gate agent rebooked my flight at the airport.",
]
TOPICS = {"pizza": PIZZA, "phone": PHONE, "flight": FLIGHT}
HAND = [t for texts in TOPICS.values() for t in texts]
HAND_TRUTH = [topic for topic, texts in TOPICS.items() for _ in texts]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The generator's verbatims (feedback, then mentions) with their planted themes."""
    data = generate(tmp_path_factory.mktemp("voc") / "data", people=3000, seed=5, dirty_rate=0)
    truth_dir = data.files["feedback"].parent / "truth"
    feedback = [r for r in _read(data.files["feedback"]) if r["text"]]
    mentions = [r for r in _read(data.files["mentions"]) if r["text"]]
    fb_truth = {r["response_id"]: r["theme"] for r in _read(truth_dir / "feedback_truth.csv")}
    mn_truth = {r["mention_id"]: r["theme"] for r in _read(truth_dir / "mentions_truth.csv")}
    return {
        "feedback": feedback,
        "texts": [r["text"] for r in feedback] + [r["text"] for r in mentions],
        "truth": [fb_truth[r["response_id"]] for r in feedback]
        + [mn_truth[r["mention_id"]] for r in mentions],
    }


@pytest.fixture(scope="module")
def fitted(generated: dict) -> tuple:
    """Themes of the generated verbatims, k chosen in 4..20.

    The generator writes each theme with different sentences for positive, neutral and
    negative texts (docs/generator.md), so its most coherent units are the 18 theme-sentiment
    cells; 4..20 lets the criterion reach them (it picks 20 here). With the default 4..12 this
    seed is recovered too (k = 12), but not every seed is: a test should not rest on one.
    """
    return discover_themes(generated["texts"], stop_words=BRANDS, k_range=(4, 20))


# (a) a small corpus with three obvious topics


def test_three_obvious_topics_are_split_into_three_themes() -> None:
    model, per_text = discover_themes(HAND, k=3)
    assert model.k_chosen == 3 and model.criterion == "fixed k=3"
    assert len(model.discovered) == 3 and not model.pinned
    first = defaultdict(Counter)
    for topic, themes in zip(HAND_TRUTH, per_text, strict=True):
        assert themes, f"a {topic} text got no theme"
        first[topic][themes[0]] += 1
    theme_of = {topic: c.most_common(1)[0][0] for topic, c in first.items()}
    assert len(set(theme_of.values())) == 3
    assert all(len(c) == 1 for c in first.values()), dict(first)
    assert "pizza" in theme_of["pizza"]
    assert {"phone", "battery"} & set(theme_of["phone"].split(" / "))
    assert {"flight", "gate", "airport"} & set(theme_of["flight"].split(" / "))
    names = [t.name for t in model.themes]
    assert all(re.fullmatch(r"[\w ]+( / [\w ]+){1,2}", n) for n in names), names


def test_k_chosen_by_coherence_never_mixes_the_topics() -> None:
    model, per_text = discover_themes(HAND)
    assert set(model.scores) == set(range(4, 13))
    assert model.k_chosen == max(model.scores, key=lambda k: (model.scores[k], -k))
    assert "NPMI" in model.criterion
    topics_of = defaultdict(set)
    for topic, themes in zip(HAND_TRUTH, per_text, strict=True):
        for name in themes:
            topics_of[name].add(topic)
    assert topics_of and all(len(t) == 1 for t in topics_of.values()), dict(topics_of)


def test_texts_without_vocabulary_get_no_theme() -> None:
    junk = ["", "   ", "!!!", "the and of it", "Northwind", "Northwind!"]
    _, per_text = discover_themes([*HAND, *junk, None], k=3, stop_words=BRANDS)  # type: ignore[list-item]
    assert per_text[len(HAND) :] == [()] * (len(junk) + 1)


def test_assign_puts_new_texts_on_the_same_themes() -> None:
    model, per_text = discover_themes(HAND, k=3)
    assert model.assign(HAND) == per_text
    new = model.assign(["Soggy crust and cold cheese on my pizza", "", "gate and luggage"])
    theme_of = dict(zip(HAND_TRUTH, (t[0] for t in per_text), strict=False))
    assert new[0][0] == theme_of["pizza"] and new[1] == () and new[2][0] == theme_of["flight"]


def test_no_text_or_bad_arguments() -> None:
    model, per_text = discover_themes([])
    assert per_text == [] and model.themes == () and model.k_chosen == 0
    with pytest.raises(ValueError, match="k_range"):
        discover_themes(HAND, k_range=(5, 4))
    with pytest.raises(ValueError, match="min_share"):
        discover_themes(HAND, min_share=0)
    with pytest.raises(ValueError, match="k must be"):
        discover_themes(HAND, k=0)


# (b) pinned themes take precedence


def test_pinned_dictionary_takes_precedence(generated: dict) -> None:
    pinned = {"Delivery": ["late", "courier", "Parcel", "on time"]}
    model, per_text = discover_themes(generated["texts"], pinned=pinned, stop_words=BRANDS)
    pattern = re.compile(r"(?<!\w)(late|courier|parcel|on\s+time)(?!\w)", re.IGNORECASE)
    hits = 0
    for text, themes in zip(generated["texts"], per_text, strict=True):
        if pattern.search(text):
            hits += 1
            assert themes == ("Delivery",), text
        else:
            assert "Delivery" not in themes, text
    assert hits > 100
    assert model.pinned[0].terms == ("late", "courier", "Parcel", "on time")
    assert model.themes[0].pinned and len(model.discovered) == model.k_chosen >= 4
    discovered_terms = {w for t in model.discovered for term in t.terms for w in term.split()}
    assert not discovered_terms & {"late", "courier", "parcel"}


def test_pinned_keywords_match_whole_words_and_phrases_in_any_case() -> None:
    pinned = {"late": ["late"], "hold": ["on hold"], "c++": ["C++"], "wifi": ["wi-fi"]}
    texts = ["LATE again", "lately fine", "kept on  hold", "onhold", "c++ docs", "Wi-Fi down"]
    _, per_text = discover_themes(texts, pinned=pinned)
    assert per_text == [("late",), (), ("hold",), (), ("c++",), ("wifi",)]


def test_a_discovered_name_never_repeats_a_pinned_name() -> None:
    # Pin a name that discovery would produce for the pizza texts; the pinned keyword
    # matches none of them, so the pizza theme is still discovered, under another name.
    model, _ = discover_themes(HAND, k=3)
    pizza = next(t.name for t in model.themes if "pizza" in t.name)
    again, _ = discover_themes(HAND, k=3, pinned={pizza: ["zzz"]})
    names = [t.name for t in again.themes]
    assert len(names) == len(set(names)) == 4


# (c) determinism


def test_same_input_same_output_in_any_order(generated: dict) -> None:
    texts = generated["texts"]
    first = discover_themes(texts, stop_words=BRANDS, seed=3)
    second = discover_themes(texts, stop_words=BRANDS, seed=3)
    assert first[0] == second[0] and first[1] == second[1]
    shuffled = list(texts)
    random.Random(1).shuffle(shuffled)
    third = discover_themes(shuffled, stop_words=BRANDS, seed=3)
    assert third[0] == first[0]
    by_text = dict(zip(texts, first[1], strict=True))
    assert all(by_text[t] == themes for t, themes in zip(shuffled, third[1], strict=True))


def test_sample_is_deterministic_and_bounded(generated: dict) -> None:
    texts = generated["texts"]
    model, per_text = discover_themes(texts, stop_words=BRANDS, sample=500, k=6)
    again, per_text_again = discover_themes(texts, stop_words=BRANDS, sample=500, k=6)
    assert model.fitted_on == 500 and model == again and per_text == per_text_again
    assert sum(1 for t in per_text if t) > 0.95 * len(texts)


# (d) the generator's planted themes are found


def test_each_planted_theme_matches_one_discovered_theme(generated: dict, fitted: tuple) -> None:
    model, per_text = fitted
    truth = generated["truth"]
    assert model.k_chosen == len(model.discovered) and model.k_chosen in model.scores
    assert set(truth) == set(PLANTED)
    size = Counter(truth)
    by_theme: dict[str, Counter[str]] = defaultdict(Counter)
    for planted, themes in zip(truth, per_text, strict=True):
        for name in themes:
            by_theme[name][planted] += 1
    best: dict[str, tuple[float, float, str]] = {}
    for planted in PLANTED:
        candidates = []
        for name, counts in by_theme.items():
            precision = counts[planted] / sum(counts.values())
            recall = counts[planted] / size[planted]
            f1 = 2 * precision * recall / (precision + recall) if counts[planted] else 0.0
            candidates.append((f1, precision, name))
        best[planted] = max(candidates)
    report = {p: (round(b[1], 2), b[2]) for p, b in best.items()}
    assert len({b[2] for b in best.values()}) == len(PLANTED), report
    # the best match is mostly about its planted theme (a majority of its texts)
    assert all(b[1] > 0.5 for b in best.values()), report
    # and the majority planted theme of the discovered themes covers all six
    majority = {c.most_common(1)[0][0] for c in by_theme.values()}
    assert majority == set(PLANTED)
    assert sum(1 for t in per_text if not t) < 0.05 * len(per_text)  # nearly every text placed


# (e) detractor and promoter reasons: weighted log-odds with an informative Dirichlet prior


def _by_hand(y_a: float, y_b: float, alpha: float, n_a: float, n_b: float, a0: float) -> tuple:
    """Monroe, Colaresi & Quinn (2008) s. 3.5.1, with the four-term delta-method variance."""
    delta = math.log((y_a + alpha) / (n_a + a0 - y_a - alpha)) - math.log(
        (y_b + alpha) / (n_b + a0 - y_b - alpha)
    )
    var = (
        1 / (y_a + alpha)
        + 1 / (n_a + a0 - y_a - alpha)
        + 1 / (y_b + alpha)
        + 1 / (n_b + a0 - y_b - alpha)
    )
    return delta, math.sqrt(var), delta / math.sqrt(var)


def test_log_odds_by_hand() -> None:
    a = {"late": 30, "price": 10}
    b = {"late": 5, "price": 20, "app": 0}
    rows = log_odds_dirichlet(a, b)
    assert [r["item"] for r in rows] == ["late", "price"]  # "app" has no count: not an item
    # prior from the pooled counts (35 and 30 of 65), alpha0 = 2 items
    late = _by_hand(30, 5, 2 * 35 / 65, 40, 25, 2)
    price = _by_hand(10, 20, 2 * 30 / 65, 40, 25, 2)
    for row, (delta, se, z), (y_a, y_b) in zip(
        rows, (late, price), ((30, 5), (10, 20)), strict=True
    ):
        assert (row["count_a"], row["count_b"]) == (y_a, y_b)
        assert row["delta"] == pytest.approx(delta, rel=1e-12)
        assert row["se"] == pytest.approx(se, rel=1e-12)
        assert row["z"] == pytest.approx(z, rel=1e-12)
    assert rows[0]["z"] > 0 > rows[1]["z"]
    # written out for "late": alpha = 70/65
    alpha = 70 / 65
    assert rows[0]["delta"] == pytest.approx(
        math.log((30 + alpha) / (42 - 30 - alpha)) - math.log((5 + alpha) / (27 - 5 - alpha))
    )


def test_log_odds_with_a_background_prior_and_symmetry() -> None:
    a, b = {"x": 12, "y": 3, "z": 0}, {"x": 4, "y": 9, "z": 2}
    rows = log_odds_dirichlet(a, b, prior={"x": 50, "y": 30, "z": 20}, alpha0=10)
    by_item = {r["item"]: r for r in rows}
    expect = _by_hand(12, 4, 10 * 0.5, 15, 15, 10)
    assert by_item["x"]["z"] == pytest.approx(expect[2], rel=1e-12)
    expect = _by_hand(0, 2, 10 * 0.2, 15, 15, 10)
    assert by_item["z"]["delta"] == pytest.approx(expect[0], rel=1e-12)
    swapped = {r["item"]: r for r in log_odds_dirichlet(b, a, prior={"x": 5, "y": 3, "z": 2})}
    same_scale = {r["item"]: r for r in log_odds_dirichlet(a, b, prior={"x": 5, "y": 3, "z": 2})}
    for item, row in same_scale.items():
        assert swapped[item]["z"] == pytest.approx(-row["z"])
        assert swapped[item]["se"] == pytest.approx(row["se"])
    assert [r["z"] for r in rows] == sorted((r["z"] for r in rows), reverse=True)


def test_log_odds_rejects_bad_input() -> None:
    assert log_odds_dirichlet({}, {}) == []
    with pytest.raises(ValueError, match="negative"):
        log_odds_dirichlet({"x": -1}, {"x": 2})
    with pytest.raises(ValueError, match="prior weight"):
        log_odds_dirichlet({"x": 1, "y": 2}, {"x": 2}, prior={"x": 1.0})
    with pytest.raises(ValueError, match="alpha0"):
        log_odds_dirichlet({"x": 1}, {"x": 2}, alpha0=0)


def test_theme_reasons_groups_sides_and_touchpoints() -> None:
    themes: list[tuple[str, ...]] = []
    nps: list[float | None] = []
    touchpoint: list[str | None] = []
    for i in range(60):  # detractors: mostly late deliveries
        themes.append(("late delivery",) if i < 45 else ("price",))
        nps.append(float(i % 7))
        touchpoint.append("delivery" if i % 2 else None)
    for i in range(60):  # promoters: mostly friendly staff
        themes.append(("friendly staff",) if i < 40 else ("price", "late delivery"))
        nps.append(9.0 + i % 2)
        touchpoint.append("delivery" if i % 2 else None)
    themes += [("late delivery",)] * 30 + [("rare",)] * 4  # passives and no scores: ignored
    nps += [7.0, 8.0] * 15 + [None, math.nan, None, math.nan]
    touchpoint += ["delivery"] * 34
    out = theme_reasons(themes, nps, touchpoint)
    assert "promoters" in out["convention"] and "detractors" in out["convention"]
    overall = out["overall"]
    assert (overall["detractors"], overall["promoters"]) == (60, 60)
    assert overall["detractor"][0]["item"] == "late delivery"
    assert (overall["detractor"][0]["detractors"], overall["detractor"][0]["promoters"]) == (45, 20)
    assert [r["item"] for r in overall["promoter"]] == ["friendly staff"]
    assert all(r["z"] <= -1.96 for r in overall["detractor"])
    assert [r["z"] for r in overall["detractor"]] == sorted(r["z"] for r in overall["detractor"])
    assert set(out["by_touchpoint"]) == {"delivery", RELATIONSHIP}
    assert out["by_touchpoint"]["delivery"]["detractors"] == 30
    assert all(
        "rare" not in {r["item"] for r in s} for s in (overall["detractor"], overall["promoter"])
    )
    with pytest.raises(ValueError, match="same length"):
        theme_reasons([()], [1.0, 2.0], [None])


def test_min_count_hides_rare_themes() -> None:
    themes = [("rare",)] * 4 + [("common",)] * 40 + [("other",)] * 40
    nps = [0.0] * 4 + [0.0] * 40 + [10.0] * 40
    out = theme_reasons(themes, nps, [None] * 84, min_count=5)
    assert "rare" not in {r["item"] for r in out["overall"]["detractor"]}
    shown = theme_reasons(themes, nps, [None] * 84, min_count=1)
    assert {r["item"] for r in shown["overall"]["detractor"]} >= {"common"}


def test_detractors_of_the_generator_are_about_delivery_and_service(
    generated: dict, fitted: tuple
) -> None:
    """Late deliveries and unresolved support contacts make detractors in the generator, and
    their verbatims are then about delivery or customer service (src/cxloop/generate)."""
    _, per_text = fitted
    feedback = generated["feedback"]
    planted_of: dict[str, Counter[str]] = defaultdict(Counter)
    for planted, themes in zip(generated["truth"], per_text, strict=True):
        for name in themes:
            planted_of[name][planted] += 1
    about = {name: c.most_common(1)[0][0] for name, c in planted_of.items()}
    nps = [float(r["score"]) if r["metric"] == "nps" else None for r in feedback]
    touchpoint = [r["touchpoint"] or None for r in feedback]
    out = theme_reasons(per_text[: len(feedback)], nps, touchpoint)
    detractor = out["overall"]["detractor"]
    assert detractor, out["overall"]
    assert about[detractor[0]["item"]] in {"delivery", "customer_service"}
    assert detractor[0]["detractors"] > 5 * detractor[0]["promoters"]
    delivery = out["by_touchpoint"]["delivery"]["detractor"]
    assert delivery and about[delivery[0]["item"]] == "delivery"
    # the promoter side of the delivery survey is not led by a complaint theme
    promoter = out["by_touchpoint"]["delivery"]["promoter"]
    assert promoter and promoter[0]["item"] != delivery[0]["item"]
