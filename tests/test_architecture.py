"""The architecture file: validation errors name file, line and key; the inventory joins it
with the data and flags the planted pivotal moments that no experience covers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cxloop
from cxloop.experience import ArchitectureError, parse_architecture
from cxloop.experience.example import EXAMPLE
from cxloop.experience.toml_lines import key_lines
from cxloop.generate import generate
from tests.conftest import run_cli

F = Path("ws/architecture.toml")


def error_of(text: str, **kwargs: object) -> str:
    with pytest.raises(ArchitectureError) as info:
        parse_architecture(text, F, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def line_with(text: str, needle: str, nth: int = 0) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth]


def test_example_parses_with_its_lines() -> None:
    a = parse_architecture(EXAMPLE, F)
    assert [m.name for m in a.moments] == [
        "first_purchase", "delivery", "getting_started", "getting_help", "sharing",
    ]  # fmt: skip
    guide = a.moments[2].experiences[1]
    assert (guide.name, guide.value_level, guide.persona) == (
        "Care and repair guide", "personal", "premium_loyalist",
    )  # fmt: skip
    assert guide.line == line_with(EXAMPLE, "[[moments.experiences]]", 4)
    assert a.moments[3].owner is None


@pytest.mark.parametrize(
    ("old", "new", "nth", "key", "reason"),
    [
        ('value_level = "personal"', 'value_level = "emotional"', 0,
         "moments[2].experiences[1].value_level", "'emotional' is not one of"),
        ('kind = "story"', 'knd = "story"', 2,
         "moments[2].experiences[1].knd", "unknown key"),
        ('measured_by = ["csat", "nps"]', 'measured_by = ["csat", "happiness"]', 0,
         "moments[1].experiences[0].measured_by[1]", "'happiness' is not one of"),
        ('name = "getting_help"', 'name = "delivery"', 0,
         "moments[3].name", "declared twice"),
        ('touchpoints = ["delivery"]', "touchpoints = []", 0,
         "moments[1].touchpoints", "at least one touchpoint"),
        ('owner = "logistics"', "owner = 7", 0, "moments[1].owner", "must be a string"),
        ("version = 1", "version = 2", 0, "version", "unsupported version"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_key(old: str, new: str, nth: int, key: str, reason: str) -> None:
    lines = EXAMPLE.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if old in line]
    i = hits[nth]
    lines[i] = lines[i].replace(old, new)
    text = "".join(lines)
    message = error_of(text)
    assert message.startswith(f"{F}: line {i + 1}, key {key}: "), message
    assert reason in message


def test_missing_required_key_points_at_its_table() -> None:
    text = EXAMPLE.replace('  outcome = "save time: know when it arrives"\n', "")
    message = error_of(text)
    header = line_with(text, "[[moments.experiences]]", 2)
    assert message.startswith(f"{F}: line {header}, key moments[1].experiences[0].outcome: ")
    assert "required key is missing" in message


def test_unknown_touchpoint_is_refused_when_the_catalogue_is_known() -> None:
    text = EXAMPLE.replace('"search", "add_to_cart"', '"serch", "add_to_cart"')
    message = error_of(text, touchpoints={"product_view", "search", "add_to_cart", "checkout"})
    line = line_with(text, '"serch"')
    assert message.startswith(f"{F}: line {line}, key moments[0].touchpoints[1]: ")
    assert "'serch' is not in the catalogue" in message


def test_invalid_toml_names_line_and_column() -> None:
    text = EXAMPLE.replace('label = "The parcel arrives"', 'label = "The parcel arrives')
    message = error_of(text)
    line = line_with(text, 'label = "The parcel arrives')
    assert message.startswith(f"{F}: line {line}, column "), message
    assert "invalid TOML" in message


def test_inline_tables_and_strings_that_look_like_toml() -> None:
    text = (
        'version = 1  # "[[x]]"\n'
        "[[moments]]\n"
        'name = "a"\n'
        "label = '''multi\n"
        "[[moments]] = not a header'''\n"
        'touchpoints = ["delivery",\n'
        '  "chat"]\n'
        "experiences = [\n"
        '  {name = "x # y", outcome = "o", value_level = "functional"},\n'
        '  {name = "z", outcome = "o", value_level = "spiritual"},\n'
        "]\n"
    )
    message = error_of(text)
    assert message.startswith(f"{F}: line 10, key moments[0].experiences[1].value_level: ")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
            st.one_of(st.integers(-5, 5), st.text("ab#=[]\"' ", max_size=6)),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda kv: kv[0],
    ),
    st.integers(0, 3),
)
def test_key_lines_find_every_key(pairs: list[tuple[str, object]], blank: int) -> None:
    """Property: whatever the values hold (quotes, '#', '='), each key is found on its line."""
    out = ["[[t]]", "x = 1", "[[t]]"]
    expected = {}
    for key, value in pairs:
        out += [""] * blank
        out.append(f"{key} = {json.dumps(value)}")
        expected[("t", 1, key)] = len(out)
    lines = key_lines("\n".join(out) + "\n")
    for path, line in expected.items():
        assert lines[path] == line


# -- the inventory over generated data ------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("architecture")
    data = generate(base / "data", people=4000, seed=5, dirty_rate=0)
    with cxloop.Workspace.init(base / "ws", brand="Northwind") as ws:
        ws.ingest(sorted(data.files.values()))
        ws.profiles.build()
    return base / "ws"


def test_cli_example_then_inventory_with_gaps(workspace: Path) -> None:
    made = run_cli("architecture", str(workspace), "--example")
    assert made.returncode == 0, made.stderr
    again = run_cli("architecture", str(workspace), "--example")
    assert again.returncode == 2 and "not overwritten" in again.stderr
    result = run_cli("architecture", str(workspace), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    moments = {m["name"]: m for m in doc["moments"]}
    delivery = moments["delivery"]
    assert 0 < delivery["reach"]["value"] < 1
    assert delivery["reach"]["ci_low"] < delivery["reach"]["value"] < delivery["reach"]["ci_high"]
    # Late deliveries are planted: effectiveness is below 1 and the failure is pivotal.
    assert delivery["effectiveness"]["value"] < 0.99
    assert delivery["pivotal"]
    failed = [e for e in delivery["pivotal_effects"] if e["condition"] == "failed"]
    assert failed[0]["significant"] and failed[0]["effect"] < 0
    gaps = {(g["kind"], g.get("moment")) for g in doc["gaps"]}
    assert ("no_owner", "getting_help") in gaps
    # getting_help plans an experience, so its pivotal failure is covered, not a gap; the
    # loyalty lounge is no moment of the example, and is not pivotal (a confounded null).
    assert not any(g["kind"] == "pivotal_unplanned" and g.get("touchpoint") == "loyalty_lounge"
                   for g in doc["gaps"])  # fmt: skip
    # Nobody answers an onboarding survey in the contract data alone (the content files do).
    assert ("unmeasured", "getting_started") in gaps
    readable = run_cli("architecture", str(workspace))
    assert readable.returncode == 0 and "Gaps" in readable.stdout


def test_bad_file_in_workspace_is_one_line(workspace: Path, tmp_path: Path) -> None:
    path = workspace / "architecture.toml"
    original = path.read_text(encoding="utf-8") if path.exists() else EXAMPLE
    try:
        path.write_text(original.replace('"delivery"]', '"delivry"]', 1), encoding="utf-8")
        result = run_cli("architecture", str(workspace))
        assert result.returncode == 2
        line = line_with(path.read_text(encoding="utf-8"), '"delivry"]')
        assert f"architecture.toml: line {line}, key moments[1].touchpoints[0]" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        path.write_text(original, encoding="utf-8")


def test_pivotal_moment_without_experience_is_a_gap(workspace: Path) -> None:
    from cxloop.experience.inventory import inventory

    text = (
        'version = 1\n[[moments]]\nname = "delivery"\ntouchpoints = ["delivery"]\n'
        'owner = "logistics"\n'
    )
    with cxloop.Workspace.open(workspace) as ws:
        doc = inventory(ws, parse_architecture(text, F))
    gaps = [g for g in doc["gaps"] if g["kind"] == "pivotal_unplanned"]
    planned = {(g["touchpoint"], g["condition"]): g for g in gaps}
    # The planted late delivery: its moment plans nothing.
    assert planned[("delivery", "failed")]["moment"] == "delivery"
    assert planned[("delivery", "failed")]["line"] == 2
    # The planted unresolved support: no moment covers it at all.
    assert planned[("support_contact", "failed")]["moment"] is None
