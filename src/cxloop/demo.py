"""`cxloop demo`: the whole path on sample data, from files to headline figures.

It is the first thing a new user runs, so it must always work: it owns its output folder
(re-running replaces the demo workspace it made before, never anything else).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxloop.errors import CxloopError

Progress = Callable[[str, float], None]


def run_demo(
    out_dir: Path, *, people: int = 20_000, seed: int = 42, progress: Progress | None = None
) -> dict[str, Any]:
    """Generate, init, ingest, build profiles; return the headline figures as a document."""
    from cxloop.generate import generate
    from cxloop.workspace import Workspace

    def report(step: str, fraction: float) -> None:
        if progress:
            progress(step, fraction)

    data_dir, ws_dir = out_dir / "data", out_dir / "workspace"
    _claim(out_dir)
    if ws_dir.exists():
        shutil.rmtree(ws_dir)
    report("generating sample data", 0.0)
    try:
        generated = generate(
            data_dir,
            people=people,
            seed=seed,
            progress=lambda step, f: report(f"generating: {step}", 0.4 * f),
        )
    except ValueError as exc:  # settings the generator refuses, e.g. --people 0
        raise CxloopError(f"cannot generate the sample data: {exc}") from exc
    report("creating the workspace", 0.4)
    with Workspace.init(
        ws_dir, brand="Northwind", competitors=("Contoso", "Fabrikam"), currency="USD"
    ) as ws:
        files = [generated.files[k] for k in sorted(generated.files, key=_load_order)]
        ingest = ws.ingest(
            files,
            progress=lambda path, i, n, r: report(
                f"loading {Path(path).name}", 0.4 + 0.4 * (i / max(n, 1))
            ),
        )
        from cxloop.content.sample import load_sample_content
        from cxloop.experience.example import write_example

        write_example(ws_dir)  # the documented architecture.toml, fitted to the sample data
        content = load_sample_content(ws, generated.content)  # assets, views, survey
        report("resolving identities", 0.8)
        summary = ws.profiles.build()
        from cxloop.report import build_report

        report("scorecard, journeys, lifetime value and the report", 0.85)
        # The report computes every analysis once; the headlines read them from it.
        context: dict[str, Any] = {}
        report_path = build_report(ws, out_dir / "report.html", context=context)
        headline = _headline(ws, people, summary.to_dict(), context["scorecard"]["metrics"])
        headline.update(_later_headlines(context))
    report("done", 1.0)
    return {
        "workspace": str(ws_dir),
        "data": str(data_dir),
        "ingest": {
            f.kind: {"rows": f.rows, "loaded": f.loaded, "rejected": f.rejected}
            for f in ingest.files
        },
        "rejects_path": ingest.rejects_path,
        "content": content,
        "profiles": summary.to_dict(),
        "headline": headline,
        "report": str(report_path),
    }


MARKER = ".cxloop-demo"


def _claim(out_dir: Path) -> None:
    """Make sure the demo owns `out_dir`: new, empty, or made by an earlier demo.

    The demo replaces its own workspace and data on every run; it must never touch a
    folder the user made, even one that holds a workspace called `workspace`.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise CxloopError(f"{out_dir} exists and is not a folder; choose another --out")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise CxloopError(
            f"{out_dir} is not empty and was not made by `cxloop demo`; "
            "choose another --out (the demo replaces what it made before)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text(
        "This folder was made by `cxloop demo`; the next demo run replaces its contents.\n",
        encoding="utf-8",
    )


