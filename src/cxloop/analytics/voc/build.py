"""`cxloop voc`: sentiment, themes, detractor and promoter reasons, advocacy intent and the
competitive benchmark, from every text of the workspace (docs/voc.md).

The per-text work (cleaning, sentiment, intent) is in signals.py and cached; this module fits
the themes, stores them per text, and turns counts into estimates with their n and 95%
intervals: Student t for mean sentiment, Wilson for shares, the adjusted-Wald interval of a
difference of multinomial proportions for net sentiment and NPS, Fisher's z for Spearman's
rank correlation of text sentiment with the score the customer gave.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from scipy import stats as sps

from cxloop.analytics import stats
from cxloop.analytics.export import check_export_path
from cxloop.analytics.periods import parse_period
from cxloop.analytics.voc.competitive import competitive_benchmark
from cxloop.analytics.voc.reasons import theme_reasons
from cxloop.analytics.voc.signals import (
    ensure_signals,
    store_themes,
    stored_theme_model,
    themes_current,
)
from cxloop.analytics.voc.text import TextTruncatedWarning, clean_texts
from cxloop.analytics.voc.themes import discover_themes

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

CHANNELS = ("survey", "review", "social")
INTENTS = ("genuine", "amplification", "complaint", "neutral", "unclassified")
TEXTS_PER_THEME = 50
"""Distinct texts per discovered theme at least: with fewer texts, fewer themes are tried
(coherence keeps rising with k on templated text, so it alone would always pick the most)."""

OURS = "(kind = 'feedback' OR lower(trim(brand)) = lower(trim($brand)))"
"""Texts about us: all feedback, and mentions of our brand."""


@dataclass(frozen=True)
class VocSettings:
    """What `build_voc` computes; defaults from `[voc]` and `[scorecard] period`."""

    period: str = "month"
    top_touchpoints: int = 5

    @classmethod
    def from_config(cls, ws: Workspace, **overrides: Any) -> VocSettings:
        values: dict[str, Any] = {"period": ws.config.scorecard.period}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _estimate(d: dict[str, Any]) -> dict[str, Any]:
    def clean(x: Any) -> float | None:
        x = float(np.asarray(x))
        return x if math.isfinite(x) else None

    return {
        "value": clean(d["value"]),
        "n": int(np.asarray(d["n"])),
        "ci_low": clean(d["ci_low"]),
        "ci_high": clean(d["ci_high"]),
    }


def _net(pos: int, neu: int, neg: int) -> dict[str, Any]:
    """Net sentiment = positive share - negative share, in [-1, 1], with the interval of a
    difference of multinomial proportions (the NPS interval, on a -1..1 scale)."""
    d = stats.nps(pos, neu, neg)
    out = _estimate(d)
    for key in ("value", "ci_low", "ci_high"):
        out[key] = None if out[key] is None else out[key] / 100.0
    return out


def _sentiment_summary(row: dict[str, Any]) -> dict[str, Any]:
    """Mean score, label shares and net sentiment of a group of scored texts."""
    n = int(row["scored"] or 0)
    pos, neu, neg = (int(row[k] or 0) for k in ("positive", "neutral", "negative"))
    return {
        "texts": int(row["texts"] or 0),
        "scored": n,
        "mean": _estimate(stats.mean(n, row["mean"] or 0.0, row["var"] or 0.0)),
        "positive": _estimate(stats.proportion(pos, n)),
        "negative": _estimate(stats.proportion(neg, n)),
        "net": _net(pos, neu, neg),
    }


SUMMARY = """count(*) AS texts, count(sentiment) AS scored, avg(sentiment) AS mean,
var_samp(sentiment) AS var,
count(*) FILTER (WHERE label = 'positive') AS positive,
count(*) FILTER (WHERE label = 'neutral') AS neutral,
count(*) FILTER (WHERE label = 'negative') AS negative"""


def _rows(ws: Workspace, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    used = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
    cursor = ws.engine.execute(sql, used or None)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _sentiment(ws: Workspace, brand: str) -> dict[str, Any]:
    text = f"FROM voc_texts WHERE {OURS} AND status <> 'no_text'"
    overall = _rows(ws, f"SELECT {SUMMARY} {text}", {"brand": brand})[0]
    by_source = _rows(
        ws, f"SELECT channel, {SUMMARY} {text} GROUP BY channel ORDER BY channel", {"brand": brand}
    )
    by_touchpoint = _rows(
        ws,
        f"SELECT touchpoint, {SUMMARY} {text} AND touchpoint IS NOT NULL "
        "GROUP BY touchpoint ORDER BY count(*) DESC, touchpoint",
        {"brand": brand},
    )
    unscored = dict(
        ws.engine.fetchall(
            f"SELECT status, count(*) {text} AND sentiment IS NULL GROUP BY status ORDER BY 1",
            {"brand": brand},
        )
    )
    return {
        "overall": _sentiment_summary(overall),
        "by_source": [{"source": r["channel"], **_sentiment_summary(r)} for r in by_source],
        "by_touchpoint": [
            {"touchpoint": r["touchpoint"], **_sentiment_summary(r)} for r in by_touchpoint
        ],
        "unscored": unscored,
        "agreement": _agreement(ws),
    }


def _spearman(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Spearman's rho with a Fisher-z 95% interval (SE 1.06 / sqrt(n - 3), Fieller, Hartley &
    Pearson 1957), the usual approximation for rank correlations."""
    n = len(x)
    if n < 10 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"value": None, "n": n, "ci_low": None, "ci_high": None}
    rho = float(sps.spearmanr(x, y).statistic)
    z, se = np.arctanh(np.clip(rho, -0.999999, 0.999999)), 1.06 / math.sqrt(n - 3)
    return {
        "value": rho,
        "n": n,
        "ci_low": float(np.tanh(z - 1.959964 * se)),
        "ci_high": float(np.tanh(z + 1.959964 * se)),
    }


