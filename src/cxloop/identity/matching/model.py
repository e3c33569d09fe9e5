"""The Fellegi–Sunter model of "are these two customer records one person?" (Splink settings).

Each comparison turns a pair of records into a level (exact, close, different, missing); the
model's m and u probabilities of each level (how often true matches and non-matches show it)
give the level's match weight, log2(m/u), and the weights add up to the pair's match weight
(Fellegi & Sunter 1969, "A theory for record linkage", JASA 64(328); Splink's documentation
explains the same arithmetic). Fields the data contract's `customers` kind provides:

- name (first_name, last_name): both exact; swapped; both Jaro-Winkler >= 0.92; both >= 0.88;
  last name only; first name only; else.
- date_of_birth: exact; day and month transposed; one character off; else.
- address (address, postcode): both exact; address Jaro-Winkler >= 0.9 and same postcode;
  same postcode; address Jaro-Winkler >= 0.9; else.
- email (normalised as by the rules): exact; else.
- phone (E.164 digits as by the rules): exact; else.

A comparison where either side is missing is neutral (weight 0).

Email has no fuzzy level on purpose: an address like `john.lewis19@...` looks like every other
John Lewis's, so its similarity repeats the name's evidence instead of adding its own (and EM
then learns nonsense; measured on the duplicate generator). Address and postcode are one
comparison because they are not independent: counting both would weigh one fact twice.

Guards on top of the weights (see `matcher._classified_sql`): household members share a last
name, an address and often a landline, so a pair is accepted only if it has one strong personal
agreement (see `NAME_FULL_MIN_GAMMA` and below), its dates of birth do not disagree, the
*personal* comparisons (name, date of birth, email) together weigh for the match, and at least
two comparisons agree; one weak field, or the household's fields, never merge.

Splink is imported only inside functions: `cxloop.identity` stays importable without it.
"""

from __future__ import annotations

from typing import Any

# Comparison names (Splink's output column names) in model order, with what they compare.
COMPARISONS: dict[str, tuple[str, ...]] = {
    "name": ("first_name", "last_name"),
    "date_of_birth": ("date_of_birth",),
    "address": ("address", "postcode"),
    "email": ("email",),
    "phone": ("phone",),
}
# Comparisons that describe the person rather than where they live or which phone rings.
PERSONAL = ("name", "date_of_birth", "email")
# Levels as Splink numbers them (`gamma_<comparison>`: -1 missing, then counted down from the
# best level to 0, "else"; see `levels`). A match needs one *strong personal* agreement: a date
# of birth exact, transposed or one character off; the same email; or both names agreeing
# (exact, swapped, both Jaro-Winkler >= 0.88) with neither the dates of birth nor the emails
# disagreeing (two Victoria Moores of one household, one without a date of birth, have only
# their name and their home in common). Dates of birth that disagree veto a match. Address and
# phone never count: a household shares them.
NAME_FULL_MIN_GAMMA = 3  # both names: exact (6), swapped (5), JW >= 0.92 (4), JW >= 0.88 (3)
DOB_NEAR_MIN_GAMMA = 1  # exact (3), day and month transposed (2), one character off (1)
DOB_DIFFERENT_GAMMA = 0  # "else": the dates disagree
EMAIL_EXACT_GAMMA = 1
EMAIL_DIFFERENT_GAMMA = 0
# The columns of the model's input table (`unique_id` is the record's identity-graph node).
INPUT_COLUMNS = ("unique_id", *dict.fromkeys(c for cols in COMPARISONS.values() for c in cols))

# Pairs scored at prediction: records that share at least one of these (Splink unions the
# rules and scores each pair once). Each is narrow enough to keep the pairs near-linear in
# the records, and together they catch a duplicate with any one field wrong.
PREDICTION_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("first_name", "last_name"),
    ("last_name", "date_of_birth"),
    ("first_name", "date_of_birth"),
    ("last_name", "postcode"),
    ("email",),
    ("phone",),
)
# EM sessions: each estimates m for the comparisons not used in its blocking rule.
TRAINING_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("first_name", "last_name"),
    ("date_of_birth",),
)
# Deterministic rules that find mostly true matches, for the prior (recall is a guess).
PRIOR_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("first_name", "last_name", "date_of_birth"),
    ("email",),
)
PRIOR_RECALL = 0.7

# Day and month swapped in an ISO date (YYYY-MM-DD): 1985-03-07 vs 1985-07-03.
TRANSPOSED_SQL = (
    "substr(date_of_birth_l, 1, 4) = substr(date_of_birth_r, 1, 4) "
    "AND substr(date_of_birth_l, 6, 2) = substr(date_of_birth_r, 9, 2) "
    "AND substr(date_of_birth_l, 9, 2) = substr(date_of_birth_r, 6, 2)"
)


