from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.contract.files import FileFormat, detect_format, kind_from_name, open_input
from cxloop.errors import InputFileError
from tests.conftest import write


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("orders.csv", "orders"),
        ("shop_orders_2024.parquet", "orders"),
        ("Customers.CSV", "customers"),
        ("crm-customer.jsonl.gz", "customers"),
        ("events.rejected.csv", "events"),
        ("feedback.ndjson", "feedback"),
    ],
)
def test_kind_from_file_name(name, kind):
    assert kind_from_name(Path(name)).name == kind


@pytest.mark.parametrize("name", ["data.csv", "orders_and_customers.csv"])
def test_ambiguous_or_unknown_kind_asks_for_kind(name):
    with pytest.raises(InputFileError, match="--kind"):
        kind_from_name(Path(name))


def test_formats():
    assert detect_format(Path("a.csv.gz")) == (FileFormat.CSV, True)
    assert detect_format(Path("a.ndjson")) == (FileFormat.JSONL, False)
    with pytest.raises(InputFileError, match="unknown file extension"):
        detect_format(Path("orders.xlsx"))


def test_whole_file_refusals(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        open_input(tmp_path / "orders.csv")
    (tmp_path / "orders_dir.csv").mkdir()
    with pytest.raises(InputFileError, match="is a directory"):
        open_input(tmp_path / "orders_dir.csv")
    write(tmp_path / "orders.csv", "")
    with pytest.raises(InputFileError, match="empty"):
        open_input(tmp_path / "orders.csv")
    with pytest.raises(InputFileError, match="unknown kind"):
        open_input(write(tmp_path / "x.csv", "a\n1\n"), kind="widgets")
