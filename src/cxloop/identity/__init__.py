"""Identity resolution: joining source records into unified customer profiles.

Deterministic rules today (`rules.py`); probabilistic matching (name, date of birth, address)
adds edges to the same graph later, so clustering and profile ids do not change shape.
"""
