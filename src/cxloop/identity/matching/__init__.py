"""Probabilistic identity resolution: a Fellegi–Sunter model (Splink) beside the rules.

`model.py` says what is compared and how the model is trained; `matcher.py` scores the
records of a profile build and classifies the pairs (merge, clerical review); the Splink
backend of each engine lives with the engines (`cxloop.engines.splink_duckdb`). Accepted
pairs become identity-graph edges with the rule `probabilistic`, so clustering, profile ids
and explanations keep one shape.
"""
