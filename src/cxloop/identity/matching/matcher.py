"""Probabilistic matching inside a profile build: records in, scored and classified pairs out.

`score()` runs while `Profiles.build` holds its temporary identity tables: it reads the
normalised records (`id_records`, which the deterministic rules built), hands them to the
Splink backend, and writes `id_match_pairs`: every pair with a match probability of at least
`[identity] review_threshold`, its weight, each comparison's level and contribution, and its
status:

- `match`: probability >= `match_threshold`, one strong personal agreement (date of birth
  exact or near, the same email, or both names with the dates of birth not disagreeing), no
  disagreeing dates of birth, the personal comparisons (name, date of birth, email) weigh for
  the match, and at least two comparisons agree. Address and phone are a household's, so they
  never stand in for the person (anchors: never merge because a weak field matches). These
  become identity-graph edges with the rule `probabilistic`, beside the deterministic ones.
- `review`: everything else in the band, with the reason; listed by `cxloop profiles --review`
  for a person to judge, never merged.

The model is trained once and saved as `identity_model.json` in the workspace (Splink's JSON),
so every later build scores with the same parameters: the same records give the same pairs,
whatever their order. `train()` fits it again on the current records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.errors import CxloopError
from cxloop.identity.graph import SEP
from cxloop.identity.matching import model as fs

if TYPE_CHECKING:
    import pyarrow as pa

    from cxloop.workspace import Workspace

MODEL_FILE = "identity_model.json"
# Below this, EM has too few pairs to learn from (Splink fails or learns noise): say so.
MIN_TRAINING_RECORDS = 1000

# Common street-type abbreviations, expanded so that "12 Oak St" and "12 Oak Street" agree.
STREET_WORDS = (
    ("st", "street"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("rd", "road"),
    ("ln", "lane"),
    ("dr", "drive"),
    ("ct", "court"),
    ("blvd", "boulevard"),
    ("pl", "place"),
    ("sq", "square"),
    ("hwy", "highway"),
)


def _address_sql(column: str) -> str:
    """Lower case, punctuation to spaces, single spaces, street abbreviations expanded."""
    expr = f"trim(regexp_replace(lower({column}), '[^a-z0-9]+', ' ', 'g'))"
    for short, full in STREET_WORDS:
        expr = f"regexp_replace({expr}, '\\b{short}\\b', '{full}', 'g')"
    return f"nullif({expr}, '')"


# The model's input: one row per source record, named by its identity-graph node, with the
# normalised email and phone of the deterministic rules (id_records) and cleaned-up text.
# An email or phone shared by more than `max_records_per_identifier` records is a placeholder
# (a shop's walk-in phone, a shared inbox): the rules drop its edges (graph.OVERSHARED_SQL),
# and the model must not read it either, or it gives two strangers on one shop phone the full
# weight of an exact phone agreement. Counted as the rules count (their raw edges, events'
# references included) and over the records themselves, so that switching a rule off does
# not let its placeholders into the model.
INPUT_SQL = f"""
WITH overshared AS (
    SELECT b AS identifier FROM id_raw_edges WHERE rule IN ('email', 'phone')
    GROUP BY b HAVING count(DISTINCT a) > $max_records
    UNION
    SELECT 'e' || {SEP} || email_n FROM id_records WHERE email_n IS NOT NULL
    GROUP BY email_n HAVING count(DISTINCT node) > $max_records
    UNION
    SELECT 'p' || {SEP} || phone_n FROM id_records WHERE phone_n IS NOT NULL
    GROUP BY phone_n HAVING count(DISTINCT node) > $max_records
)
SELECT r.node AS unique_id,
       nullif(trim(regexp_replace(lower(c.first_name), '[^a-z]+', ' ', 'g')), '') AS first_name,
       nullif(trim(regexp_replace(lower(c.last_name), '[^a-z]+', ' ', 'g')), '') AS last_name,
       strftime(c.date_of_birth, '%Y-%m-%d') AS date_of_birth,
       {_address_sql("c.address")} AS address,
       nullif(upper(regexp_replace(c.postcode, '[^A-Za-z0-9]+', '', 'g')), '') AS postcode,
       CASE WHEN oe.identifier IS NULL THEN r.email_n END AS email,
       CASE WHEN op.identifier IS NULL THEN r.phone_n END AS phone
