"""Loyalty x advocacy segments: loyal, captive (spurious loyalty), fan (latent loyalty) and
other, crossed with advocacy, with transitions between periods (docs/metrics.md).

`build_segments(ws, settings)` returns the JSON document of `cxloop segments --json`;
`export_segments(ws, path)` writes every profile's segment and signals.
"""

from cxloop.analytics.segments.build import build_segments
from cxloop.analytics.segments.export import export_segments
from cxloop.analytics.segments.queries import ATTITUDES, SEGMENTS
from cxloop.analytics.segments.settings import SegmentsSettings

__all__ = ["ATTITUDES", "SEGMENTS", "SegmentsSettings", "build_segments", "export_segments"]
