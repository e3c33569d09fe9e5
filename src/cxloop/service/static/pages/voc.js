// Voice of the customer: sentiment and its trend, themes, why detractors are detractors,
// advocacy intent, competitors. Mirrors src/cxloop/report/voc_sections.py.

import { barsOverTime, chart, hBars, intervalDots, trendWithInterval } from "../charts.js";
import { h, int, loading, note, num, pct, PERIODS, select, table, withCi, words } from "../lib.js";

export const title = "Voice of the customer";

const INTENTS = [
  ["genuine", "genuine advocacy"], ["amplification", "amplification (likes, shares)"],
  ["complaint", "complaint"], ["neutral", "neutral"], ["unclassified", "unclassified"],
];
const Z95 = 1.959964;

const signed = (x) => num(x, 2, { signed: true });

export async function render(ctx) {
  const { root, params } = ctx;
  root.append(h("div", { class: "page-head" },
    h("div", {},
      h("h1", { tabindex: "-1" }, "Voice of the customer"),
      h("p", { class: "muted" }, "Sentiment (VADER) of every verbatim, review and mention, the " +
        "themes discovered in them, what sets detractors apart, advocacy intent and the " +
        "competitive benchmark.")),
    h("form", { class: "filters", "aria-label": "Voice of the customer filters", onsubmit: (e) => e.preventDefault() },
      select("f-period", "Trend period", [["", "Default"], ...PERIODS], params.period ?? "",
        (v) => ctx.navigate({ ...params, period: v })))));
  const wait = loading("the voice of the customer");
  root.append(wait);
  const doc = await ctx.api("/v1/voc", { period: params.period });
  wait.remove();
  const overall = doc.sentiment?.overall ?? {};
  if (!overall.texts && !doc.competitive?.length) {
    root.append(note("No customer texts are loaded yet."));
    return;
  }
  root.append(summary(doc), trends(doc), themes(doc), reasons(doc), advocacy(doc), competitors(doc));
}

function summary(doc) {
  const overall = doc.sentiment.overall;
  const agreement = Object.fromEntries((doc.sentiment.agreement ?? []).map((a) => [a.metric, a.spearman]));
  const items = [`${int(overall.texts)} texts about us (surveys, reviews, our brand's mentions); ` +
    `net sentiment ${withCi(overall.net, signed)} (share positive minus share negative, ` +
    `n = ${int(overall.net?.n)}).`];
  if (agreement.nps?.value !== null && agreement.nps?.value !== undefined) {
    items.push(`Text sentiment agrees with the NPS given with it: Spearman ` +
      `${withCi(agreement.nps, signed)} over ${int(agreement.nps.n)} answers.`);
  }
  const r = doc.reasons?.overall ?? {};
  if (r.detractor?.length) items.push(`What sets detractors apart: ${r.detractor.slice(0, 3).map((x) => x.item).join("; ")}.`);
  if (r.promoter?.length) items.push(`What promoters talk about: ${r.promoter.slice(0, 3).map((x) => x.item).join("; ")}.`);
  const adv = doc.advocacy ?? {};
  if (adv.genuine) {
    items.push(`Our mentions: ${int(adv.genuine.mentions)} genuine advocacy ` +
      `(${withCi(adv.genuine.share, pct)}), ${int(adv.amplification?.mentions)} amplification, ` +
      `${int(adv.complaint?.mentions)} complaints.`);
  }
  return h("section", { class: "card", "data-section": "summary" }, h("h2", {}, "In short"),
    h("ul", { class: "findings" }, items.map((t) => h("li", {}, t))),
    ...(doc.notes ?? []).map((n) => h("p", { class: "muted small" }, `Note: ${n}`)));
}

function est(m, scale = 1) {
  return { value: m.value * scale, ci_low: (m.ci_low ?? m.value) * scale,
    ci_high: (m.ci_high ?? m.value) * scale, n: m.n };
}

const known = (m) => m && m.value !== null && m.value !== undefined;