def _later_headlines(context: dict[str, Any]) -> dict[str, Any]:
    """Headlines of the analyses the report computed (journeys, lifetime value, moments,
    voice of the customer)."""
    out: dict[str, Any] = {}
    journey = context.get("journey")
    if journey and journey["loop"]["completion_rate"]["value"] is not None:
        rate = journey["loop"]["completion_rate"]
        out["customers who completed the loop %"] = (
            f"{100 * rate['value']:.1f} [{100 * rate['ci_low']:.1f}, "
            f"{100 * rate['ci_high']:.1f}] (n={rate['n']:,})"
        )
    clv = context.get("clv")
    if clv:
        out[f"predicted {clv['horizon_months']}-month CLV (USD)"] = f"{clv['totals']['clv']:,.2f}"
        out["valuable customers at risk"] = clv["at_risk"]["count"]
    moments = context.get("moments")
    top = next((m for m in (moments or {}).get("moments", []) if m["significant"]), None)
    if top:
        out["top pivotal moment (NPS points)"] = (
            f"{top['touchpoint']} {top['condition']}: {top['effect']:+.2f} "
            f"[{top['ci_low']:+.2f}, {top['ci_high']:+.2f}]"
        )
    content = context.get("content")
    best = next(
        (a for a in (content or {}).get("assets", []) if a["lift"] and a["lift"]["significant"]),
        None,
    )
    if best:
        lift = best["lift"]
        out["content that moves customers (NPS points)"] = (
            f"{best['content_id']} {best['title']} at {best['moment']}: {lift['effect']:+.2f} "
            f"[{lift['ci_low']:+.2f}, {lift['ci_high']:+.2f}] (naive {lift['naive_effect']:+.2f})"
        )
    architecture = context.get("architecture")
    if architecture:
        out["experience architecture gaps"] = len(architecture["gaps"])
    voc = context.get("voc")
    if voc and voc["sentiment"]["overall"]["scored"]:
        net = voc["sentiment"]["overall"]["net"]
        out["net text sentiment [95% CI]"] = (
            f"{net['value']:+.2f} [{net['ci_low']:+.2f}, {net['ci_high']:+.2f}] (n={net['n']:,})"
        )
        reasons = voc["reasons"].get("overall", {}).get("detractor", [])
        if reasons:
            out["what sets detractors apart"] = reasons[0]["item"]
        out["genuine advocacy mentions"] = voc["advocacy"]["genuine"]["mentions"]
    return out


def _load_order(kind: str) -> int:
    order = ["touchpoints", "customers", "orders", "events", "feedback", "mentions", "referrals"]
    return order.index(kind) if kind in order else len(order)


def _headline(
    ws: Any, people: int, profiles: dict[str, Any], metrics: dict[str, Any]
) -> dict[str, Any]:
    e = ws.engine
    orders, buyers, revenue = e.fetchone(
        "SELECT count(*), count(DISTINCT l.profile_id), sum(o.amount) FROM orders o "
        "JOIN profile_links l ON l.kind = 'orders' AND l.source = o.source "
        "AND l.id = o.order_id WHERE o.status = 'completed'"
    )

    def ci(name: str, scale: float = 1.0, digits: int = 1) -> str:
        m = metrics.get(name) or {}
        if m.get("value") is None:
            return "n/a"
        v, lo, hi = (scale * m[k] for k in ("value", "ci_low", "ci_high"))
        return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] (n={m['n']:,})"

    return {
        "people simulated": people,
        "unified profiles (known)": profiles["known_profiles"],
        "anonymous-only visitors": profiles["anonymous_profiles"],
        "source records merged": profiles["merged_records"],
        "customers who bought": int(buyers or 0),
        "completed orders": int(orders or 0),
        "revenue (completed, USD)": f"{float(revenue or 0):,.2f}",
        "events": ws.count("events"),
        "feedback answers": ws.count("feedback"),
        "social mentions": ws.count("mentions"),
        "referrals": ws.count("referrals"),
        "NPS [95% CI]": ci("nps"),
        "CES mean [95% CI]": ci("ces", digits=2),
        "CSAT % [95% CI]": ci("csat", 100),
        "retention rate % [95% CI]": ci("retention_rate", 100),
        "rows rejected (kept with reasons)": int(
            e.scalar("SELECT count(*) FROM ingest_rejects") or 0
        ),
    }
