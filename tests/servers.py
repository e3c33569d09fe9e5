"""A real cxloop server for tests: uvicorn on a free local port, one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from cxloop.service.keys import KeyStore
from cxloop.service.server import background_server


class Server(NamedTuple):
    base_url: str
    admin: str
    analyst: str
    ingest: str
    operator: str


@contextmanager
def running_server(workspace: Path) -> Iterator[Server]:
    """Serve `workspace` (which must exist) with a fresh key for each role."""
    store = KeyStore(workspace)
    secrets = {
        role: store.create(role, name=f"test {role}").secret
        for role in ("admin", "analyst", "ingest", "operator")
    }
    with background_server(workspace) as base_url:
        yield Server(base_url, **secrets)
