"""Write tables as the contract's files: RFC 4180 CSV (UTF-8, header, CRLF) or Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cxloop.generate.settings import FileFormat

CSV_OPTIONS = pacsv.WriteOptions(include_header=True, quoting_style="needed", eol="\r\n")
"""Text is always quoted, numbers and booleans never; null is an empty field."""


def write_table(table: pa.Table, out_dir: Path, kind: str, file_format: FileFormat) -> Path:
    """Write `table` as `<kind>.csv` or `<kind>.parquet` in `out_dir` and return the path.

    Parquet keeps the CSV's values and types (text timestamps and amounts, so that the planted
    dirty values survive); the same seed gives the same bytes either way.
    """
    path = out_dir / f"{kind}.{file_format}"
    if file_format == "csv":
        pacsv.write_csv(table, path, CSV_OPTIONS)
    else:
        pq.write_table(table, path, compression="zstd")
    return path
