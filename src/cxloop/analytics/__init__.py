"""Analytics: table in, table out, computed in the engine; statistics in numpy/scipy."""
