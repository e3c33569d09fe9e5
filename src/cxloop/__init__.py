"""cxloop: measure and run the customer-experience loop (Buy, Own, Advocate, Buy again).

The library is the product; the CLI, the REST API and the report are thin layers over it::

    import cxloop
    ws = cxloop.Workspace.init("shop-ws", brand="Northwind")
    ws.ingest(["customers.csv", "orders.csv"])
    ws.profiles.build()

The analyses run on another engine through `analytics_workspace(ws, "spark")` (docs/scale.md).
"""

from __future__ import annotations

from cxloop.config import WorkspaceConfig
from cxloop.engines.lake_workspace import analytics_workspace
from cxloop.errors import CxloopError, InputFileError, WorkspaceBusyError, WorkspaceError
from cxloop.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "CxloopError",
    "InputFileError",
    "Workspace",
    "WorkspaceBusyError",
    "WorkspaceConfig",
    "WorkspaceError",
    "__version__",
    "analytics_workspace",
]