def settings(parameters: dict[str, Any] | None = None) -> Any:
    """Splink's SettingsCreator for the model above: untrained, or with the prior and the m
    and u probabilities of a saved model (`parameters`, Splink's model JSON).

    The comparisons always come from this code and the saved model gives only numbers, so a
    model trained on one engine scores on another: Splink writes each engine's own SQL
    (DuckDB's `jaro_winkler_similarity`, the Spark UDF `jaro_winkler`), which a model JSON
    saved by one engine cannot give the other.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_description="first and last name",
        comparison_levels=[
            cll.And(cll.NullLevel("first_name"), cll.NullLevel("last_name")),
            cll.And(cll.ExactMatchLevel("first_name"), cll.ExactMatchLevel("last_name")),
            cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True),
            cll.And(
                cll.JaroWinklerLevel("first_name", 0.92), cll.JaroWinklerLevel("last_name", 0.92)
            ),
            cll.And(
                cll.JaroWinklerLevel("first_name", 0.88), cll.JaroWinklerLevel("last_name", 0.88)
            ),
            cll.ExactMatchLevel("last_name"),
            cll.ExactMatchLevel("first_name"),
            cll.ElseLevel(),
        ],
    )
    date_of_birth = cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_description="date of birth",
        comparison_levels=[
            cll.NullLevel("date_of_birth"),
            cll.ExactMatchLevel("date_of_birth"),
            cll.CustomLevel(TRANSPOSED_SQL, "day and month transposed"),
            cll.LevenshteinLevel("date_of_birth", 1),
            cll.ElseLevel(),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_description="address and postcode",
        comparison_levels=[
            cll.And(cll.NullLevel("address"), cll.NullLevel("postcode")),
            cll.And(cll.ExactMatchLevel("address"), cll.ExactMatchLevel("postcode")),
            cll.And(cll.JaroWinklerLevel("address", 0.9), cll.ExactMatchLevel("postcode")),
            cll.ExactMatchLevel("postcode"),
            cll.JaroWinklerLevel("address", 0.9),
            cll.ElseLevel(),
        ],
    )
    comparisons = [name, date_of_birth, address, cl.ExactMatch("email"), cl.ExactMatch("phone")]
    prior = 0.0001  # Splink's default; training replaces it
    if parameters is not None:
        ms, us = _trained(parameters)
        for comparison, m, u in zip(comparisons, ms, us, strict=True):
            comparison.configure(m_probabilities=m, u_probabilities=u)
        prior = float(parameters.get("probability_two_random_records_match") or prior)
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        probability_two_random_records_match=prior,
        blocking_rules_to_generate_predictions=[block_on(*b) for b in PREDICTION_BLOCKS],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
    )


def _trained(model: dict[str, Any]) -> tuple[list[list[float]], list[list[float]]]:
    """Per comparison, the m and u probabilities of its non-null levels in a saved model;
    an error naming the file's problem when it was saved for other comparisons."""
    from cxloop.errors import CxloopError

    names = [c.get("output_column_name") for c in model.get("comparisons", [])]
    if names != list(COMPARISONS):
        raise CxloopError(
            f"the saved matching model compares {names}, this cxloop compares "
            f"{list(COMPARISONS)}: retrain it with `cxloop profiles WS --train`"
        )
    ms, us = [], []
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        ms.append([lv.get("m_probability") for lv in levels])
        us.append([lv.get("u_probability") for lv in levels])
    return ms, us


def train(linker: Any, *, seed: int, max_pairs: float) -> None:
    """Estimate the model's parameters on the linker's records (reproducible for a seed).

    The prior from deterministic rules; u from random pairs (nearly all non-matches), seeded;
    m by expectation maximisation on the pairs of each training block, u held fixed.
    """
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on(*b) for b in PRIOR_BLOCKS], recall=PRIOR_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    for block in TRAINING_BLOCKS:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*block))


def levels(model: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(comparison, gamma, label) of every level of a saved model, as Splink numbers them.

    Splink gives the null level -1 and counts the others down from the best (see
    `splink/internals/comparison.py`), which is how the `gamma_` columns of predictions read.
    """
    out: list[tuple[str, int, str]] = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        ranked = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for lv in comparison["comparison_levels"]:
            gamma = -1 if lv.get("is_null_level") else len(ranked) - 1 - ranked.index(lv)
            out.append((name, gamma, str(lv.get("label_for_charts") or lv["sql_condition"])))
    return out
