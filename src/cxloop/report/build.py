"""`cxloop report`: gather every section and write one self-contained HTML file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.report.document import PROVIDERS, Section, render_page

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def _scorecard_provider(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    from cxloop.analytics.periods import Period
    from cxloop.analytics.scorecard import Scope, build_scorecard
    from cxloop.report.scorecard_sections import scorecard_sections

    doc = build_scorecard(
        ws,
        Scope(
            period=Period(context.get("period") or ws.config.scorecard.period),
            by=context.get("by", "touchpoint"),
        ),
    )
    context["scorecard"] = doc
    return scorecard_sections(doc)


def build_report(
    ws: Workspace,
    out: Path | str,
    *,
    period: str | None = None,
    by: str | None = "touchpoint",
    context: dict[str, Any] | None = None,
) -> Path:
    """Write the report to `out` atomically (a reader never sees a half-written file).

    `context`, when given, receives the documents the sections were built from
    ("scorecard", "journey", "clv"), so a caller can reuse them without recomputing.
    """
    out = Path(out)
    context = context if context is not None else {}
    context.update(period=period, by=by)
    from cxloop.report.advocacy_sections import advocacy_sections
    from cxloop.report.architecture_sections import architecture_sections
    from cxloop.report.cases_sections import cases_sections
    from cxloop.report.clv_sections import clv_sections
    from cxloop.report.journey_sections import journey_sections
    from cxloop.report.moments_sections import moments_sections
    from cxloop.report.personas_sections import personas_sections
    from cxloop.report.segments_sections import segments_sections
    from cxloop.report.voc_sections import voc_sections

    sections: list[Section] = _scorecard_provider(ws, context)
    sections += journey_sections(ws, context)
    sections += moments_sections(ws, context)
    sections += voc_sections(ws, context)
    sections += segments_sections(ws, context)
    sections += personas_sections(ws, context)
    sections += clv_sections(ws, context)
    sections += advocacy_sections(ws, context)
    sections += architecture_sections(ws, context)
    sections += cases_sections(ws, context)
    for provider in PROVIDERS:  # sections that later analyses register
        sections.extend(provider(ws, context))
    html = render_page(
        f"{ws.config.brand.name}: customer experience report",
        "Buy, Own, Advocate, Buy again: the composite scorecard with honest uncertainty.",
        sections,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".report-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(html)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; a report is meant to be shared
    Path(tmp).replace(out)
    return out
