"""The REST service behind `cxloop serve`: the FastAPI app, its routes and its access control.

Access control lives in `keys` (API keys in a small SQLite file beside the warehouse) and
`auth` (FastAPI dependencies that turn a key into a role and check it against a route).
"""
