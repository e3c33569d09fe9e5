"""Splink on DuckDB: train and score the identity-matching model on an Arrow table of records.

Splink runs in its own in-memory DuckDB connection, not in the workspace: it creates many
working tables (`__splink__...`) that must never land in the warehouse file, and the
records it needs (one narrow row per source record) fit in memory at millions of records.
The connection gets the workspace's thread and memory settings.

This is the engine seam of probabilistic matching (`cxloop.identity.matching.backend`): a
backend takes the records as an Arrow table and gives back the model (Splink's JSON) or the
scored pairs as an Arrow table. A Spark backend would do the same with Splink's `SparkAPI`
over a Spark DataFrame, with no change to the model or to how profiles use the pairs.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import pyarrow as pa

from cxloop.config import EngineSettings

INPUT = "cxloop_match_input"


class DuckDBSplink:
    """Splink's DuckDB backend over an in-memory connection (see the module docstring)."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    def _linker(self, records: pa.Table, model: Any) -> tuple[Any, duckdb.DuckDBPyConnection]:
        from splink import DuckDBAPI, Linker

        con = duckdb.connect()
        if self.settings.threads:
            con.execute(f"SET threads = {int(self.settings.threads)}")
        if self.settings.memory_limit:
            from cxloop.engines.duckdb_engine import _memory_limit

            con.execute(f"SET memory_limit = '{_memory_limit(self.settings.memory_limit)}'")
        # Splink's seeded sampling reads the table in its stored order: sort it, so the same
        # records give the same model whatever order they were loaded in.
        con.register("cxloop_match_arrow", records)
        con.execute(f"CREATE TABLE {INPUT} AS SELECT * FROM cxloop_match_arrow ORDER BY unique_id")
        con.unregister("cxloop_match_arrow")
        api = DuckDBAPI(con)
        linker = Linker(api.register(INPUT), model, log_level=None)
        # Splink logs training progress at INFO and warns about untrained levels; cxloop
        # reports what matters itself (see the review list and the saved model).
        logging.getLogger("splink").setLevel(logging.ERROR)
        return linker, con

    def train(self, records: pa.Table, settings: Any, *, train: Any) -> dict[str, Any]:
        """Fit the model on `records` with the recipe `train(linker)`; return its JSON."""
        linker, con = self._linker(records, settings)
        try:
            train(linker)
            return dict(linker.misc.save_model_to_json())
        finally:
            con.close()

    def predict(
        self, records: pa.Table, settings: Any, *, threshold: float, columns: list[str]
    ) -> pa.Table:
        """Scored pairs with match probability >= `threshold`: `columns` of the predictions,
        by the trained `settings` (`model.settings(saved_model)`)."""
        linker, con = self._linker(records, settings)
        try:
            scored = linker.inference.predict(
                threshold_match_probability=threshold, warning_mode="never"
            )
            wanted = ", ".join(f'"{c}"' for c in columns)
            relation = con.sql(f"SELECT {wanted} FROM {scored.physical_name}")
            fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
            return fetch()
        finally:
            con.close()
