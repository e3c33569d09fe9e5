"""Loading one contract file into the warehouse: stage, validate, keep rejects, merge.

Guarantees (docs/data-contract.md):
- good rows load, bad rows are rejected with file, line, column and reason, and kept;
- a file loads atomically: a failure or Ctrl-C mid-file leaves the warehouse as it was;
- loading is idempotent by the kind's key: a row identical to the stored one is a duplicate
  and changes nothing; a row with the same key and different content replaces the stored one
  (the later load wins, so corrected exports can be re-loaded); within one file the last row
  of a key wins.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cxloop.contract.files import REJECT_PREFIX, InputFile, extra_columns, map_header
from cxloop.contract.validation import RowValidator, SourceColumns
from cxloop.sql import ident

if TYPE_CHECKING:
    from cxloop.engines.duckdb_engine import DuckDBEngine, StagedFile

_names = itertools.count()


@dataclass(frozen=True)
class FileReport:
    """What happened to one file."""

    path: str
    kind: str
    rows: int
    loaded: int
    updated: int
    duplicates: int
    rejected: int
    ignored_columns: tuple[str, ...] = ()
    rejects_file: str | None = None
    first_reject: str | None = None
    # The `_loaded_at` stamped on the rows this load inserted (with `path` = `_file`, it
    # selects them: cxloop.reactions); not part of the report's JSON.
    loaded_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["ignored_columns"] = list(self.ignored_columns)
        del data["loaded_at"]
        return data


def load_file(
    engine: DuckDBEngine,
    input_file: InputFile,
    *,
    batch_id: str,
    rejects_dir: Path,
    index: int = 0,
    defaults: dict[str, str] | None = None,
    pending_reactions: Sequence[str] = (),
) -> FileReport:
    """Load one file; see the module docstring for the guarantees.

    `pending_reactions` names the post-ingest reactors (cxloop.reactions) that must see the
    rows this load inserts: their entries are queued in the load's own transaction, so a crash
    after the commit cannot lose a reaction.

    `index` numbers the file within its batch (it names the rejects file, so two files with
    the same name in one batch keep separate rejects); `defaults` fills columns the contract
    defaults from the workspace (currency).
    """
    started = datetime.now(UTC).replace(tzinfo=None)
    suffix = next(_names)
    stage_name = f"__stage_{suffix}"
    staged = engine.stage(input_file, stage_name)
    try:
        return _load_staged(
            engine,
            input_file,
            staged,
            batch_id,
            rejects_dir,
            started,
            suffix,
            index,
            defaults,
            pending_reactions,
        )
    finally:
        for table in (stage_name, f"{stage_name}_skips", f"__valid_{suffix}", f"__good_{suffix}"):
            engine.execute(f"DROP TABLE IF EXISTS {table}")


def _load_staged(
    engine: DuckDBEngine,
    input_file: InputFile,
    staged: StagedFile,
    batch_id: str,
    rejects_dir: Path,
    started: datetime,
    suffix: int,
    index: int,
    defaults: dict[str, str] | None,
    pending_reactions: Sequence[str],
) -> FileReport:
    kind = input_file.kind
    header = [h for h in staged.header if not h.lower().startswith(REJECT_PREFIX)]
    mapping = map_header(input_file, header)
    extras = extra_columns(input_file, header)
    ignored = tuple(extras) if kind.extras_column is None else ()
    source = SourceColumns(
        columns=staged.columns,
        types=staged.column_types,
        mapping=mapping,
        extras=extras if kind.extras_column else [],
        row_sql=staged.row_sql,
        line_sql=staged.line_sql,
        json_ok_sql="__json_ok" if "__json_ok" in _relation_columns(engine, staged) else None,
        json_values=staged.json_values,
    )
    validator = RowValidator(kind, source, defaults=defaults)
    valid, good = f"__valid_{suffix}", f"__good_{suffix}"
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {valid} AS {validator.select_sql(staged.relation)}"
    )
    path_text = str(input_file.path)
    key = ", ".join(ident(k) for k in kind.key)
    cols = [ident(c) for c in kind.column_names]
    col_list = ", ".join(cols)
    rows_valid, rejected = engine.fetchone(
        f"SELECT count(*), count(*) FILTER (WHERE _reasons <> '') FROM {valid}"
    )
    if rejected and staged.exact_lines_needed:
        _fix_reject_lines(engine, input_file, staged, valid)
    # Keys repeated within the file: few, so kept in a small table; the last row wins.
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {good} AS SELECT {key}, max(_row) AS _keep, "
        f"count(*) - 1 AS _extra FROM {valid} WHERE _reasons = '' AND _key_hash IN ("
        f"SELECT _key_hash FROM {valid} WHERE _reasons = '' "
        f"GROUP BY _key_hash HAVING count(*) > 1) "
        f"GROUP BY {key} HAVING count(*) > 1"
    )
    repeated_rows = int(engine.scalar(f"SELECT coalesce(sum(_extra), 0) FROM {good}"))
    unreadable = len(staged.unreadable)
    target = ident(kind.name)
    join = " AND ".join(f"t.{ident(k)} = g.{ident(k)}" for k in kind.key)
    if repeated_rows:
        dup_join = " AND ".join(f"v.{ident(k)} = d.{ident(k)}" for k in kind.key)
        source_rows = (
            f"(SELECT v.* FROM {valid} v ANTI JOIN {good} d ON {dup_join} AND v._row <> d._keep "
            "WHERE v._reasons = '')"
        )
    else:
        source_rows = f"(SELECT * FROM {valid} WHERE _reasons = '')"
    with engine.transaction():
        good_rows = rows_valid - rejected
        kept = good_rows - repeated_rows
        in_file_duplicates = good_rows - kept
        target_empty = engine.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {target} LIMIT 1)") == 0
        unchanged = changed = 0
        if not target_empty:
            unchanged, changed = engine.fetchone(
                f"SELECT count(*) FILTER (WHERE t._hash = g._hash), "
                f"count(*) FILTER (WHERE t._hash <> g._hash) "
                f"FROM {target} t JOIN {source_rows} g ON {join}"
            )
        if changed:
            engine.execute(
                f"DELETE FROM {target} t USING {source_rows} g WHERE {join} AND t._hash <> g._hash"
            )
        anti = "" if target_empty else f" ANTI JOIN {target} t ON {join}"
        engine.execute(
            f"INSERT INTO {target} ({col_list}, _file, _row, _loaded_at, _hash) "
            f"SELECT {', '.join('g.' + c for c in cols)}, ?, g._row, ?, g._hash "
            f"FROM {source_rows} g{anti}",
            [path_text, started],
        )
        if rejected or unreadable:
            _record_rejects(engine, input_file, staged, valid, batch_id)
        finished = datetime.now(UTC).replace(tzinfo=None)
        report = FileReport(
            path=path_text,
            kind=kind.name,
            rows=rows_valid + unreadable,
            loaded=kept - unchanged - changed,
            updated=changed,
            duplicates=in_file_duplicates + unchanged,
            rejected=rejected + unreadable,
            ignored_columns=ignored,
            loaded_at=started,
        )
        if report.loaded or report.updated:
            for reactor in pending_reactions:
                engine.execute(
                    "INSERT INTO reaction_backlog VALUES (?, ?, ?, ?, NULL, ?)",
                    [reactor, kind.name, path_text, started, finished],
                )
            # Analyses cached on the data version see the change as soon as it commits.
            engine.execute(
                "INSERT OR REPLACE INTO meta VALUES ('data_version', "
                "CAST(coalesce((SELECT CAST(value AS BIGINT) FROM meta "
                "WHERE key = 'data_version'), 0) + 1 AS VARCHAR))"
            )
        engine.execute(
            "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id,
                path_text,
                kind.name,
                report.rows,
                report.loaded,
                report.updated,
                report.duplicates,
                report.rejected,
                started,
                finished,
            ],
        )
    if report.rejected:
        rejects_file, first = _write_rejects_file(
            engine, input_file, header, batch_id, rejects_dir, index
        )
        report = FileReport(
            **{**asdict(report), "rejects_file": rejects_file, "first_reject": first}
        )
    return report


def _fix_reject_lines(
    engine: DuckDBEngine, input_file: InputFile, staged: StagedFile, valid: str
) -> None:
    """Give rejected CSV rows their exact physical line (blank lines and quoted values that
    span lines make it differ from the row number)."""
    from cxloop.engines.duckdb_engine import exact_csv_lines

    rows = [r[0] for r in engine.fetchall(f"SELECT _row FROM {valid} WHERE _reasons <> ''")]
    lines = exact_csv_lines(input_file, rows, [u[0] for u in staged.unreadable])
    if not lines:
        return
    engine.execute("CREATE OR REPLACE TEMP TABLE __reject_lines (r BIGINT, line BIGINT)")
    engine.con.executemany("INSERT INTO __reject_lines VALUES (?, ?)", list(lines.items()))
    engine.execute(f"UPDATE {valid} SET _line = m.line FROM __reject_lines m WHERE _row = m.r")
    engine.execute("DROP TABLE __reject_lines")


def _relation_columns(engine: DuckDBEngine, staged: StagedFile) -> set[str]:
    if not staged.is_temporary:
        return set()
    return set(engine.columns_of(staged.relation))


def _record_rejects(
    engine: DuckDBEngine, input_file: InputFile, staged: StagedFile, valid: str, batch_id: str
) -> None:
    """Keep every rejected row, with its original values, inside the same transaction."""
    path_text, kind = str(input_file.path), input_file.kind.name
    rel = staged.relation
    engine.execute(
        f"INSERT INTO ingest_rejects SELECT ?, ?, ?, v._line, v._row, "
        f"split_part(v._reasons, ':', 1), v._reasons, {staged.record_sql}, {staged.raw_sql} "
        f"FROM {valid} v JOIN (SELECT {staged.row_sql} AS __r, * FROM {rel}) s "
        f"ON s.__r = v._row WHERE v._reasons <> ''",
        [batch_id, path_text, kind],
    )
    if staged.unreadable:
        engine.con.executemany(
            "INSERT INTO ingest_rejects VALUES (?, ?, ?, ?, NULL, NULL, ?, NULL, ?)",
            [(batch_id, path_text, kind, line, why, raw) for line, why, raw in staged.unreadable],
        )


def _write_rejects_file(
    engine: DuckDBEngine,
    input_file: InputFile,
    header: list[str],
    batch_id: str,
    rejects_dir: Path,
    index: int,
) -> tuple[str, str]:
    """A CSV with the rejected rows' original columns and why; fix it and load it again."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    stem = input_file.path.name.split(".")[0]
    out = rejects_dir / f"{stem}.{batch_id}-{index + 1}.rejected.csv"
    cols = ", ".join(
        f"CAST(json_extract_string(record, {_json_path(h)}) AS VARCHAR) AS {ident(h)}"
        for h in header
    )
    engine.write_csv(
        f'SELECT {cols}, line AS _reject_line, "column" AS _reject_column, '
        f"reason AS _reject_reason, raw AS _reject_raw FROM ingest_rejects "
        f'WHERE batch_id = ? AND path = ? ORDER BY coalesce(line, "row")',
        out,
        [batch_id, str(input_file.path)],
    )
    first = engine.fetchone(
        "SELECT line, reason FROM ingest_rejects WHERE batch_id = ? AND path = ? "
        'ORDER BY coalesce(line, "row") LIMIT 1',
        [batch_id, str(input_file.path)],
    )
    first_text = f"line {first[0]}: {first[1]}" if first else ""
    return str(out), first_text


def _json_path(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"').replace("'", "''")
    return f"'$.\"{escaped}\"'"
