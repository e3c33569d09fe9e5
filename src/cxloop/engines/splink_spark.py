"""Splink on Spark: the same identity-matching model, trained and scored by Spark.

The twin of `splink_duckdb.DuckDBSplink` (same two methods, Arrow in and out), for record
counts that outgrow one machine. Splink's Spark backend compares strings with Scala UDFs
(Jaro-Winkler and friends) shipped inside the splink package as a jar; the session must be
started with that jar on `spark.jars`, which `session()` does. An existing session started
without it cannot load the UDFs: start it with `spark.jars` set to
`splink.backends.spark.similarity_jar_location()`.

pyspark is optional: it is imported only here, when a Spark backend is made.
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from cxloop.errors import CxloopError

INSTALL_HINT = (
    "probabilistic matching on Spark needs pyspark and Java 17: pip install pyspark "
    "(and a JDK, e.g. apt-get install openjdk-17-jre-headless)"
)


def session(
    master: str = "local[2]",
    *,
    app_name: str = "cxloop-identity",
    conf: dict[str, str] | None = None,
) -> Any:
    """A classic Spark session with Splink's similarity UDF jar (an existing one is reused).

    Spark Connect cannot load Splink's jar into the server, so matching needs a classic
    session (`[spark] master`), also when the analyses use `remote`.
    """
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as exc:
        raise CxloopError(INSTALL_HINT) from exc
    builder = SparkSession.builder.master(master).appName(app_name)
    settings = {"spark.sql.shuffle.partitions": "8", **(conf or {})}
    jars = [similarity_jar_location(), *filter(None, [settings.pop("spark.jars", "")])]
    builder = builder.config("spark.jars", ",".join(jars))
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM or the cluster refused
        raise CxloopError(f"cannot start Spark for identity matching: {exc}") from exc


class SparkSplink:
    """Splink's Spark backend over a session (see the module docstring)."""

    def __init__(self, spark: Any, *, break_lineage_method: str = "persist") -> None:
        # Splink cuts Spark's long query plans between steps; "persist" keeps the pieces in
        # executor memory (local mode), "checkpoint" writes them to the session's checkpoint
        # directory (what a cluster wants for large jobs).
        self.spark = spark
        self.break_lineage_method = break_lineage_method

    def _linker(self, records: pa.Table, model: Any) -> Any:
        from splink import Linker
        from splink.backends.spark import SparkAPI

        # Sorted, in one partition order, so that seeded sampling sees the same rows in the
        # same places whatever order the records were loaded in.
        frame = self.spark.createDataFrame(records.sort_by("unique_id")).coalesce(1)
        try:
            api = SparkAPI(spark_session=self.spark, break_lineage_method=self.break_lineage_method)
        except Exception as exc:  # the UDF classes are not on the session's classpath
            raise CxloopError(
                "Splink's similarity functions are not loaded in this Spark session: start "
                "it with spark.jars = splink.backends.spark.similarity_jar_location() "
                f"({type(exc).__name__})"
            ) from exc
        linker = Linker(api.register(frame), model, log_level=None)
        logging.getLogger("splink").setLevel(logging.ERROR)
        return linker

    def train(self, records: pa.Table, settings: Any, *, train: Any) -> dict[str, Any]:
        """Fit the model on `records` with the recipe `train(linker)`; return its JSON."""
        linker = self._linker(records, settings)
        train(linker)
        return dict(linker.misc.save_model_to_json())

    def predict(
        self, records: pa.Table, settings: Any, *, threshold: float, columns: list[str]
    ) -> pa.Table:
        """Scored pairs with match probability >= `threshold`: `columns` of the predictions,
        by the trained `settings` (`model.settings(saved_model)`)."""
        linker = self._linker(records, settings)
        scored = linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        frame = scored.as_spark_dataframe().select(*columns)
        if hasattr(frame, "toArrow"):  # pyspark >= 4
            return frame.toArrow()
        return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)
