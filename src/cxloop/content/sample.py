"""Load the generator's content files into a workspace (what `cxloop demo` does).

The content views and the onboarding survey are ordinary events and feedback; the asset
catalogue goes to the programs' store, where operators keep it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def load_sample_content(ws: Workspace, files: dict[str, Path]) -> dict[str, Any]:
    """Ingest `files["events"]` and `files["feedback"]`, load `files["assets"]`."""
    from cxloop.content.files import read_catalogue
    from cxloop.programs.content import ContentCatalogue
    from cxloop.programs.store import ProgramStore

    if not files:
        return {}
    report = ws.ingest([files["events"], files["feedback"]])
    rows = read_catalogue(files["assets"], timezone=ws.config.locale.timezone)
    url = ws.config.programs.database_url or None
    with ProgramStore.open(ws.path, url, pool_size=1) as store:
        loaded = ContentCatalogue(store).load(rows, actor="demo", source=str(files["assets"]))
    return {
        "content_rows_loaded": report.loaded,
        "content_rows_rejected": report.rejected,
        "assets": loaded.created + loaded.updated + loaded.unchanged,
    }
