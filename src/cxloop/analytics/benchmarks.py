"""External benchmarks: published industry figures, and our scorecard against them.

A benchmark file (CSV with a header, a JSON array of objects, or JSON Lines) holds one row
per published value: `metric` (a scorecard metric, e.g. `nps`, `csat`, `retention_rate`),
`industry`, `period` (`2025`, `2025-Q3` or `2025-06`), `value` (in the scorecard's unit:
NPS points, shares as 0-1), `source`, and optionally `ci_low`, `ci_high` (its 95% interval)
and `n`. `cxloop benchmarks import` validates it (every bad value listed with file, line and
column; nothing imported) and merges it into `WS/benchmarks.csv` (a row with the same metric,
industry, period and source replaces the older one).

The scorecard compares each benchmark with our figure for the same period (its `trend`; a
benchmark for a year is compared when the scorecard's period is `year`): difference = ours −
benchmark, with a 95% interval. When the benchmark gives an interval, its standard error is
taken as (ci_high − ci_low) / (2 × 1.96) and combined with ours, se = sqrt(se_ours² +
se_bench²); when it gives none, the interval is ours shifted by the benchmark, and the row
says the benchmark's own uncertainty is unknown (the true interval is wider). `position` says
where ours lies (`above`/`below` when the interval excludes 0) and `verdict` reads it with the
metric's direction (`better`/`worse`): for steps per journey or the support contact rate,
lower is better, so "above the industry" is worse.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.errors import CxloopError

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

BENCHMARKS_FILE = "benchmarks.csv"
COLUMNS = ("metric", "industry", "period", "value", "source", "ci_low", "ci_high", "n")
REQUIRED = ("metric", "industry", "period", "value", "source")
Z95 = 1.959963984540054
_PERIOD = {
    "year": re.compile(r"^(\d{4})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
}
MAX_ERRORS = 20


class BenchmarkFileError(CxloopError):
    """A benchmark file with bad rows; every problem named with file, line and column."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        shown = problems[:MAX_ERRORS]
        text = f"{path}: nothing imported, {len(problems)} problem(s):\n  " + "\n  ".join(shown)
        if len(problems) > len(shown):
            text += f"\n  ... and {len(problems) - len(shown)} more"
        super().__init__(text)
        self.problems = problems


@dataclass(frozen=True)
class Benchmark:
    metric: str
    industry: str
    period: str
    value: float
    source: str
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.metric, self.industry, self.period, self.source)

    @property
    def granularity(self) -> str:
        return next(g for g, rx in _PERIOD.items() if rx.match(self.period))


def period_kind(text: str) -> str | None:
    """`year`, `quarter` or `month` for a period label, None when it is none of them."""
    return next((g for g, rx in _PERIOD.items() if rx.match(text)), None)


