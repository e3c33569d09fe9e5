"""The self-contained HTML report: sections of text, tables and charts (inline SVG)."""

from cxloop.report.build import build_report
from cxloop.report.document import Section

__all__ = ["Section", "build_report"]
