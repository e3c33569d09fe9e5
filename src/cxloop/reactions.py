"""Post-ingest reactions: the programs act on data the moment it is loaded.

A completed order earns points, a public review is rewarded, a detractor's answer opens a case,
a trigger fires: these happen when the rows arrive (CLI `ingest` and the API's loads alike, both
go through `Workspace.ingest`), not in a nightly batch.

The contract between the warehouse and a reactor:

- A reactor is a function `react(ws, loaded) -> dict` registered in `REACTORS` by a
  "module:function" path (so loading data never imports a program that is not used). It is
  called after the files of one `ingest` call have committed, with the `LoadedRows` of every
  file that inserted or changed rows; it selects them with `LoadedRows.predicate`. The dict it
  returns is a short summary shown in the ingest report (counts, never personal data).
- A reactor must be idempotent per source record: the same rows offered twice (a re-run, a
  changed row re-loaded) produce each effect once (idempotency keys, unique constraints).
- A reactor must decide for itself whether it is enabled (its section of `cxloop.toml`) and
  return quickly when it is not.
- Nothing is lost between the load and its reactions: the loader queues one entry per
  reactor in `reaction_backlog` in the load's own transaction; a reactor's entries are
  deleted only after it succeeded on them. A crash after the commit, or a reactor's failure
  (recorded on its entries, reported in the ingest report, never turning a successful load
  into an error), leaves the entries queued: they are offered again on the next ingest, or
  on demand by `retry_backlog`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

log = logging.getLogger(__name__)

# (name, "module:function"), run in this order. Programs add their line here.
REACTORS: tuple[tuple[str, str], ...] = (
    ("advocacy", "cxloop.programs.advocacy.reactions:react"),
    ("triggers", "cxloop.programs.triggers.reactions:react"),
)

Reactor = Callable[["Workspace", Sequence["LoadedRows"]], dict[str, Any] | None]


@dataclass(frozen=True)
class LoadedRows:
    """The rows of one kind that one file load inserted or changed.

    `path` and `loaded_at` are the provenance columns `_file` and `_loaded_at` the loader
    wrote; `None` for both means every stored row of the kind (a catch-up).
    """

    kind: str
    path: str | None = None
    loaded_at: datetime | None = None

    @property
    def predicate(self) -> tuple[str, list[Any]]:
        """A SQL condition over the kind's table (unqualified columns) and its parameters."""
        if self.path is None or self.loaded_at is None:
            return "TRUE", []
        return "_file = ? AND _loaded_at = ?", [self.path, self.loaded_at]

    @classmethod
    def everything(cls, kind: str) -> LoadedRows:
        """All stored rows of a kind, for a reactor's catch-up command."""
        return cls(kind)


@dataclass(frozen=True)
class ReactionOutcome:
    """What one reactor did with one ingest call's rows."""

    name: str
    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "summary": self.summary, "error": self.error}


def reactor_names() -> list[str]:
    """The registered reactors, in order (the loader queues an entry for each)."""
    return [name for name, _ in REACTORS]


def run_reactions(
    ws: Workspace,
    extra: Sequence[LoadedRows] = (),
    *,
    reactors: Sequence[tuple[str, str]] | None = None,
) -> list[ReactionOutcome]:
    """Offer every reactor its queued rows (and `extra`, e.g. a catch-up); settle the queue.

    On success exactly the entries offered are removed (an entry queued meanwhile stays); on
    failure they stay, with the error, and `extra` is queued too.
    """
    outcomes: list[ReactionOutcome] = []
    for name, target in REACTORS if reactors is None else reactors:
        queued = _backlog(ws, name)
        offered = _unique([*queued, *extra])
        if not offered:
            continue
        outcome = _run_one(ws, name, target, offered)
        outcomes.append(outcome)
        now = datetime.now(UTC).replace(tzinfo=None)
        with ws.engine.transaction():
            for rows in queued:
                condition = (
                    "reactor = ? AND kind = ? AND path IS NOT DISTINCT FROM ? "
                    "AND loaded_at IS NOT DISTINCT FROM ?"
                )
                params = [name, rows.kind, rows.path, rows.loaded_at]
                if outcome.ok:
                    ws.engine.execute(f"DELETE FROM reaction_backlog WHERE {condition}", params)
                else:
                    ws.engine.execute(
                        f"UPDATE reaction_backlog SET error = ?, recorded_at = ? WHERE {condition}",
                        [outcome.error, now, *params],
                    )
            if not outcome.ok:
                for rows in extra:
                    if rows not in queued:
                        ws.engine.execute(
                            "INSERT INTO reaction_backlog VALUES (?, ?, ?, ?, ?, ?)",
                            [name, rows.kind, rows.path, rows.loaded_at, outcome.error, now],
                        )
        if not outcome.ok:
            log.warning("reactor %s failed (%s); its rows stay queued", name, outcome.error)
    return outcomes


def retry_backlog(ws: Workspace) -> list[ReactionOutcome]:
    """Offer the queued rows again without loading anything (e.g. after a fix)."""
    return run_reactions(ws)


def _run_one(ws: Workspace, name: str, target: str, offered: list[LoadedRows]) -> ReactionOutcome:
    try:
        reactor = _resolve(target)
        summary = reactor(ws, offered) or {}
    except CxloopError as exc:
        return ReactionOutcome(name, ok=False, error=str(exc))
    except Exception as exc:  # a reactor bug must not turn a committed load into a crash
        log.exception("reactor %s failed", name)
        return ReactionOutcome(name, ok=False, error=f"internal error ({type(exc).__name__})")
    return ReactionOutcome(name, ok=True, summary=summary)


def _resolve(target: str) -> Reactor:
    module_name, _, attribute = target.partition(":")
    reactor: Reactor = getattr(importlib.import_module(module_name), attribute)
    return reactor


def _backlog(ws: Workspace, name: str) -> list[LoadedRows]:
    rows = ws.engine.fetchall(
        "SELECT DISTINCT kind, path, loaded_at FROM reaction_backlog WHERE reactor = ? "
        "ORDER BY loaded_at NULLS FIRST, kind, path",
        [name],
    )
    return [LoadedRows(kind, path, loaded_at) for kind, path, loaded_at in rows]


def _unique(rows: list[LoadedRows]) -> list[LoadedRows]:
    """Drop repeats; a catch-up entry of a kind makes that kind's file entries redundant."""
    everything = {r.kind for r in rows if r.path is None}
    seen: set[LoadedRows] = set()
    result: list[LoadedRows] = []
    for r in rows:
        if (r.path is not None and r.kind in everything) or r in seen:
            continue
        seen.add(r)
        result.append(r)
    return result
