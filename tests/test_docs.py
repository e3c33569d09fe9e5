"""Documentation stays complete: every command, setting, kind and column is documented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from cxloop.cli.main import app
from cxloop.config import WorkspaceConfig
from cxloop.contract.schema import KINDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_readme_gives_the_two_commands_first():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(readme.splitlines()[:25])
    assert "make demo" in first_screen and "make test" in first_screen
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


@pytest.mark.parametrize(
    "command", [c.name or c.callback.__name__ for c in app.registered_commands]
)
def test_every_command_is_in_the_readme(command):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"cxloop {command}" in readme


def test_every_setting_is_documented():
    text = read("configuration.md")
    config = WorkspaceConfig()
    for section in dataclasses.fields(config):
        assert f"[{section.name}]" in text
        for setting in dataclasses.fields(getattr(config, section.name)):
            assert f"`{setting.name}`" in text, f"[{section.name}] {setting.name}"


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_every_kind_and_column_is_in_the_contract_doc(kind):
    text = read("data-contract.md")
    section = text.split(f"### {kind.name}")[1].split("###")[0]
    for column in kind.column_names:
        assert re.search(rf"\b{column}\b", section), f"{kind.name}.{column}"


def test_profile_figures_are_defined_in_metrics():
    text = read("metrics.md")
    for name in (
        "profiles",
        "known_profiles",
        "anonymous_profiles",
        "source_records",
        "merged_records",
        "by_rule",
        "skipped_identifiers",
        "loaded",
        "updated",
        "duplicates",
        "rejected",
    ):
        assert name in text, name


def test_every_scorecard_metric_is_defined():
    from cxloop.analytics.scorecard.metrics import METRICS

    text = read("metrics.md")
    for metric in METRICS:
        assert f"`{metric.name}`" in text, metric.name
