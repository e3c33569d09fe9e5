"""Running the service: `cxloop serve` in the foreground, or a server thread for tests.

uvicorn's access log is off: it prints raw paths, and a path can hold an email or a
customer id. The service's own access log (`cxloop.access`) prints route templates only.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from cxloop.errors import CxloopError
from cxloop.service.app import create_app


def _log_config() -> dict[str, object]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": sys.stderr}
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO"},
            "cxloop": {"handlers": ["stderr"], "level": "INFO"},
        },
    }


def config_for(
    workspace: Path | str, host: str, port: int, *, quiet: bool = False
) -> uvicorn.Config:
    """A uvicorn configuration serving one workspace."""
    return uvicorn.Config(
        create_app(workspace),
        host=host,
        port=port,
        access_log=False,
        log_config=None if quiet else _log_config(),
        log_level="warning" if quiet else "info",
        timeout_graceful_shutdown=10,
    )


def serve(workspace: Path | str, host: str, port: int) -> None:
    """Serve until interrupted; the workspace is closed cleanly on Ctrl-C."""
    server = uvicorn.Server(config_for(workspace, host, port))
    server.run()
    if not server.started:
        raise CxloopError(f"could not serve on {host}:{port} (see the messages above)")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def background_server(
    workspace: Path | str, *, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[str]:
    """A real server (uvicorn, real sockets) in a thread; yields its base URL.

    For tests and benchmarks: the same stack as `cxloop serve`, stopped and the workspace
    closed when the block ends.
    """
    port = port or free_port(host)
    logging.getLogger("cxloop.access").setLevel(logging.WARNING)
    server = uvicorn.Server(config_for(workspace, host, port, quiet=True))
    thread = threading.Thread(target=server.run, name="cxloop-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CxloopError(f"the server on {host}:{port} did not start")
        time.sleep(0.02)
    app = server.config.app
    while not getattr(getattr(app, "state", None), "service", None) or not (
        app.state.service.writer.ready.is_set()
    ):  # the journal of an earlier run is loaded before anyone is served
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CxloopError(f"the server on {host}:{port} did not become ready")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
