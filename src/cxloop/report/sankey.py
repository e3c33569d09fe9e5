"""The Buy, Own, Advocate loop as a two-column Sankey chart, drawn as inline SVG.

Why by hand rather than through `charts` (Vega-Lite): Vega-Lite has no Sankey mark, and a
ribbon per flow is a few lines of geometry. Keeping the layout a pure function of the journey
document lets its rules (conservation, proportional widths, ordering) be tested as numbers;
the renderer only turns that layout into escaped, scriptless SVG, so the report stays one
self-contained file.

Left column: each stage's visits. Right column: what came next, a visit of another stage
("Buy again", "Own", "Advocate") or nothing in the data ("Ended").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

STAGE_ORDER = ("buy", "own", "advocate")
ENDED = "ended"
SOURCE_LABELS = {"buy": "Buy", "own": "Own", "advocate": "Advocate"}
# A visit of Buy that follows another stage's visit is a repeat purchase journey.
TARGET_LABELS = {"buy": "Buy again", "own": "Own", "advocate": "Advocate", ENDED: "Ended"}
COLOURS = {"buy": "#3867b0", "own": "#2a9d8f", "advocate": "#d9822b", ENDED: "#9aa5b1"}
OTHER_COLOUR = "#7b8794"

WIDTH, HEIGHT = 640.0, 320.0
NODE_WIDTH = 14.0
GAP = 14.0  # between nodes of a column; also keeps one-line labels from overlapping
TOP, BOTTOM = 30.0, 8.0  # room for the column headings
LEFT_X = 150.0  # left column's x; its labels sit to the left of it
RIGHT_X = WIDTH - LEFT_X - NODE_WIDTH


@dataclass(frozen=True)
class Share:
    """A share of the source stage's visits, with its 95% interval where the document has one."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Flow:
    """Visits of `source` followed next by a visit of `target` (`ended`: by none)."""

    source: str
    target: str
    value: int
    share: Share
    median_days: float | None = None


@dataclass(frozen=True)
class Node:
    key: str
    column: int  # 0: the stage, 1: what came next
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Link:
    """One ribbon: `y0`/`y1` are its top edge at the source/target, `width` its thickness."""

    source: Node
    target: Node
    value: int
    flow: Flow
    width: float
    y0: float
    y1: float
    path: str


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]


def journey_flows(
    stages: Sequence[dict[str, Any]], transitions: Sequence[dict[str, Any]]
) -> list[Flow]:
    """The document's transitions plus, per stage, the visits that ended there.

    Ended = the stage's visits less its outgoing transitions, clipped at 0 so inconsistent
    input never draws a negative ribbon. Zero flows are dropped: they would draw nothing.
    """
    visits = {s["stage"]: int(s.get("visits") or 0) for s in stages}
    out: dict[str, int] = {}
    flows: list[Flow] = []
    for t in transitions:
        n = int(t.get("transitions") or 0)
        out[t["from"]] = out.get(t["from"], 0) + n
        if n > 0:
            rate = t.get("rate") or {}
            median = (t.get("median_days") or {}).get("value")
            share = Share(rate.get("value"), rate.get("ci_low"), rate.get("ci_high"))
            flows.append(Flow(t["from"], t["to"], n, share, median))
    for stage, n in visits.items():
        ended = max(0, n - out.get(stage, 0))
        if ended > 0:
            flows.append(Flow(stage, ENDED, ended, Share(ended / n)))
    return flows


