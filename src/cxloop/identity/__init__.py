"""Identity resolution: joining source records into unified customer profiles.

Deterministic rules (same email, same phone, an anonymous id seen with a customer: `graph.py`)
and, when switched on, probabilistic matching (`matching/`, a Fellegi–Sunter model run by
Splink) add edges to one identity graph; profiles are its connected components.
"""