def read_benchmarks(path: Path) -> list[Benchmark]:
    """Every row of a benchmark file, or `BenchmarkFileError` listing every problem."""
    from cxloop.analytics.scorecard.metrics import BY_NAME

    path = Path(path)
    if not path.is_file():
        raise CxloopError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CxloopError(f"{path}: not UTF-8 text ({exc.reason})") from None
    records = _records(path, text)
    problems: list[str] = []
    out: list[Benchmark] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for line, record in records:
        before = len(problems)

        def bad(column: str, reason: str, line: int = line) -> None:
            problems.append(f"{path}, line {line}, column {column}: {reason}")

        if not isinstance(record, dict):
            problems.append(f"{path}, line {line}: expected an object")
            continue
        values = {str(k).strip().lower(): v for k, v in record.items()}
        for key in values:
            if key not in COLUMNS:
                bad(key, f"unknown column (expected {', '.join(COLUMNS)})")
        text_of = {k: ("" if values.get(k) is None else str(values[k]).strip()) for k in COLUMNS}
        for key in REQUIRED:
            if not text_of[key]:
                bad(key, "required value is missing")
        metric = text_of["metric"].lower()
        spec = BY_NAME.get(metric)
        if metric and spec is None:
            bad("metric", f"{metric!r} is not a scorecard metric (see docs/metrics.md)")
        if text_of["period"] and period_kind(text_of["period"]) is None:
            bad("period", f"{text_of['period']!r} is not a period (2025, 2025-Q3 or 2025-06)")
        numbers: dict[str, float | None] = {}
        for key in ("value", "ci_low", "ci_high"):
            numbers[key] = None
            if text_of[key]:
                try:
                    numbers[key] = float(text_of[key])
                    if not math.isfinite(numbers[key]):  # type: ignore[arg-type]
                        raise ValueError
                except ValueError:
                    bad(key, f"{text_of[key]!r} is not a number")
        n = None
        if text_of["n"]:
            try:
                n = int(text_of["n"])
                if n < 1:
                    raise ValueError
            except ValueError:
                bad("n", f"{text_of['n']!r} is not a whole number of at least 1")
        value, low, high = numbers["value"], numbers["ci_low"], numbers["ci_high"]
        if (low is None) != (high is None):
            bad("ci_low" if low is None else "ci_high", "give both ends of the interval or none")
        elif (
            low is not None and high is not None and value is not None
            and not low <= value <= high
        ):  # fmt: skip
            bad("ci_low", f"the interval [{low:g}, {high:g}] does not contain {value:g}")
        if spec is not None and value is not None:
            scale = _scale(spec.unit, metric)
            if scale is not None and not scale[0] <= value <= scale[1]:
                hint = " (shares are 0-1: 0.78, not 78)" if spec.unit == "share" else ""
                bad("value", f"{value:g} is outside {metric}'s scale {scale[0]:g} to "
                             f"{scale[1]:g}{hint}")  # fmt: skip
        if len(problems) > before:
            continue
        b = Benchmark(
            metric, text_of["industry"], text_of["period"], value or 0.0, text_of["source"],
            low, high, n,
        )  # fmt: skip
        if b.key in seen:
            bad("metric", f"same metric, industry, period and source as line {seen[b.key]}")
            continue
        seen[b.key] = line
        out.append(b)
    if problems:
        raise BenchmarkFileError(path, problems)
    return out


def _scale(unit: str, metric: str) -> tuple[float, float] | None:
    if metric.startswith("nps"):
        return (-100.0, 100.0)
    if unit == "share":
        return (0.0, 1.0)
    if metric == "ces":
        return (1.0, 7.0)
    if metric == "rating":
        return (1.0, 5.0)
    return None


def _records(path: Path, text: str) -> list[tuple[int, Any]]:
    name = path.name.lower()
    if name.endswith(".csv"):
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None:
            raise CxloopError(f"{path}: empty file (expected a header row)")
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise CxloopError(f"{path}, line 1: missing column(s) {', '.join(missing)}")
        out = []
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return out
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(names):
                out.append((line, f"{len(row)} fields, the header has {len(names)}"))
                continue
            out.append((line, dict(zip(names, row, strict=True))))
    if name.endswith((".jsonl", ".ndjson")):
        out = []
        for i, line_text in enumerate(text.splitlines(), start=1):
            if line_text.strip():
                try:
                    out.append((i, json.loads(line_text)))
                except json.JSONDecodeError as exc:
                    raise CxloopError(f"{path}, line {i}: bad JSON ({exc.msg})") from None
        return out
    if name.endswith(".json"):
        from cxloop.content.files import json_array_records

        return json_array_records(path, text)
    raise CxloopError(f"{path}: unknown extension (expected .csv, .json or .jsonl)")


def load_benchmarks(workspace: Path) -> list[Benchmark]:
    """The workspace's benchmarks (`WS/benchmarks.csv`), empty when none were imported."""
    path = Path(workspace) / BENCHMARKS_FILE
    return read_benchmarks(path) if path.is_file() else []


def import_benchmarks(workspace: Path, file: Path) -> dict[str, Any]:
    """Validate `file` and merge it into `WS/benchmarks.csv`; return what changed."""
    new = read_benchmarks(file)
    current = {b.key: b for b in load_benchmarks(workspace)}
    replaced = sum(1 for b in new if b.key in current)
    current.update({b.key: b for b in new})
    rows = sorted(current.values(), key=lambda b: b.key)
    target = Path(workspace) / BENCHMARKS_FILE
    tmp = target.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for b in rows:
            writer.writerow(["" if v is None else v for v in asdict(b).values()])
    tmp.replace(target)
    return {"file": str(file), "read": len(new), "added": len(new) - replaced,
            "replaced": replaced, "total": len(rows)}  # fmt: skip


