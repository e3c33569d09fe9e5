"""Goals: targets on scorecard metrics, read from `cxloop.toml`, with status and gap.

A goal reads like a sentence: `nps >= 40 by 2025-12-31`, `retention_rate >= 0.35`.
Status compares the latest period's value with the target:
- `met`: the latest value meets the target;
- `missed`: the deadline has passed without meeting it;
- `on track`: a weighted least-squares line through the trend (each period's squared
  residual weighted by its n) reaches
  the target by the deadline (or by the next period when there is no deadline);
- `off track`: otherwise, or when there are too few periods to tell.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from cxloop.analytics.scorecard.metrics import BY_NAME
from cxloop.errors import ConfigError

_GOAL = re.compile(
    r"^\s*(?P<metric>[a-z0-9_]+)\s*(?P<op>>=|<=|>|<)\s*(?P<target>-?\d+(?:\.\d+)?)"
    r"(?:\s+by\s+(?P<deadline>\d{4}-\d{2}-\d{2}))?\s*$"
)
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Goal:
    metric: str
    op: str
    target: float
    deadline: date | None = None

    @property
    def text(self) -> str:
        by = f" by {self.deadline.isoformat()}" if self.deadline else ""
        return f"{self.metric} {self.op} {self.target:g}{by}"

    def satisfied(self, value: float) -> bool:
        return bool(_OPS[self.op](value, self.target))


def parse_goal(text: str, *, origin: str = "config") -> Goal:
    """Parse `metric OP target [by YYYY-MM-DD]`; a clear error names what is wrong."""
    match = _GOAL.match(text)
    if not match:
        raise ConfigError(f"{origin}: goal {text!r} must read like 'nps >= 40 by 2025-12-31'")
    metric = match["metric"]
    if metric not in BY_NAME:
        raise ConfigError(f"{origin}: goal {text!r}: unknown metric {metric!r}")
    deadline = None
    if match["deadline"]:
        try:
            deadline = date.fromisoformat(match["deadline"])
        except ValueError as exc:
            raise ConfigError(f"{origin}: goal {text!r}: {exc}") from exc
    return Goal(metric, match["op"], float(match["target"]), deadline)


def evaluate(goal: Goal, trend: list[dict[str, Any]], *, today: date) -> dict[str, Any]:
    """Status, latest value and gap of one goal against a scorecard trend."""
    points = [
        (p["start"], p["metrics"][goal.metric])
        for p in trend
        if goal.metric in p["metrics"] and p["metrics"][goal.metric].get("value") is not None
    ]
    doc: dict[str, Any] = {
        "goal": goal.text,
        "metric": goal.metric,
        "target": goal.target,
        "deadline": goal.deadline.isoformat() if goal.deadline else None,
        "value": None,
        "period": None,
        "gap": None,
        "status": "no data",
        "projection": None,
    }
    if not points:
        return doc
    start, latest = points[-1]
    value = float(latest["value"])
    doc.update(value=value, period=start, gap=goal.target - value)
    if goal.satisfied(value):
        doc["status"] = "met"
        return doc
    if goal.deadline and goal.deadline < today:
        doc["status"] = "missed"
        return doc
    projection = _project(points, goal.deadline)
    doc["projection"] = projection
    doc["status"] = (
        "on track" if projection is not None and goal.satisfied(projection) else "off track"
    )
    return doc


def _project(points: list[tuple[str, dict[str, Any]]], deadline: date | None) -> float | None:
    if len(points) < 3:
        return None
    x = np.array([date.fromisoformat(s).toordinal() for s, _ in points], dtype=float)
    y = np.array([float(m["value"]) for _, m in points])
    w = np.array([max(float(m.get("n") or 1), 1.0) for _, m in points])
    slope, intercept = np.polyfit(x, y, 1, w=np.sqrt(w))
    at = deadline.toordinal() if deadline else x[-1] + (x[-1] - x[-2])
    return float(slope * at + intercept)
