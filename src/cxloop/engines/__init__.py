"""Engines: the only code that knows a particular database (DuckDB; Spark in `spark_engine`)."""