def compare(benchmarks: list[Benchmark], scorecard: dict[str, Any]) -> list[dict[str, Any]]:
    """Each benchmark beside our figure for its period (see the module docstring)."""
    trend = {p["period"]: p["metrics"] for p in scorecard.get("trend", [])}
    granularity = scorecard.get("period")
    labels = scorecard.get("labels", {})
    directions = scorecard.get("higher_is_better", {})
    out = []
    for b in benchmarks:
        row: dict[str, Any] = {
            "metric": b.metric,
            "label": labels.get(b.metric, b.metric),
            "industry": b.industry,
            "period": b.period,
            "source": b.source,
            "benchmark": {"value": b.value, "ci_low": b.ci_low, "ci_high": b.ci_high, "n": b.n},
            "benchmark_has_uncertainty": b.ci_low is not None,
            "ours": None,
            "difference": None,
            "higher_is_better": higher_is_better(b.metric, directions),
            "position": None,
            "verdict": None,
            "note": "",
        }
        ours = trend.get(b.period, {}).get(b.metric)
        if b.granularity != granularity:
            row["note"] = (
                f"a {b.granularity} benchmark: run the scorecard with --period {b.granularity}"
            )
        elif ours is None or ours.get("value") is None:
            row["note"] = f"no {b.metric} figure of ours for {b.period}"
        else:
            row["ours"] = {k: ours.get(k) for k in ("value", "ci_low", "ci_high", "n")}
            row["difference"], row["position"], row["note"] = _difference(b, ours)
            row["verdict"] = verdict(row["position"], row["higher_is_better"])
        out.append(row)
    return out


def higher_is_better(metric: str, directions: dict[str, bool]) -> bool:
    """The metric's direction: the scorecard document's, else the metric registry's (steps per
    journey, the support contact rate, time at a touchpoint are better low; CES is the contract's
    1-7 scale, 7 = very easy, so higher); True for a metric it does not know."""
    if metric in directions:
        return bool(directions[metric])
    from cxloop.analytics.scorecard.metrics import BY_NAME

    spec = BY_NAME.get(metric)
    return True if spec is None else spec.higher_is_better


def verdict(position: str | None, higher_better: bool) -> str | None:
    """`better`/`worse` from where ours lies against the benchmark (`above`/`below`) and the
    metric's direction: a support contact rate above the industry's is worse, not better."""
    if position not in ("above", "below"):
        return position
    return "better" if (position == "above") == higher_better else "worse"


def verdict_text(row: dict[str, Any]) -> str:
    """The verdict as the CLI and the report show it: `worse (above; lower is better)`."""
    if row.get("verdict") is None:
        return ""
    if row["verdict"] not in ("better", "worse"):
        return str(row["verdict"])
    direction = "higher" if row.get("higher_is_better", True) else "lower"
    return f"{row['verdict']} ({row['position']}; {direction} is better)"


def _difference(b: Benchmark, ours: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    diff = float(ours["value"]) - b.value
    se_ours = ours.get("se")
    if se_ours is None and ours.get("ci_low") is not None:
        se_ours = (ours["ci_high"] - ours["ci_low"]) / (2 * Z95)
    note = ""
    if se_ours is None:
        low = high = None
        note = "our figure is a count or total without sampling error"
    elif b.ci_low is not None and b.ci_high is not None:
        se_b = (b.ci_high - b.ci_low) / (2 * Z95)
        half = Z95 * math.sqrt(se_ours**2 + se_b**2)
        low, high = diff - half, diff + half
    else:
        low, high = float(ours["ci_low"]) - b.value, float(ours["ci_high"]) - b.value
        note = "the benchmark gives no uncertainty: the interval is ours alone (too narrow)"
    if low is None or high is None:
        position = "above" if diff > 0 else "below" if diff < 0 else "equal"
    else:
        position = "above" if low > 0 else "below" if high < 0 else "not distinguishable"
    return {"value": diff, "ci_low": low, "ci_high": high}, position, note


def scorecard_benchmarks(ws: Workspace, scorecard: dict[str, Any]) -> list[dict[str, Any]]:
    """The comparison rows for a scorecard document of this workspace."""
    return compare(load_benchmarks(ws.path), scorecard)
