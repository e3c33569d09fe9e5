"""The input data contract (docs/data-contract.md): kinds, columns, readers and validation."""

from cxloop.contract.schema import KINDS, Column, ColumnType, Kind, kind_named

__all__ = ["KINDS", "Column", "ColumnType", "Kind", "kind_named"]
