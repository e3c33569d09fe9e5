"""The embedded DuckDB engine: connection, transactions, and reading contract files.

DuckDB is the default engine because it needs nothing running: the workspace is a file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from cxloop.config import EngineSettings
from cxloop.contract.files import FileFormat, InputFile
from cxloop.errors import InputFileError, WorkspaceBusyError
from cxloop.sql import ident

# A delimiter that cannot occur in valid JSON text (control characters must be escaped there),
# so reading a JSON Lines file "as CSV" yields one column holding each line.
_JSONL_DELIMITER = "\x1f"


@dataclass(frozen=True)
class StagedFile:
    """A file read into the engine: where its rows are and how to address them.

    `columns` maps the file's header names to SQL expressions over `relation`; `row_sql` and
    `line_sql` give each row's 1-based data row number and line number in the file.
    """

    relation: str
    header: list[str]
    columns: dict[str, str]
    column_types: dict[str, str]
    row_sql: str
    line_sql: str
    # Lines the reader itself could not parse: (line, reason, raw text).
    unreadable: list[tuple[int, str, str]]
    is_temporary: bool = True
    # SQL over the staged row aliased `s`: the original record as JSON, and its raw text.
    record_sql: str = "to_json(s)"
    raw_sql: str = "NULL"
    # CSV: line_sql is a guess; rejects get exact physical lines from `exact_lines`.
    exact_lines_needed: bool = False
    # File columns whose values have a JSON type of their own (JSON Lines values, typed
    # Parquet columns): SQL giving them as JSON, so extras keep numbers, lists and objects.
    json_values: dict[str, str] = field(default_factory=dict)


class DuckDBEngine:
    """A DuckDB connection configured for a workspace."""

    dialect = "duckdb"

    def __init__(self, database: Path | str, settings: EngineSettings, timezone: str) -> None:
        try:
            self.con = duckdb.connect(str(database))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WorkspaceBusyError(
                    f"{database}: the workspace is in use by another process; try again"
                ) from exc
            raise
        # DuckDB draws its own progress bar on stdout for long queries: it would corrupt
        # `--json` documents. cxloop shows progress itself, on stderr.
        self.settings = settings
        self.timezone = timezone
        self._configure()
        # Symlinks made for files whose names the readers would take as glob patterns.
        self._links: list[Path] = []

    def _configure(self) -> None:
        self.con.execute("SET enable_progress_bar = false")
        if self.settings.threads:
            self.con.execute(f"SET threads = {int(self.settings.threads)}")
        if self.settings.memory_limit:
            limit = _memory_limit(self.settings.memory_limit)
            self.con.execute(f"SET memory_limit = '{limit}'")
        self.con.execute(f"SET TimeZone = '{_timezone(self.timezone)}'")

    def cursor(self) -> DuckDBEngine:
        """A second connection to the same open database, with its own transactions and
        temporary tables: in one process, one connection can read (run analyses) while
        another writes, each seeing committed data (DuckDB's MVCC)."""
        other = object.__new__(DuckDBEngine)
        other.con = self.con.cursor()
        other.settings = self.settings
        other.timezone = self.timezone
        other._links = []
        other._configure()
        return other

    # -- basics ---------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list:
        return self.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        # Fetch to the end: DuckDB 2 keeps a half-read result open on the connection and
        # refuses other work (relations, Arrow results) until it is finished.
        rows = self.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def arrow(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        """The result as a pyarrow Table, without the extra copy of a DB-API cursor (DuckDB 2
        renamed `arrow()` to `to_arrow_table()`)."""
        relation = self.con.sql(sql, params=params)
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
        return fetch()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    def table_exists(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
            )
        )

    def columns_of(self, relation: str) -> dict[str, str]:
        rows = self.fetchall(f"DESCRIBE SELECT * FROM {relation}")
        return {r[0]: r[1] for r in rows}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together, or none does (Ctrl-C included)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def register(self, name: str, table: Any) -> None:
        """Make an Arrow table (computed in Python) readable as `name` (no copy)."""
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def write(self, sql: str, path: Path, params: Sequence[Any] | None = None) -> None:
        """Write a query's result to CSV (with a header) or Parquet, by the path's suffix."""
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        if path.suffix.lower() == ".parquet":
            rel.write_parquet(str(path))
        else:
            rel.write_csv(str(path), header=True)

    def write_csv(self, sql: str, path: Path, params: Sequence[Any] | None = None) -> None:
        """Write a query's result to a CSV file (header row, RFC 4180 quoting)."""
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        rel.write_csv(str(path), header=True)

    # -- reading contract files -------------------------------------------------------------
    def stage(self, input_file: InputFile, name: str) -> StagedFile:
        """Read a file into a temporary table (CSV, JSON Lines) or address it in place
        (Parquet), without type conversion: validation happens afterwards, in SQL."""
        readable = _glob_safe(input_file, self._links)
        try:
            if input_file.format is FileFormat.CSV:
                return self._stage_csv(input_file, readable, name)
            if input_file.format is FileFormat.JSONL:
                return self._stage_jsonl(input_file, readable, name)
            return self._stage_parquet(input_file, readable)
        except duckdb.Error as exc:
            raise InputFileError(f"{input_file.path}: cannot read: {_first_line(exc)}") from exc

    def peek_header(self, input_file: InputFile) -> list[str] | None:
        """The column names of a CSV or Parquet file without reading its rows (None for JSON
        Lines, whose keys are only known after a scan)."""
        if input_file.format is FileFormat.CSV:
            return self._read_first_line_header(input_file)
        if input_file.format is FileFormat.PARQUET:
            readable = _glob_safe(input_file, self._links)
            try:
                return [
                    r[0]
                    for r in self.fetchall(
                        "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                        [str(readable)],
                    )
                ]
            except duckdb.Error as exc:
                raise InputFileError(f"{input_file.path}: cannot read: {_first_line(exc)}") from exc
        return None

    def _csv_args(self, input_file: InputFile) -> str:
        compression = "gzip" if input_file.gzipped else "none"
        return (
            f"header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', "
            f"compression = '{compression}', auto_detect = false"
        )

    def _stage_csv(self, input_file: InputFile, readable: Path, name: str) -> StagedFile:
        header = self._read_first_line_header(input_file)
        # Positional names: a header may repeat a name or use one the engine reserves (rowid).
        columns_arg = "{" + ", ".join(f"'__c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
        errors_table, scans_table = f"{name}_errors", f"{name}_scans"
        self.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_csv(?, "
            f"{self._csv_args(input_file)}, columns = {columns_arg}, store_rejects = true, "
            f"rejects_table = '{errors_table}', rejects_scan = '{scans_table}', "
            "null_padding = false, max_line_size = 10000000)",
            [str(readable)],
        )
        unreadable = self._unreadable_lines(errors_table, input_file)
        self.execute(f"DROP TABLE IF EXISTS {errors_table}")
        self.execute(f"DROP TABLE IF EXISTS {scans_table}")
        cols = {h: f"__c{i}" for i, h in enumerate(header)}
        record_sql = (
            "json_object(" + ", ".join(f"'{_sq(h)}', s.__c{i}" for i, h in enumerate(header)) + ")"
        )
        return StagedFile(
            relation=name,
            header=header,
            columns=cols,
            column_types={h: "VARCHAR" for h in header},
            row_sql="(rowid + 1)",
            # A first guess (exact without blank lines or values spanning lines); the loader
            # replaces it with the exact physical line for every rejected row.
            line_sql="(rowid + 2)",
            unreadable=unreadable,
            record_sql=record_sql,
            exact_lines_needed=True,
        )

    def _unreadable_lines(
        self, errors_table: str, input_file: InputFile
    ) -> list[tuple[int, str, str]]:
        """One entry per line the reader refused (it may report several errors per line),
        with the physical line number computed from the error's byte position."""
        rows = self.fetchall(
            f"SELECT line_byte_position, error_type, error_message, csv_line FROM {errors_table} "
            "ORDER BY line_byte_position, "
            "CASE WHEN error_type ILIKE '%ENCODING%' THEN 0 ELSE 1 END"
        )
        if not rows:
            return []
        lines = _lines_at_offsets(input_file, sorted({int(r[0]) for r in rows}))
        seen: dict[int, tuple[int, str, str]] = {}
        for offset, kind, msg, raw in rows:
            line = lines[int(offset)]
            seen.setdefault(line, (line, _reader_reason(kind, msg), raw or ""))
        return list(seen.values())

    def _read_first_line_header(self, input_file: InputFile) -> list[str]:
        import csv
        import gzip
        import io

        opener = gzip.open if input_file.gzipped else open
        try:
            with opener(input_file.path, "rb") as fh:  # type: ignore[operator]
                first = fh.readline()
        except (OSError, EOFError) as exc:
            raise InputFileError(f"{input_file.path}: cannot read ({exc})") from exc
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{input_file.path}: line 1 (header) is not valid UTF-8 at byte {exc.start}"
            ) from exc
        if not text.strip():
            raise InputFileError(f"{input_file.path}: line 1 is empty (expected a header row)")
        header = [h.strip() for h in next(csv.reader(io.StringIO(text)))]
        # A trailing comma makes an empty name; give it one so it can be kept and shown.
        return [h or f"column_{i + 1}" for i, h in enumerate(header)]

    def _stage_jsonl(self, input_file: InputFile, readable: Path, name: str) -> StagedFile:
        compression = "gzip" if input_file.gzipped else "none"
        errors_table, scans_table = f"{name}_errors", f"{name}_scans"
        self.execute(
            f"CREATE OR REPLACE TEMP TABLE {name}_lines AS SELECT line FROM read_csv(?, "
            f"columns = {{'line': 'VARCHAR'}}, header = false, delim = '{_JSONL_DELIMITER}', "
            f"quote = '', escape = '', compression = '{compression}', auto_detect = false, "
            f"store_rejects = true, rejects_table = '{errors_table}', "
            f"rejects_scan = '{scans_table}', max_line_size = 10000000)",
            [str(readable)],
        )
        unreadable = self._unreadable_lines(errors_table, input_file)
        self.execute(f"DROP TABLE IF EXISTS {errors_table}")
        self.execute(f"DROP TABLE IF EXISTS {scans_table}")
        # Row k of the lines read sits on physical line k + 1, shifted by every refused line
        # before it (blank lines are kept as empty rows, so they do not shift anything).
        skips = f"{name}_skips"
        self.execute(f"CREATE OR REPLACE TEMP TABLE {skips} (good_before BIGINT, n BIGINT)")
        if unreadable:
            self.con.executemany(
                f"INSERT INTO {skips} VALUES (?, ?)",
                [(line - 1 - i, i + 1) for i, (line, _, _) in enumerate(unreadable)],
            )
        # Blank lines are allowed (and skipped); lines that are not a JSON object are rejected
        # by validation through the `__json_ok` column.
        self.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT rowid + 1 + coalesce("
            f"(SELECT max(n) FROM {skips} k WHERE k.good_before <= l.rowid), 0) AS __line, "
            f"line, coalesce(CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' END, "
            f"false) AS __json_ok FROM {name}_lines l "
            f"WHERE line IS NOT NULL AND trim(line) <> ''"
        )
        self.execute(f"DROP TABLE {name}_lines")
        keys = [
            r[0]
            for r in self.fetchall(
                f"SELECT DISTINCT unnest(json_keys(line)) AS k FROM {name} WHERE __json_ok "
                "ORDER BY k"
            )
            if r[0] and r[0].strip()
        ]
        # Keys are case-insensitive: "event_id" on one line and "Event_ID" on another are the
        # same column, read from whichever the line has.
        variants: dict[str, list[str]] = {}
        for k in keys:
            variants.setdefault(k.strip().lower(), []).append(k)
        cols = {
            group[0]: "coalesce(" + ", ".join(_json_value(k) for k in group) + ")"
            if len(group) > 1
            else _json_value(group[0])
            for group in variants.values()
        }
        json_values = {
            group[0]: "coalesce("
            + ", ".join(
                f"CASE WHEN __json_ok THEN json_extract(line, '$.\"{_jq(k)}\"') END" for k in group
            )
            + ")"
            for group in variants.values()
        }
        return StagedFile(
            relation=name,
            header=list(cols),
            columns=cols,
            json_values=json_values,
            column_types={k: "VARCHAR" for k in cols},
            row_sql="__line",
            line_sql="__line",
            unreadable=unreadable,
            record_sql="CASE WHEN s.__json_ok THEN CAST(s.line AS JSON) END",
            raw_sql="s.line",
        )

    def _stage_parquet(self, input_file: InputFile, readable: Path) -> StagedFile:
        types = {
            n: t
            for n, t in self.fetchall(
                "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                [str(readable)],
            )
        }
        if "file_row_number" in {n.lower() for n in types}:
            raise InputFileError(
                f"{input_file.path}: has a column named file_row_number, a name the Parquet "
                "reader reserves; rename it"
            )
        relation = f"read_parquet('{_sq(str(readable))}', file_row_number = true)"
        return StagedFile(
            relation=relation,
            header=list(types),
            columns={h: ident(h) for h in types},
            json_values={h: f"to_json({ident(h)})" for h, t in types.items() if t != "VARCHAR"},
            column_types=types,
            row_sql="(file_row_number + 1)",
            line_sql="(file_row_number + 1)",
            unreadable=[],
            is_temporary=False,
        )

    def close(self) -> None:
        for link in self._links:
            link.unlink(missing_ok=True)
        self._links.clear()
        self.con.close()


def _json_value(key: str) -> str:
    """SQL: the value of `key` in a JSON Lines row as text (objects and arrays as JSON)."""
    path = f"'$.\"{_jq(key)}\"'"
    return (
        f"CASE WHEN NOT __json_ok THEN NULL ELSE CASE json_type(line, {path}) "
        f"WHEN 'OBJECT' THEN json_extract(line, {path})::VARCHAR "
        f"WHEN 'ARRAY' THEN json_extract(line, {path})::VARCHAR "
        f"ELSE json_extract_string(line, {path}) END END"
    )


_GLOB_CHARS = set("*?[]{}")


def _glob_safe(input_file: InputFile, links: list[Path]) -> Path:
    """A path the readers take literally.

    DuckDB's readers expand `*`, `?` and `[...]` in file names; a file literally named
    `customers[1].csv` would read `customers1.csv` instead. Such a file is read through a
    symlink with a plain name.
    """
    path = input_file.path
    if not (_GLOB_CHARS & set(str(path))):
        return path
    import tempfile

    suffix = "".join(path.suffixes[-2:]) if input_file.gzipped else path.suffix
    folder = Path(tempfile.mkdtemp(prefix="cxloop-"))
    link = folder / f"input{suffix.lower()}"
    link.symlink_to(path.resolve())
    links.append(link)
    return link


def _open_bytes(input_file: InputFile) -> Any:
    import gzip

    return gzip.open(input_file.path, "rb") if input_file.gzipped else open(input_file.path, "rb")


def _lines_at_offsets(input_file: InputFile, offsets: list[int]) -> dict[int, int]:
    """Physical line number (1-based) of each byte offset, counting newlines in one pass."""
    result: dict[int, int] = {}
    position, newlines = 0, 0
    pending = sorted(offsets)
    with _open_bytes(input_file) as fh:
        while pending:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            end = position + len(chunk)
            while pending and pending[0] <= end:
                target = pending.pop(0)
                result[target] = newlines + chunk.count(b"\n", 0, target - position) + 1
            newlines += chunk.count(b"\n")
            position = end
    for target in pending:
        result[target] = newlines + 1
    return result


def exact_csv_lines(
    input_file: InputFile, rows: list[int], unreadable_lines: list[int]
) -> dict[int, int]:
    """Physical start line of the data rows numbered `rows` (1-based, as the reader counted
    them: blank lines and refused lines do not count; a quoted value may span lines).

    It reads the file once with Python's RFC 4180 parser, only as far as the last row asked
    for, and only when there is something to report, so clean loads never pay for it.
    """
    import csv
    import io

    wanted = set(rows)
    last = max(rows) if rows else 0
    refused = set(unreadable_lines)
    result: dict[int, int] = {}
    with _open_bytes(input_file) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text)
        previous_end = 0
        row_number = 0
        for index, record in enumerate(reader):
            start = previous_end + 1
            previous_end = reader.line_num
            if index == 0 or not record or start in refused:
                continue  # the header, a blank line, or a line the engine refused
            row_number += 1
            if row_number in wanted:
                result[row_number] = start
            if row_number >= last:
                break
    return result