def _agreement(ws: Workspace) -> list[dict[str, Any]]:
    """Does text sentiment agree with the score the customer gave with it? Per metric."""
    out = []
    for (metric,) in ws.engine.fetchall(
        "SELECT DISTINCT metric FROM voc_texts WHERE kind = 'feedback' AND score IS NOT NULL "
        "AND sentiment IS NOT NULL ORDER BY 1"
    ):
        pairs = np.array(
            ws.engine.fetchall(
                "SELECT sentiment, score FROM voc_texts WHERE kind = 'feedback' AND metric = ? "
                "AND score IS NOT NULL AND sentiment IS NOT NULL",
                [metric],
            ),
            dtype=float,
        )
        out.append({"metric": metric, "spearman": _spearman(pairs[:, 0], pairs[:, 1])})
    return out


def _fit_themes(ws: Workspace, brands: list[str]) -> dict[str, Any]:
    """Fit (or reuse) the theme model and store each text's themes in `voc_text_themes`."""
    if themes_current(ws):
        return json.loads(stored_theme_model(ws) or "{}")
    v = ws.config.voc
    rows = ws.engine.fetchall(
        "SELECT t.kind, t.source, t.id, c.text FROM voc_texts t "
        "JOIN (SELECT 'feedback' AS kind, source, response_id AS id, text FROM feedback "
        "      UNION ALL SELECT 'mentions', 'default', mention_id, text FROM mentions) c "
        "USING (kind, source, id) WHERE t.status IN ('ok', 'truncated')"
    )
    unique = sorted({r[3] for r in rows})
    with warnings.catch_warnings():  # truncation was reported when sentiment was scored
        warnings.simplefilter("ignore", TextTruncatedWarning)
        cleaned_texts = clean_texts(unique, v.max_chars)
    cleaned = {raw: c.text for raw, c in zip(unique, cleaned_texts, strict=True)}
    kinds, sources, ids, themes = [], [], [], []
    model_doc: dict[str, Any] = {"themes": [], "k": 0, "criterion": None, "scores": {}}
    if rows:
        model, per_text = discover_themes(
            [cleaned[r[3]] for r in rows],
            pinned=v.pinned,
            k=v.themes or None,
            k_range=(v.min_themes, _max_themes(len(unique), v.min_themes, v.max_themes)),
            stop_words=brands,
            min_share=v.theme_share,
        )
        for r, names in zip(rows, per_text, strict=True):
            for name in names:
                kinds.append(r[0])
                sources.append(r[1])
                ids.append(r[2])
                themes.append(name)
        model_doc = {
            "themes": [
                {"theme": t.name, "terms": list(t.terms), "pinned": t.pinned} for t in model.themes
            ],
            "k": model.k_chosen,
            "criterion": model.criterion,
            "scores": {str(k): s for k, s in model.scores.items()},
        }
    table = pa.table(
        {
            "kind": pa.array(kinds, pa.string()),
            "source": pa.array(sources, pa.string()),
            "id": pa.array(ids, pa.string()),
            "theme": pa.array(themes, pa.string()),
        }
    )
    store_themes(ws, table, json.dumps(model_doc))
    return model_doc