def layout_sankey(
    flows: Iterable[Flow], *, width: float = WIDTH, height: float = HEIGHT
) -> Layout | None:
    """Nodes and ribbons for `flows`; None when nothing flows (no chart beats an empty one).

    A node's height is the sum of its ribbons' widths, so both columns add up to the same
    total and every ribbon width is value × one common scale. Nodes keep the loop's order
    (Ended last) and ribbons are stacked in the order of the other end's node, which removes
    every crossing that the node order does not force.
    """
    kept = [f for f in flows if f.value > 0]
    if not kept:
        return None
    sources = _ordered([f.source for f in kept], STAGE_ORDER)
    targets = _ordered([f.target for f in kept if f.target != ENDED], STAGE_ORDER)
    targets += [ENDED] if any(f.target == ENDED for f in kept) else []
    total = sum(f.value for f in kept)
    usable = height - TOP - BOTTOM
    scale = (usable - GAP * (max(len(sources), len(targets)) - 1)) / total
    right_x = width - LEFT_X - NODE_WIDTH
    left = _column(kept, sources, 0, LEFT_X, scale, usable)
    right = _column(kept, targets, 1, right_x, scale, usable)

    src_rank = {k: i for i, k in enumerate(sources)}
    tgt_rank = {k: i for i, k in enumerate(targets)}
    y0s = _stack(kept, left, lambda f: f.source, lambda f: tgt_rank[f.target], scale)
    y1s = _stack(kept, right, lambda f: f.target, lambda f: src_rank[f.source], scale)
    links = []
    for i, f in enumerate(kept):
        s, t, w = left[f.source], right[f.target], f.value * scale
        path = _ribbon(s.x + s.width, y0s[i], t.x, y1s[i], w)
        links.append(Link(s, t, f.value, f, w, y0s[i], y1s[i], path))
    # Drawn and listed in stacking order, so assistive technology reads them top to bottom.
    links.sort(key=lambda k: (src_rank[k.flow.source], tgt_rank[k.flow.target]))
    nodes = (*(left[k] for k in sources), *(right[k] for k in targets))
    return Layout(width, height, nodes, tuple(links))


def _ordered(keys: list[str], known: Sequence[str]) -> list[str]:
    """Known stages in loop order, then any others in order of appearance."""
    seen = list(dict.fromkeys(keys))
    return [k for k in known if k in seen] + [k for k in seen if k not in known]


def _column(
    flows: list[Flow], keys: list[str], column: int, x: float, scale: float, usable: float
) -> dict[str, Node]:
    """One column's nodes, stacked with a fixed gap and centred vertically."""
    values = {k: 0 for k in keys}
    for f in flows:
        values[f.source if column == 0 else f.target] += f.value
    span = sum(values.values()) * scale + GAP * (len(keys) - 1)
    y = TOP + (usable - span) / 2
    nodes = {}
    for k in keys:
        label = (SOURCE_LABELS if column == 0 else TARGET_LABELS).get(k, k.capitalize())
        h = values[k] * scale
        nodes[k] = Node(k, column, label, values[k], x, y, NODE_WIDTH, h)
        y += h + GAP
    return nodes


def _stack(
    flows: list[Flow],
    nodes: dict[str, Node],
    end: Callable[[Flow], str],
    rank: Callable[[Flow], int],
    scale: float,
) -> dict[int, float]:
    """Top edge of each flow's ribbon at one end: stacked down its node by the other end's rank."""
    tops: dict[int, float] = {}
    offset = {k: n.y for k, n in nodes.items()}
    for i in sorted(range(len(flows)), key=lambda i: rank(flows[i])):
        key = end(flows[i])
        tops[i] = offset[key]
        offset[key] += flows[i].value * scale
    return tops


def _ribbon(x0: float, y0: float, x1: float, y1: float, w: float) -> str:
    """A band of constant vertical thickness `w`: two horizontal-tangent cubic Béziers."""
    xm = (x0 + x1) / 2
    return (
        f"M{x0:.2f},{y0:.2f}C{xm:.2f},{y0:.2f} {xm:.2f},{y1:.2f} {x1:.2f},{y1:.2f}"
        f"L{x1:.2f},{y1 + w:.2f}C{xm:.2f},{y1 + w:.2f} {xm:.2f},{y0 + w:.2f} {x0:.2f},{y0 + w:.2f}Z"
    )


def _pct(x: float | None) -> str:
    return f"{100 * x:.1f}%"


