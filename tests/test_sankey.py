"""The loop's Sankey chart: layout rules as numbers, then the SVG as parsed XML."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest

from cxloop.report.sankey import (
    BOTTOM,
    ENDED,
    GAP,
    HEIGHT,
    TOP,
    Flow,
    Share,
    journey_flows,
    journey_sankey,
    layout_sankey,
    link_title,
    render_sankey,
)

SVG = "{http://www.w3.org/2000/svg}"


def _transition(a: str, b: str, count: int, visits: int) -> dict:
    """A transition as `build_journey` writes it; the interval is a stand-in (share ± 10%)."""
    share = count / visits if visits else None
    low, high = (share * 0.9, min(1.0, share * 1.1)) if share is not None else (None, None)
    return {
        "from": a,
        "to": b,
        "transitions": count,
        "rate": {"value": share, "n": visits, "ci_low": low, "ci_high": high},
        "median_days": {"value": 10.0 if count else None, "n": count},
    }


# Buy 100 visits: 60 -> own, 10 -> advocate, 30 ended.
# Own 80 visits: 40 -> advocate, 20 -> buy again, 0 -> nothing more (80 - 60 = 20 ended).
# Advocate 50 visits: 25 -> buy again, 0 -> own (no ribbon), 25 ended.
STAGES = [
    {"stage": "buy", "visits": 100},
    {"stage": "own", "visits": 80},
    {"stage": "advocate", "visits": 50},
]
TRANSITIONS = [
    _transition("buy", "own", 60, 100),
    _transition("own", "advocate", 40, 80),
    _transition("advocate", "buy", 25, 50),
    _transition("own", "buy", 20, 80),
    _transition("buy", "advocate", 10, 100),
    _transition("advocate", "own", 0, 50),
]


@pytest.fixture
def layout():
    result = layout_sankey(journey_flows(STAGES, TRANSITIONS))
    assert result is not None
    return result


def test_ended_is_visits_less_outgoing_transitions():
    ended = {f.source: f.value for f in journey_flows(STAGES, TRANSITIONS) if f.target == ENDED}
    assert ended == {"buy": 30, "own": 20, "advocate": 25}


def test_ended_is_clipped_at_zero():
    # More transitions out than visits (inconsistent input): no negative "ended" ribbon.
    stages = [{"stage": "buy", "visits": 5}, {"stage": "own", "visits": 3}]
    transitions = [_transition("buy", "own", 7, 5), _transition("own", "buy", 3, 3)]
    flows = journey_flows(stages, transitions)
    assert [f for f in flows if f.target == ENDED] == []
    layout = layout_sankey(flows)
    assert layout is not None and all(k.width > 0 for k in layout.links)


def test_zero_values_produce_no_link(layout):
    pairs = {(k.flow.source, k.flow.target) for k in layout.links}
    assert ("advocate", "own") not in pairs
    assert len(layout.links) == 5 + 3  # five non-zero transitions, three ended
    assert layout_sankey([Flow("buy", "own", 0, Share(0.0))]) is None


def test_every_node_is_the_sum_of_its_links(layout):
    for node in layout.nodes:
        mine = [k for k in layout.links if node in (k.source, k.target)]
        assert math.isclose(sum(k.width for k in mine), node.height)
        assert sum(k.value for k in mine) == node.value
    sources = {n.key: n.value for n in layout.nodes if n.column == 0}
    assert sources == {"buy": 100, "own": 80, "advocate": 50}


def test_link_widths_are_proportional_to_values(layout):
    ratios = {k.width / k.value for k in layout.links}
    assert max(ratios) == pytest.approx(min(ratios))
    # The fuller column's nodes, stacked with the fixed gap, fill the usable height.
    right = [n for n in layout.nodes if n.column == 1]
    assert [n.label for n in right] == ["Buy again", "Own", "Advocate", "Ended"]
    for above, below in pairwise(right):
        assert below.y == pytest.approx(above.y + above.height + GAP)
    assert right[0].y == pytest.approx(TOP)
    assert right[-1].y + right[-1].height == pytest.approx(HEIGHT - BOTTOM)


def test_links_stack_in_the_other_columns_order(layout):
    for node in layout.nodes:
        outgoing = node.column == 0
        mine = [k for k in layout.links if (k.source if outgoing else k.target) is node]
        other = [(k.target if outgoing else k.source).y for k in mine]
        tops = [k.y0 if outgoing else k.y1 for k in mine]
        order = sorted(range(len(mine)), key=lambda i: other[i])
        assert [tops[i] for i in order] == sorted(tops)
        assert min(tops) == pytest.approx(node.y)


def test_titles_give_the_numbers_in_words(layout):
    titles = {(k.flow.source, k.flow.target): link_title(k) for k in layout.links}
    assert titles[("own", "buy")] == (
        "Own -> Buy again: 20 visits (25.0% of Own visits, 95% CI 22.5%-27.5%), median 10.0 days"
    )
    assert titles[("buy", ENDED)] == (
        "Buy -> Ended: 30 visits (30.0% of Buy visits), with no next stage in the data"
    )


def test_rendered_svg_is_xml_with_a_title_per_link(layout):
    html = str(render_sankey(layout))
    root = ET.fromstring(html)  # the wrapping <div> and the <svg> are well-formed XML
    svg = root.find(f"{SVG}svg")
    assert svg is not None and svg.get("role") == "img" and svg.get("aria-label")
    paths = svg.findall(f".//{SVG}path")
    assert len(paths) == len(layout.links)
    for path in paths:
        title = path.find(f"{SVG}title")
        assert title is not None and " visits" in (title.text or "")
    rects = svg.findall(f".//{SVG}rect")
    assert len(rects) == len(layout.nodes)
    assert all(r.find(f"{SVG}title") is not None for r in rects)
    assert "<script" not in html and "href" not in html


def test_hostile_labels_are_escaped():
    hostile = '<script>alert("x")</script>'
    stages = [{"stage": hostile, "visits": 4}, {"stage": "own", "visits": 2}]
    transitions = [_transition(hostile, "own", 3, 4), _transition("own", hostile, 1, 2)]
    chart = journey_sankey(stages, transitions)
    assert chart is not None
    html = str(chart)
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    svg = ET.fromstring(html).find(f"{SVG}svg")
    assert svg is not None
    texts = ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]
    assert any(hostile.capitalize() in t for t in texts)  # shown, as text


@pytest.mark.parametrize(
    ("stages", "transitions"),
    [
        ([], []),
        ([{"stage": "buy", "visits": 0}], [_transition("buy", "own", 0, 0)]),
    ],
)
def test_empty_input_gives_no_chart(stages, transitions):
    assert layout_sankey(journey_flows(stages, transitions)) is None
    assert journey_sankey(stages, transitions) is None
