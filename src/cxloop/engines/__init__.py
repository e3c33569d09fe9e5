"""Engines: the only code that knows a particular database (DuckDB today, Spark later)."""