function trends(doc) {
  const grid = h("div", { class: "grid" });
  const ours = (doc.competitive ?? []).find((c) => c.role === "ours");
  const points = (ours?.trend ?? []).filter((t) => known(t.net_sentiment)).map((t) => ({
    period: t.period, start: periodStart(t.period), series: `${ours.brand} mentions`, ...est(t.net_sentiment) }));
  if (points.length) {
    grid.append(h("div", { class: "card" }, chart("sentiment-trend", trendWithInterval(points, {
      title: `Net sentiment of mentions of ${ours.brand}`, yTitle: "net sentiment (−1 to 1)",
      subtitle: "Share positive minus share negative of our social mentions per period; " +
        "bands: 95% CI; n in the tooltip." }))));
  }
  const top = (doc.themes ?? []).slice(0, 6);
  const volumes = top.flatMap((t) => (t.trend ?? []).map((p) => ({
    period: p.period, series: t.theme, value: p.volume ?? 0 })));
  if (volumes.length) {
    grid.append(h("div", { class: "card" }, chart("themes-trend", barsOverTime(volumes, {
      title: "What customers talk about over time", subtitle: "Texts per period for the six " +
        "largest themes.", yTitle: "texts", stack: true }))));
  }
  const sources = (doc.sentiment.by_source ?? []).filter((s) => known(s.net));
  if (sources.length) {
    grid.append(h("div", { class: "card" }, chart("sentiment-sources", intervalDots(
      sources.map((s) => ({ group: s.source, ...est(s.net) })),
      { title: "Net sentiment by source", xTitle: "net sentiment, 95% CI", yTitle: "source", zero: true }))));
  }
  return h("section", { class: "block", "data-section": "sentiment" }, h("h2", {}, "Sentiment"),
    grid.childElementCount ? grid : note("No scored texts in this data."));
}

function periodStart(label) {
  const quarter = /^(\d{4})-Q([1-4])$/.exec(label);
  if (quarter) return `${quarter[1]}-${String(3 * quarter[2] - 2).padStart(2, "0")}-01`;
  if (/^\d{4}-\d{2}$/.test(label)) return `${label}-01`;
  if (/^\d{4}$/.test(label)) return `${label}-01-01`;
  return label;
}

function themes(doc) {
  const list = (doc.themes ?? []).slice(0, 12);
  const box = h("section", { class: "block", "data-section": "themes" }, h("h2", {}, "Themes"));
  if (!list.length) return append(box, note("No themes: too few texts to discover them."));
  const rows = list.filter((t) => known(t.sentiment?.mean) && t.sentiment.mean.ci_low !== null)
    .map((t) => ({ group: t.theme, ...est(t.sentiment.mean) }));
  const grid = h("div", { class: "grid" });
  if (rows.length) {
    grid.append(h("div", { class: "card" }, chart("themes-sentiment", intervalDots(rows, {
      title: "Mean sentiment per theme", xTitle: "sentiment (−1 to 1), 95% CI", yTitle: "theme",
      zero: true }))));
  }
  grid.append(h("div", { class: "card" }, table("Themes", [
    { label: "theme", text: true }, { label: "texts" }, { label: "share [95% CI]" },
    { label: "sentiment [95% CI]" }, { label: "NPS of mentioners" }, { label: "touchpoints", text: true }],
  list.map((t) => [`${t.theme}${t.pinned ? " (pinned)" : ""}`, int(t.volume), withCi(t.share, pct),
    withCi(t.sentiment?.mean, signed), withCi(t.nps, (x) => num(x, 0, { signed: true })),
    (t.touchpoints ?? []).slice(0, 3).map((x) => words(x.touchpoint)).join(", ")]))));
  return append(box, grid);
}

