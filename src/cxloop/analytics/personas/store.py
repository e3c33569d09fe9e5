"""Each customer's persona kept in the workspace, and the export written from it.

`persona_assignments` holds one row per customer (persona, label, probability, acquisition
period, features in original units), stamped in `meta` with the data version and the model it
was assigned by. Other analyses can break figures down by persona from it; the export writes
it as it is while it is current, and assigns the customers again when it is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from cxloop.analytics.export import check_export_path
from cxloop.analytics.personas import assign, model
from cxloop.analytics.personas.assign import Snapshot
from cxloop.analytics.personas.settings import PersonasSettings

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

ASSIGNMENTS_TABLE = "persona_assignments"
_STAMP_KEY = "persona_assignments_version"
_NEW = "__personas_new"


def customer_table(m: model.PersonaModel, now: Snapshot) -> pa.Table:
    """One row per customer: persona, label, probability, acquisition period, features."""
    columns: dict[str, pa.Array] = {
        "profile_id": pa.array(now.counts.profile_ids, pa.string()),
        "persona": pa.array(now.persona + 1, pa.int32()),
        "label": pa.array(np.asarray(m.labels, dtype=object)[now.persona], pa.string()),
        "probability": pa.array(now.probability, pa.float64()),
        "acquired": pa.array(now.counts.acquired, pa.date32()),
    }
    for i, name in enumerate(m.spec.names):
        columns[name] = pa.array(now.raw[:, i], pa.float64())
    return pa.table(columns)


def stamp(ws: Workspace, fitted_at: str, data_version: int | None = None) -> str:
    """What stored assignments were made from: the data, the profiles build (it holds the
    profile ids) and the model. `data_version`: the version read before the data was (a
    load committed meanwhile by another connection then makes the assignments stale)."""
    build = ws.engine.scalar("SELECT value FROM meta WHERE key = 'profiles_build'")
    version = ws.data_version if data_version is None else data_version
    return f"{version}:{build}:{fitted_at}"


def store_assignments(
    ws: Workspace, m: model.PersonaModel, now: Snapshot, data_version: int | None = None
) -> None:
    """Keep each customer's persona and features in the workspace (`persona_assignments`),
    stamped with the data version and the model, so other analyses can break figures down
    by persona and the export can be written without computing anything again."""
    e = ws.engine
    e.register(_NEW, customer_table(m, now))
    try:
        with e.transaction():
            e.execute(f"CREATE OR REPLACE TABLE {ASSIGNMENTS_TABLE} AS SELECT * FROM {_NEW}")
            e.execute("DELETE FROM meta WHERE key = ?", [_STAMP_KEY])
            e.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [_STAMP_KEY, stamp(ws, m.fitted_at, data_version)],
            )
    finally:
        e.unregister(_NEW)


def export_personas(ws: Workspace, path: Path) -> int:
    """One row per customer: persona, label, probability, acquisition period and features in
    original units, as assigned by the saved model (one is fitted when there is none). The
    rows stored by the last `build_personas` are written as they are when they are current
    (same data, same model); otherwise the customers are assigned again."""
    path = check_export_path(path)
    settings = PersonasSettings.from_config(ws)
    ws.profiles.ensure_current()
    saved, _ = model.load_model(ws.path)
    current = (
        saved is not None
        and assign.refit_reason(settings, saved, None) is None
        and ws.engine.table_exists(ASSIGNMENTS_TABLE)
        and ws.engine.scalar("SELECT value FROM meta WHERE key = ?", [_STAMP_KEY])
        == stamp(ws, saved.fitted_at)
    )
    if not current:
        version = ws.data_version
        run = assign.prepare(ws, settings, snapshot=False)
        if run is None or run.model is None:
            empty = pa.table(
                {
                    "profile_id": pa.array([], pa.string()),
                    "persona": pa.array([], pa.int32()),
                    "label": pa.array([], pa.string()),
                    "probability": pa.array([], pa.float64()),
                }
            )
            ws.engine.register(_NEW, empty)
            try:
                ws.engine.write(f"SELECT * FROM {_NEW}", path)
            finally:
                ws.engine.unregister(_NEW)
            return 0
        store_assignments(ws, run.model, run.now, version)
    ws.engine.write(f"SELECT * FROM {ASSIGNMENTS_TABLE} ORDER BY profile_id", path)
    return int(ws.engine.scalar(f"SELECT count(*) FROM {ASSIGNMENTS_TABLE}"))