FROM id_records r JOIN customers c USING (source, customer_id)
LEFT JOIN overshared oe ON oe.identifier = 'e' || {SEP} || r.email_n
LEFT JOIN overshared op ON op.identifier = 'p' || {SEP} || r.phone_n
"""

SCORED_COLUMNS = [
    "unique_id_l",
    "unique_id_r",
    "match_weight",
    "match_probability",
    *(f"gamma_{c}" for c in fs.COMPARISONS),
    *(f"mw_{c}" for c in fs.COMPARISONS),
]


# Reasons that judge a pair to be two people (not merely short of evidence). Other edges can
# still join such a pair into one profile (the closure keeps no cannot-link): the review list
# then shows it too, flagged, so a person sees every judgement the profiles contradict.
REASON_DOB_DISAGREE = "dates of birth disagree (relatives? a namesake?)"
REASON_HOUSEHOLD = "name, date of birth and email weigh against (same household?)"
CONTRADICTED_SQL = (
    f"(m.profile_a = m.profile_b AND m.reason IN ('{REASON_DOB_DISAGREE}', '{REASON_HOUSEHOLD}'))"
)


def _classified_sql() -> str:
    """`id_match_pairs` from the scored pairs (`id_match_scored`) and level labels."""
    personal = " + ".join(f"s.mw_{c}" for c in fs.PERSONAL)
    agreeing = " + ".join(f"CAST(s.mw_{c} > 0 AS INTEGER)" for c in fs.COMPARISONS)
    strong = (
        f"(s.gamma_date_of_birth >= {fs.DOB_NEAR_MIN_GAMMA} "
        f"OR s.gamma_email = {fs.EMAIL_EXACT_GAMMA} "
        f"OR (s.gamma_name >= {fs.NAME_FULL_MIN_GAMMA} "
        f"AND s.gamma_date_of_birth <> {fs.DOB_DIFFERENT_GAMMA} "
        f"AND s.gamma_email <> {fs.EMAIL_DIFFERENT_GAMMA}))"
    )
    joins = "\n".join(
        f"LEFT JOIN id_match_levels l_{c} ON l_{c}.comparison = '{c}' AND l_{c}.gamma = s.gamma_{c}"
        for c in fs.COMPARISONS
    )
    parts = ", ".join(
        f"{{'comparison': '{c}', 'level': l_{c}.label, 'weight': s.mw_{c}}}" for c in fs.COMPARISONS
    )
    return f"""
CREATE OR REPLACE TEMP TABLE id_match_pairs AS
WITH scored AS (
    SELECT least(s.unique_id_l, s.unique_id_r) AS a, greatest(s.unique_id_l, s.unique_id_r) AS b,
           s.match_weight, s.match_probability, {personal} AS personal_weight,
           {agreeing} AS agreeing, [{parts}] AS contributions,
           s.gamma_date_of_birth = {fs.DOB_DIFFERENT_GAMMA} AS dob_disagrees,
           {strong} AS strong_personal
    FROM id_match_scored s
    {joins}
)
SELECT * EXCLUDE (dob_disagrees, strong_personal), CASE
    WHEN match_probability < $match_threshold THEN 'review'
    WHEN dob_disagrees THEN 'review'
    WHEN personal_weight <= 0 THEN 'review'
    WHEN NOT strong_personal THEN 'review'
    WHEN agreeing < 2 THEN 'review'
    ELSE 'match' END AS status,
  CASE
    WHEN match_probability < $match_threshold THEN 'below the match threshold'
    WHEN dob_disagrees THEN '{REASON_DOB_DISAGREE}'
    WHEN personal_weight <= 0 THEN '{REASON_HOUSEHOLD}'
    WHEN NOT strong_personal
        THEN 'no date of birth or email agrees, nor a full name without a disagreeing email'
    WHEN agreeing < 2 THEN 'only one field agrees'
  END AS reason
FROM scored
"""


EMPTY_PAIRS_SQL = """
CREATE OR REPLACE TEMP TABLE id_match_pairs (
    a VARCHAR, b VARCHAR, match_weight DOUBLE, match_probability DOUBLE,
    personal_weight DOUBLE, agreeing INTEGER,
    contributions STRUCT(comparison VARCHAR, level VARCHAR, weight DOUBLE)[],
    status VARCHAR, reason VARCHAR)