def link_title(link: Link) -> str:
    """The ribbon's numbers in words, for its tooltip and for screen readers."""
    f, src = link.flow, link.source.label
    parts = [] if f.share.value is None else [f"{_pct(f.share.value)} of {src} visits"]
    if f.share.value is not None and f.share.ci_low is not None and f.share.ci_high is not None:
        parts.append(f"95% CI {_pct(f.share.ci_low)}-{_pct(f.share.ci_high)}")
    text = f"{src} -> {link.target.label}: {f.value:,} visits"
    text += f" ({', '.join(parts)})" if parts else ""
    if f.target == ENDED:
        return text + ", with no next stage in the data"
    return text + (f", median {f.median_days:.1f} days" if f.median_days is not None else "")


def node_title(node: Node, links: Sequence[Link]) -> str:
    """A node's total and where it splits to (left) or comes from (right)."""
    mine = [k for k in links if (k.source if node.column == 0 else k.target) is node]
    split = ", ".join(
        f"{(k.target if node.column == 0 else k.source).label} {k.value:,}" for k in mine
    )
    if node.column == 0:
        return f"{node.label}: {node.value:,} visits; next: {split}"
    if node.key == ENDED:
        return f"Ended: {node.value:,} visits with no next stage in the data (from {split})"
    return f"{node.label}: {node.value:,} visits that followed another stage (from {split})"


def render_sankey(layout: Layout) -> Markup:
    """The layout as a self-contained `<svg>`: no script, no external reference, text escaped."""
    sources = [n for n in layout.nodes if n.column == 0]
    summary = "; ".join(f"{n.label} {n.value:,} visits" for n in sources)
    aria = (
        f"Sankey chart of where each loop stage's visits go next ({summary}); "
        "each ribbon's title gives its count and share."
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {layout.width:g} '
        f'{layout.height:g}" width="100%" style="height:auto;display:block" role="img" '
        f'aria-label="{escape(aria)}" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape('The loop: where each stage’s visits go next')}</title>",
        f'<text x="{LEFT_X + NODE_WIDTH:.2f}" y="16" text-anchor="end" fill="#52606d">'
        "this stage</text>",
        f'<text x="{layout.width - LEFT_X - NODE_WIDTH:.2f}" y="16" fill="#52606d">'
        "next stage</text>",
        '<g class="sankey-links">',
    ]
    for k in layout.links:
        colour = COLOURS.get(k.flow.source, OTHER_COLOUR)
        out.append(
            f'<path d="{k.path}" fill="{colour}" fill-opacity="0.4">'
            f"<title>{escape(link_title(k))}</title></path>"
        )
    out.append('</g><g class="sankey-nodes">')
    for n in layout.nodes:
        colour = COLOURS.get(n.key, OTHER_COLOUR)
        out.append(
            f'<rect x="{n.x:.2f}" y="{n.y:.2f}" width="{n.width:.2f}" height="{n.height:.2f}" '
            f'fill="{colour}"><title>{escape(node_title(n, layout.links))}</title></rect>'
        )
        left = n.column == 0
        x = n.x - 6 if left else n.x + n.width + 6
        out.append(
            f'<text x="{x:.2f}" y="{n.y + n.height / 2:.2f}" dy="0.35em" '
            f'text-anchor="{"end" if left else "start"}" fill="#1f2933">'
            f'<tspan font-weight="600">{escape(n.label)}</tspan> {n.value:,}</text>'
        )
    out.append("</g></svg>")
    return (
        Markup('<div class="chart sankey" style="display:block;max-width:640px">')
        + Markup("".join(out))
        + Markup("</div>")
    )


def journey_sankey(
    stages: Sequence[dict[str, Any]], transitions: Sequence[dict[str, Any]]
) -> Markup | None:
    """The report's loop chart from `build_journey`'s stages and transitions; None if empty."""
    layout = layout_sankey(journey_flows(stages, transitions))
    return None if layout is None else render_sankey(layout)