def _max_themes(distinct_texts: int, low: int, high: int) -> int:
    """The largest k tried: `high`, or fewer when there are not `TEXTS_PER_THEME` distinct
    texts per theme."""
    return max(low, min(high, distinct_texts // TEXTS_PER_THEME))


def _themes(ws: Workspace, model: dict[str, Any], brand: str, settings: VocSettings) -> list:
    """Per theme: volume among texts about us, sentiment, NPS of the people who mention it
    (their latest NPS answer), the touchpoints it is linked to, and its trend."""
    period = parse_period(settings.period)
    joined = f"FROM voc_text_themes th JOIN voc_texts t USING (kind, source, id) WHERE {OURS}"
    total = ws.engine.scalar(
        f"SELECT count(*) FROM voc_texts WHERE {OURS} AND status IN ('ok', 'truncated')",
        {"brand": brand},
    )
    summary = {
        r["theme"]: r
        for r in _rows(ws, f"SELECT theme, {SUMMARY} {joined} GROUP BY theme", {"brand": brand})
    }
    nps_rows = {
        r["theme"]: r
        for r in _rows(
            ws,
            f"""WITH person AS (
                SELECT l.profile_id,
                       arg_max(CAST(f.score AS DOUBLE), (f.submitted_at, f.response_id)) AS score
                FROM feedback f JOIN profile_links l ON l.kind = 'feedback'
                  AND l.source = f.source AND l.id = f.response_id
                WHERE f.metric = 'nps' AND f.score IS NOT NULL AND l.profile_id IS NOT NULL
                GROUP BY l.profile_id
            ),
            mentioners AS (SELECT DISTINCT theme, profile_id {joined}
                           AND profile_id IS NOT NULL)
            SELECT m.theme, count(*) FILTER (WHERE p.score >= 9) AS promoters,
                   count(*) FILTER (WHERE p.score BETWEEN 7 AND 8) AS passives,
                   count(*) FILTER (WHERE p.score <= 6) AS detractors
            FROM mentioners m JOIN person p USING (profile_id) GROUP BY m.theme""",
            {"brand": brand},
        )
    }
    touch = _rows(
        ws,
        f"SELECT theme, touchpoint, count(*) AS texts {joined} AND touchpoint IS NOT NULL "
        "GROUP BY theme, touchpoint ORDER BY theme, texts DESC, touchpoint",
        {"brand": brand},
    )
    trend = _rows(
        ws,
        f"SELECT theme, {period.trunc_sql('CAST(occurred_at AS DATE)')} AS start, "
        f"count(*) AS volume, avg(sentiment) AS sentiment {joined} "
        "GROUP BY ALL ORDER BY theme, start",
        {"brand": brand},
    )
    out = []
    for t in model.get("themes", []):
        name = t["theme"]
        s = summary.get(
            name,
            {
                "texts": 0,
                "scored": 0,
                "mean": None,
                "var": None,
                "positive": 0,
                "neutral": 0,
                "negative": 0,
            },
        )
        n = nps_rows.get(name)
        nps = (
            stats.nps(*(n[k] for k in ("promoters", "passives", "detractors")))
            if n
            else (stats.nps(0, 0, 0))
        )
        out.append(
            {
                "theme": name,
                "terms": t["terms"],
                "pinned": t["pinned"],
                "volume": int(s["texts"] or 0),
                "share": _estimate(stats.proportion(int(s["texts"] or 0), int(total or 0))),
                "sentiment": _sentiment_summary(s),
                "nps": _estimate(nps),
                "touchpoints": [
                    {"touchpoint": r["touchpoint"], "texts": int(r["texts"])}
                    for r in touch
                    if r["theme"] == name
                ][: settings.top_touchpoints],
                "trend": [
                    {
                        "period": period.label(r["start"]),
                        "volume": int(r["volume"]),
                        "sentiment": None if r["sentiment"] is None else float(r["sentiment"]),
                    }
                    for r in trend
                    if r["theme"] == name
                ],
            }
        )
    out.sort(key=lambda x: (-x["volume"], x["theme"]))
    return out


def _reasons(ws: Workspace) -> dict[str, Any]:
    """Themes that set detractors apart from promoters, from NPS answers with a verbatim."""
    rows = ws.engine.fetchall(
        "SELECT t.score, t.touchpoint, list(th.theme ORDER BY th.theme) FILTER "
        "(WHERE th.theme IS NOT NULL) FROM voc_texts t LEFT JOIN voc_text_themes th "
        "USING (kind, source, id) WHERE t.kind = 'feedback' AND t.metric = 'nps' "
        "AND t.score IS NOT NULL GROUP BY t.kind, t.source, t.id, t.score, t.touchpoint"
    )
    return theme_reasons([r[2] or [] for r in rows], [r[0] for r in rows], [r[1] for r in rows])


def _advocacy(ws: Workspace, brand: str) -> dict[str, Any]:
    """Our brand's mentions by intent: count, share (Wilson) and reach."""
    found = {
        r[0]: r
        for r in ws.engine.fetchall(
            "SELECT intent, count(*), coalesce(sum(reach), 0) FROM voc_texts "
            "WHERE kind = 'mentions' AND lower(trim(brand)) = lower(trim(?)) GROUP BY intent",
            [brand],
        )
    }
    total = sum(int(r[1]) for r in found.values())
    return {
        intent: {
            "mentions": int(found[intent][1]) if intent in found else 0,
            "share": _estimate(
                stats.proportion(int(found[intent][1]) if intent in found else 0, total)
            ),
            "reach": int(found[intent][2]) if intent in found else 0,
        }
        for intent in INTENTS
    }


def _brand_themes(ws: Workspace, top: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Per brand (lower case, trimmed): its mentions' most frequent themes, with the share of
    its scorable mentions (Wilson) and the net sentiment of those mentions."""
    scorable = dict(
        ws.engine.fetchall(
            "SELECT lower(trim(brand)), count(*) FROM voc_texts WHERE kind = 'mentions' "
            "AND status IN ('ok', 'truncated') GROUP BY 1"
        )
    )
    rows = ws.engine.fetchall(
        "SELECT lower(trim(t.brand)) AS brand, th.theme, count(*) AS n, "
        "count(*) FILTER (WHERE t.label = 'positive'), count(*) FILTER (WHERE t.label = "
        "'neutral'), count(*) FILTER (WHERE t.label = 'negative') "
        "FROM voc_text_themes th JOIN voc_texts t USING (kind, source, id) "
        "WHERE t.kind = 'mentions' GROUP BY ALL ORDER BY brand, n DESC, th.theme"
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for brand, theme, n, pos, neu, neg in rows:
        items = out.setdefault(brand, [])
        if len(items) < top:
            items.append(
                {
                    "theme": theme,
                    "mentions": int(n),
                    "share": _estimate(stats.proportion(int(n), int(scorable.get(brand, 0)))),
                    "net_sentiment": _net(int(pos), int(neu), int(neg)),
                }
            )
    return out


def _competitive(ws: Workspace, settings: VocSettings) -> tuple[list, list[str]]:
    """Share of voice and net sentiment per tracked brand (texts with words only for net)."""
    b = ws.config.brand
    period = parse_period(settings.period)
    rows = ws.engine.fetchall(
        f"SELECT brand, label, {period.trunc_sql('CAST(occurred_at AS DATE)')} FROM voc_texts "
        "WHERE kind = 'mentions' ORDER BY brand, occurred_at"
    )
    if not rows:
        return [], []
    result = competitive_benchmark(
        [r[0] for r in rows],
        [r[1] for r in rows],
        our_brand=b.name,
        competitors=list(b.competitors),
        periods=[period.label(r[2]) for r in rows],
    )
    themes = _brand_themes(ws)
    for row in result:  # the headline interval, that of net sentiment, at the row's top level
        row["ci_low"] = row["net_sentiment"]["ci_low"]
        row["ci_high"] = row["net_sentiment"]["ci_high"]
        row["top_themes"] = themes.get(row["brand"].strip().lower(), [])
    notes = []
    untracked = result[0].get("untracked_mentions", 0) if result else 0
    if untracked:
        notes.append(
            f"{untracked:,} mentions name brands not in [brand] (ours or competitors): "
            "left out of the competitive benchmark"
        )
    return result, notes


def build_voc(ws: Workspace, settings: VocSettings | None = None) -> dict[str, Any]:
    """The voice-of-the-customer document (`cxloop voc --json`)."""
    settings = settings or VocSettings.from_config(ws)
    parse_period(settings.period)
    ensure_signals(ws)
    brand = ws.config.brand.name
    brands = [brand, *ws.config.brand.competitors]
    model = _fit_themes(ws, brands)
    competitive, notes = _competitive(ws, settings)
    texts = ws.engine.scalar("SELECT count(*) FROM voc_texts WHERE status <> 'no_text'")
    doc: dict[str, Any] = {
        "settings": asdict(settings),
        "texts": int(texts or 0),
        "sentiment": _sentiment(ws, brand),
        "themes": _themes(ws, model, brand, settings),
        "theme_model": {k: model.get(k) for k in ("k", "criterion", "scores")},
        "reasons": _reasons(ws),
        "advocacy": _advocacy(ws, brand),
        "competitive": competitive,
        "notes": notes,
    }
    unscored = doc["sentiment"]["unscored"]
    if unscored.get("non_english"):
        doc["notes"].append(
            f"{unscored['non_english']:,} texts are not in English: marked, not scored"
        )
    truncated = ws.engine.scalar("SELECT count(*) FROM voc_texts WHERE status = 'truncated'")
    if truncated:
        doc["notes"].append(
            f"{truncated:,} texts longer than {ws.config.voc.max_chars:,} characters were "
            "truncated before analysis"
        )
    return doc


def export_voc(ws: Workspace, path: Path) -> int:
    """One row per text: key, channel, sentiment, label, status, language, themes, intent."""
    target = check_export_path(path)
    ensure_signals(ws)
    _fit_themes(ws, [ws.config.brand.name, *ws.config.brand.competitors])
    sql = (
        "SELECT t.kind, t.source, t.id, t.channel, t.profile_id, t.occurred_at, t.sentiment, "
        "t.label, t.status, t.language, t.intent, "
        "string_agg(th.theme, '; ' ORDER BY th.theme) AS themes "
        "FROM voc_texts t LEFT JOIN voc_text_themes th USING (kind, source, id) "
        "GROUP BY ALL ORDER BY t.kind, t.source, t.id"
    )
    ws.engine.write(sql, target)
    return int(ws.engine.scalar("SELECT count(*) FROM voc_texts"))