function reasons(doc) {
  const r = doc.reasons?.overall ?? {};
  const items = [...(r.detractor ?? []).map((x) => ({ ...x, side: "detractors" })),
    ...(r.promoter ?? []).map((x) => ({ ...x, side: "promoters" }))];
  const box = h("section", { class: "block", "data-section": "reasons" },
    h("h2", {}, "Why detractors are detractors"),
    h("p", { class: "muted small" }, doc.reasons?.convention ?? ""));
  if (!items.length) {
    return append(box, note(`No theme sets detractors apart from promoters (${int(r.detractors)} ` +
      `detractors, ${int(r.promoters)} promoters with texts).`));
  }
  return append(box, h("div", { class: "card" }, chart("reasons", intervalDots(
    items.map((x) => ({ group: x.item, value: x.delta, ci_low: x.delta - Z95 * x.se,
      ci_high: x.delta + Z95 * x.se, n: (x.detractors ?? 0) + (x.promoters ?? 0) })),
    { title: "Themes that set detractors and promoters apart",
      subtitle: `Log-odds ratio (promoters vs detractors) with its 95% CI; left of zero: typical ` +
        `of detractors. ${int(r.detractors)} detractors, ${int(r.promoters)} promoters.`,
      xTitle: "log-odds ratio, 95% CI", yTitle: "theme", zero: true, sort: "x" }))));
}

function advocacy(doc) {
  const adv = doc.advocacy ?? {};
  const rows = INTENTS.filter(([k]) => adv[k]).map(([k, label]) => ({
    group: label, value: adv[k].mentions, label: `${int(adv[k].mentions)} · ${withCi(adv[k].share, pct)}`,
    reach: adv[k].reach }));
  const box = h("section", { class: "block", "data-section": "advocacy" },
    h("h2", {}, "Advocacy intent of our mentions"),
    h("p", { class: "muted small" }, "A recommendation, a referral or a public review is advocacy; " +
      "a like or a share is amplification. They are counted apart."));
  if (!rows.length) return append(box, note("No mentions of us."));
  return append(box, h("div", { class: "card" }, chart("advocacy-intents", hBars(rows, {
    title: "Mentions by intent", subtitle: "Count and share of our mentions with its 95% CI.",
    xTitle: "mentions", yTitle: "intent", sort: null, labelField: "label",
    tooltip: [{ field: "reach", type: "quantitative", format: ",", title: "reach" }] }))));
}

function competitors(doc) {
  const list = doc.competitive ?? [];
  const box = h("section", { class: "block", "data-section": "competitors" },
    h("h2", {}, "Competitive benchmark"),
    h("p", { class: "muted small" }, "From social mentions of each tracked brand."));
  if (!list.length) return append(box, note("No competitors are configured ([brand] competitors)."));
  const grid = h("div", { class: "grid" });
  const sov = list.filter((c) => known(c.share_of_voice));
  if (sov.length) {
    grid.append(h("div", { class: "card" }, chart("competitors-sov", intervalDots(
      sov.map((c) => ({ group: c.brand, ...est(c.share_of_voice, 100) })),
      { title: "Share of voice", xTitle: "% of tracked mentions, 95% CI", yTitle: "brand", format: ".1f" }))));
  }
  const net = list.filter((c) => known(c.net_sentiment));
  if (net.length) {
    grid.append(h("div", { class: "card" }, chart("competitors-sentiment", intervalDots(
      net.map((c) => ({ group: c.brand, ...est(c.net_sentiment) })),
      { title: "Net sentiment by brand", xTitle: "net sentiment, 95% CI", yTitle: "brand", zero: true }))));
  }
  grid.append(h("div", { class: "card" }, table("Brands", [
    { label: "brand", text: true }, { label: "mentions" }, { label: "share of voice [95% CI]" },
    { label: "net sentiment [95% CI]" }, { label: "vs ours [95% CI]" }, { label: "top themes", text: true }],
  list.map((c) => [`${c.brand}${c.role === "ours" ? " (us)" : ""}`, int(c.mentions),
    withCi(c.share_of_voice, pct), withCi(c.net_sentiment, signed),
    c.vs_ours ? withCi({ value: c.vs_ours.difference, ci_low: c.vs_ours.ci_low, ci_high: c.vs_ours.ci_high }, signed) : "",
    (c.top_themes ?? []).slice(0, 3).map((t) => t.theme).join("; ")]))));
  return append(box, grid);
}

function append(el, ...children) {
  el.append(...children);
  return el;
}