"""


@dataclass(frozen=True)
class MatchCounts:
    """What one scoring run found (pairs in the review band and above)."""

    scored_pairs: int
    matches: int
    review: int
    trained: bool


def backend(ws: Workspace) -> Any:
    """The Splink backend of the workspace's engine (the seam for Spark, see docs/identity.md)."""
    name = ws.config.engine.name
    if name == "duckdb":
        from cxloop.engines.splink_duckdb import DuckDBSplink

        return DuckDBSplink(ws.config.engine)
    if name == "spark":
        from cxloop.engines.splink_spark import SparkSplink, session

        spark = ws.config.spark
        return SparkSplink(session(spark.master, app_name=spark.app_name, conf=spark.conf_pairs()))
    raise CxloopError(
        f"probabilistic identity matching does not run on the {name!r} engine yet; "
        "set [identity] probabilistic = false or use the duckdb engine"
    )


class ProbabilisticMatcher:
    """Train, save and apply the matching model of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.engine = ws.engine
        self.settings = ws.config.identity

    @property
    def model_path(self) -> Path:
        return Path(self.ws.path) / MODEL_FILE

    def records(self) -> pa.Table:
        """The model's input from `id_records` (a temporary table of `Profiles.build`)."""
        return self.engine.arrow(
            INPUT_SQL, {"max_records": self.settings.max_records_per_identifier}
        )

    def load_model(self) -> dict[str, Any] | None:
        if not self.model_path.is_file():
            return None
        try:
            return json.loads(self.model_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CxloopError(
                f"{self.model_path}: not a readable Splink model ({exc}); delete it or "
                "retrain with `cxloop profiles WS --train`"
            ) from exc

    def train(self, records: pa.Table | None = None) -> dict[str, Any]:
        """Fit the model on the records and save it (`identity_model.json`)."""
        records = self.records() if records is None else records
        if records.num_rows < MIN_TRAINING_RECORDS:
            raise CxloopError(
                f"probabilistic matching needs at least {MIN_TRAINING_RECORDS:,} customer "
                f"records to train its model, and the workspace has {records.num_rows:,}; "
                "load more, or set [identity] probabilistic = false"
            )
        seed, pairs = self.settings.training_seed, self.settings.training_pairs
        try:
            fitted = backend(self.ws).train(
                records,
                fs.settings(),
                train=lambda linker: fs.train(linker, seed=seed, max_pairs=float(pairs)),
            )
        except (ArithmeticError, ValueError, RuntimeError) as exc:
            # Splink's estimators fail this way when a comparison never agrees in the
            # training pairs (e.g. no dates of birth at all).
            raise CxloopError(
                f"probabilistic matching could not train its model on {records.num_rows:,} "
                f"records ({type(exc).__name__}: {exc}); check that names, dates of birth "
                "and addresses are loaded, or set [identity] probabilistic = false"
            ) from exc
        fitted.pop("linker_uid", None)  # a random name per run; the model is the same
        self.model_path.write_text(
            json.dumps(fitted, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return fitted

    def score(self, *, retrain: bool = False) -> MatchCounts:
        """Write `id_match_pairs` (see the module docstring); trains first if no model."""
        import pyarrow as pa

        records = self.records()
        if records.num_rows < 2:
            self.engine.execute(EMPTY_PAIRS_SQL)
            return MatchCounts(0, 0, 0, trained=False)
        model = None if retrain else self.load_model()
        trained = model is None
        if model is None:
            model = self.train(records)
        scored = backend(self.ws).predict(
            records,
            fs.settings(model),
            threshold=self.settings.review_threshold,
            columns=SCORED_COLUMNS,
        )
        comparisons, gammas, labels = zip(*fs.levels(model), strict=True)
        levels = pa.table({"comparison": comparisons, "gamma": gammas, "label": labels})
        con = self.engine.con
        con.register("id_match_scored_arrow", scored)
        con.register("id_match_levels_arrow", levels)
        try:
            self.engine.execute(
                "CREATE OR REPLACE TEMP TABLE id_match_scored AS "
                "SELECT * FROM id_match_scored_arrow"
            )
            self.engine.execute(
                "CREATE OR REPLACE TEMP TABLE id_match_levels AS "
                "SELECT * FROM id_match_levels_arrow"
            )
        finally:
            con.unregister("id_match_scored_arrow")
            con.unregister("id_match_levels_arrow")
        self.engine.execute(_classified_sql(), {"match_threshold": self.settings.match_threshold})
        total, matches = self.engine.fetchone(
            "SELECT count(*), count(*) FILTER (WHERE status = 'match') FROM id_match_pairs"
        )
        return MatchCounts(int(total), int(matches), int(total - matches), trained=trained)


TEMP_TABLES = ("id_match_scored", "id_match_levels", "id_match_pairs")
