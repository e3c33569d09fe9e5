"""Charts as Vega-Lite specifications, rendered to SVG offline by vl-convert.

Declarative specs keep charts reviewable as data; SVG keeps the report self-contained (no
JavaScript, no CDN).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH, HEIGHT = 460, 220


def render_svg(spec: dict[str, Any]) -> Markup:
    import vl_convert

    svg = vl_convert.vegalite_to_svg(vl_spec=spec)
    return Markup('<div class="chart">') + Markup(svg) + Markup("</div>")


def trend_with_interval(
    points: list[dict[str, Any]], *, title: str, y_title: str, series: str = "series"
) -> dict[str, Any]:
    """Lines per series over periods, with the 95% interval as a band.

    `points`: {"start", "series", "value", "ci_low", "ci_high"}.
    """
    x = {"field": "start", "type": "temporal", "title": None}
    color = {"field": series, "type": "nominal", "title": None}
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": WIDTH,
        "height": HEIGHT,
        "data": {"values": points},
        "layer": [
            {
                "mark": {"type": "area", "opacity": 0.18},
                "encoding": {
                    "x": x,
                    "y": {"field": "ci_low", "type": "quantitative", "title": y_title},
                    "y2": {"field": "ci_high"},
                    "color": color,
                },
            },
            {
                "mark": {"type": "line", "point": True},
                "encoding": {
                    "x": x,
                    "y": {"field": "value", "type": "quantitative"},
                    "color": color,
                    "tooltip": [
                        {"field": "start", "type": "temporal"},
                        {"field": "value", "type": "quantitative", "format": ".2f"},
                        {"field": "ci_low", "type": "quantitative", "format": ".2f"},
                        {"field": "ci_high", "type": "quantitative", "format": ".2f"},
                    ],
                },
            },
        ],
    }


def bars_over_time(
    points: list[dict[str, Any]], *, title: str, y_title: str, stack: bool = False
) -> dict[str, Any]:
    """Bars per period; `points`: {"start", "series", "value"}."""
    encoding: dict[str, Any] = {
        "x": {"field": "start", "type": "temporal", "title": None, "timeUnit": "yearmonth"},
        "y": {
            "field": "value",
            "type": "quantitative",
            "title": y_title,
            "stack": "zero" if stack else None,
        },
        "color": {"field": "series", "type": "nominal", "title": None},
    }
    if not stack:
        encoding["xOffset"] = {"field": "series"}
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": WIDTH,
        "height": HEIGHT,
        "data": {"values": points},
        "mark": {"type": "bar"},
        "encoding": encoding,
    }


def groups_with_interval(rows: list[dict[str, Any]], *, title: str, x_title: str) -> dict[str, Any]:
    """A dot per group with its 95% interval; `rows`: {"group", "value", "ci_low", "ci_high"}."""
    y = {"field": "group", "type": "nominal", "title": None, "sort": "-x"}
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": WIDTH,
        "height": max(60, 22 * len(rows)),
        "data": {"values": rows},
        "layer": [
            {
                "mark": {"type": "rule"},
                "encoding": {
                    "y": y,
                    "x": {"field": "ci_low", "type": "quantitative", "title": x_title},
                    "x2": {"field": "ci_high"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 60},
                "encoding": {"y": y, "x": {"field": "value", "type": "quantitative"}},
            },
        ],
    }
