"""Report section of the advocacy program: advocates, referrals and their fraud checks, the
cost of a referred customer against paid channels, the ladder of asks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxloop.report.document import Section, bullet_list, html_table, paragraph

if TYPE_CHECKING:
    from cxloop.workspace import Workspace


def advocacy_sections(ws: Workspace, context: dict[str, Any]) -> list[Section]:
    """The program report as one section (a line saying how to enable it when it is off)."""
    if not ws.config.advocacy.enabled:
        return [Section("Advocacy program", "advocacy",
                        "Not enabled: set [advocacy] enabled = true in cxloop.toml.")]  # fmt: skip
    from cxloop.programs.advocacy.reactions import program_ledger
    from cxloop.programs.advocacy.report import advocacy_report

    doc = advocacy_report(ws, program_ledger(ws), ws.config.advocacy, limit=10)
    context["advocacy"] = doc
    return [advocacy_section(doc)]


def _ci(estimate: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    if estimate.get("value") is None:
        return "n/a"
    lo, hi = estimate["ci_low"], estimate["ci_high"]
    return (f"{estimate['value'] * scale:.{digits}f} [{lo * scale:.{digits}f}, "
            f"{hi * scale:.{digits}f}] (n={estimate['n']:,})")  # fmt: skip


def advocacy_section(doc: dict[str, Any]) -> Section:
    r, cac, currency = doc["referrals"], doc["cac"], doc["currency"]
    items = [
        f"{doc['advocates']['count']:,} advocates (people with an intentional act); "
        f"{doc['potential_advocates']['count']:,} promoters have not acted yet.",
        f"Referrals: {r['made']:,} made, {r['converted']:,} converted "
        f"({_ci(r['conversion_rate'], 100)} %), revenue {r['revenue']} {currency}; "
        f"{r['flagged']:,} held for review by the fraud checks.",
        f"Cost of a referred customer: {cac['referral_cac'] or 'n/a'} {currency} against a paid "
        f"CAC of {cac['paid_cac']} {currency}.",
        f"Public reviews: {doc['reviews']['generated']:,}, "
        f"rewarded {doc['reviews']['rewarded']:,}.",
    ]
    clv = doc.get("clv") or {}
    if clv.get("available"):
        items.append(f"Predicted 52-week CLV: referred {_ci(clv['referred'], digits=2)}, "
                     f"others {_ci(clv['others'], digits=2)} {currency}.")  # fmt: skip
    effect = doc["ask_effect"]
    items.append(
        f"Advocated within {effect['days']} days: asked {_ci(effect['asked'], 100)} %, promoters "
        f"never asked {_ci(effect['not_asked'], 100)} % (an association, not an experiment)."
    )
    blocks = [bullet_list(items)]
    parts = ("referrals", "converted", "reviews", "mentions", "references", "reach")
    top = [[a["profile_id"], a["level"] or "", *(a["parts"][p] for p in parts), a["score"]]
           for a in doc["advocates"]["top"]]  # fmt: skip
    if top:
        blocks.append(paragraph("Leaderboard: the score's parts explain each rank."))
        blocks.append(html_table(["profile", "level", *parts, "score"], top, text_columns=2))
    flags = [[name, n] for name, n in r["flags"].items()]
    if flags:
        blocks.append(paragraph("Why referrals are held for review:"))
        blocks.append(html_table(["fraud check", "referrals"], flags))
    asks = [[a["ask"], a["issued"], a["completed"], _ci(a["completion_rate"], 100)]
            for a in doc["asks"]]  # fmt: skip
    blocks.append(html_table(["ask", "issued", "completed", "completion %"], asks))
    return Section(
        "Advocacy program",
        "advocacy",
        "Who advocates, who could, what referrals bring and what they cost (docs/advocacy.md).",
        blocks,
    )