def _sq(text: str) -> str:
    """Escape text for a single-quoted SQL string (paths, header names; not row values)."""
    return text.replace("'", "''")


def _jq(key: str) -> str:
    """Escape a JSON object key for a quoted JSON path inside a SQL string."""
    return _sq(key.replace("\\", "\\\\").replace('"', '\\"'))


def _timezone(tz: str) -> str:
    # The config loader checked the name against the IANA database; refuse anything odd.
    if not all(ch.isalnum() or ch in "/_+-" for ch in tz):
        raise ValueError(f"invalid time zone name {tz!r}")
    return tz


def _memory_limit(value: str) -> str:
    if not all(ch.isalnum() or ch in ". " for ch in value):
        raise ValueError(f"invalid memory limit {value!r}")
    return value


def _reader_reason(kind: str, message: str) -> str:
    kind = (kind or "").upper()
    if "ENCODING" in kind:
        return "not valid UTF-8"
    if "TOO MANY" in kind:
        return "too many values for the header's columns"
    if "MISSING" in kind or "TOO FEW" in kind:
        return "too few values for the header's columns"
    if "QUOTE" in kind:
        return "unterminated quoted value"
    if "LINE SIZE" in kind:
        return "line too long"
    return _first_line(message) or kind.lower()


def _first_line(exc: object) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else ""
