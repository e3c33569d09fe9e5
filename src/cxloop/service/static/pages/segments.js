// Segments and personas: loyalty x advocacy (loyads), how customers moved, who the personas
// are and what drifts. Mirrors src/cxloop/report/segments_sections.py and personas_sections.py.

import { barsOverTime, chart, heatmap, intervalDots, trendWithInterval } from "../charts.js";
import {
  errorBox, h, int, loading, money, NA, note, num, pct, pValue, table, withCi,
} from "../lib.js";

export const title = "Segments & personas";

const SEGMENTS = ["loyal", "captive", "fan", "other"];
const LABELS = {
  loyal: "loyal (buy and love us)",
  captive: "captive (buy, no affinity)",
  fan: "fan (affinity, no recent buying)",
  other: "other",
};

export async function render(ctx) {
  const { root } = ctx;
  root.append(h("div", { class: "page-head" }, h("div", {},
    h("h1", { tabindex: "-1" }, "Segments & personas"),
    h("p", { class: "muted" }, "Loyalty is repeat buying and affinity together (Dick & Basu " +
      "1994), crossed with intentional advocacy (referrals, positive public reviews, genuine " +
      "recommendations; likes and shares do not count). Loyads are the loyal advocates."))));
  const wait = loading("segments and personas");
  root.append(wait);
  // Both at once; one failing (say, too few customers for personas) leaves the other shown.
  const [segments, personas] = await Promise.allSettled([
    ctx.api("/v1/segments"), ctx.api("/v1/personas"),
  ]);
  wait.remove();
  for (const result of [segments, personas]) {
    if (result.status === "rejected" && (result.reason?.name === "AbortError" ||
      result.reason?.status === 401)) throw result.reason;
  }
  root.append(segments.status === "fulfilled" ? segmentsSection(segments.value, ctx.meta)
    : errorBox("Loyalty segments", segments.reason));
  root.append(personas.status === "fulfilled" ? personasSection(personas.value, ctx.meta)
    : errorBox("Personas", personas.reason));
}

function segmentsSection(doc, meta) {
  const currency = meta?.currency || "USD";
  const box = h("section", { class: "block", "data-section": "segments" },
    h("h2", {}, `Loyalty segments as of ${doc.as_of ?? NA}`));
  if (!doc.profiles) return append(box, note((doc.notes ?? []).join(" ") || "No profiles yet."));
  const seg = Object.fromEntries((doc.segments ?? []).map((s) => [s.segment, s]));
  const loyads = doc.loyads ?? {};
  const findings = [];
  if (seg.loyal) {
    findings.push(`Loyal customers are ${withCi(seg.loyal.share, pct)} of ${int(doc.profiles)} ` +
      `profiles and bring ${pct(seg.loyal.revenue_share)} of revenue (NPS ${nps(seg.loyal.nps)}).`);
  }
  if (seg.captive) {
    findings.push(`Captives (repeat buyers without affinity, who leave for a better offer): ` +
      `${int(seg.captive.profiles)} profiles with ${pct(seg.captive.revenue_share)} of revenue, ` +
      "the revenue at risk.");
  }
  if (seg.fan) {
    findings.push(`Fans without recent purchases: ${int(seg.fan.profiles)} profiles who like us ` +
      "but do not (or no longer) buy: latent loyalty to convert.");
  }
  findings.push(`Loyads: ${int(loyads.profiles)} profiles, ${withCi(loyads.share_of_loyal, pct)} ` +
    `of the loyal, ${pct(loyads.revenue_share)} of revenue and ` +
    `${money(loyads.referral_revenue, currency)} of referral revenue.`);
  box.append(h("div", { class: "card" }, h("ul", { class: "findings" }, findings.map((f) => h("li", {}, f))),
    ...(doc.notes ?? []).map((n) => h("p", { class: "muted small" }, `Note: ${n}`))));

  const grid = h("div", { class: "grid" });
  const top = Math.max(0.01, ...(doc.grid ?? []).map((c) => c.revenue_share ?? 0));
  grid.append(h("div", { class: "card" }, chart("segments-matrix", heatmap(
    (doc.grid ?? []).map((c) => ({
      x: c.advocate ? "advocate" : "not an advocate", y: LABELS[c.segment] ?? c.segment,
      value: c.revenue_share ?? 0, dark: (c.revenue_share ?? 0) > 0.6 * top,
      label: `${c.loyad ? "★ loyads\n" : ""}${int(c.profiles)} profiles\n${pct(c.revenue_share)} of revenue`,
      share: withCi(c.share, pct), nps: nps(c.nps), value_per: money(c.avg_value?.value, currency),
    })),
    { title: "Loyalty × advocacy", subtitle: "Profiles and share of revenue per cell; colour: " +
      "share of revenue. ★ marks the loyads.", xTitle: "advocacy", yTitle: "loyalty segment",
    colorTitle: "share of revenue", xSort: ["advocate", "not an advocate"],
    ySort: SEGMENTS.map((s) => LABELS[s]), domain: [0, top], rowHeight: 76,
    tooltip: [{ field: "share", title: "share of profiles [95% CI]" },
      { field: "nps", title: "NPS [95% CI]" }, { field: "value_per", title: "avg value" }] }))));
  const npsRows = (doc.segments ?? []).filter((s) => s.nps?.value !== null && s.nps?.value !== undefined)
    .map((s) => ({ group: s.segment, value: s.nps.value, ci_low: s.nps.ci_low ?? s.nps.value,
      ci_high: s.nps.ci_high ?? s.nps.value, n: s.nps.n }));
  if (npsRows.length) {
    grid.append(h("div", { class: "card" }, chart("segments-nps", intervalDots(npsRows, {
      title: "NPS by loyalty segment", xTitle: "NPS (points), 95% CI", yTitle: "segment",
      format: ".1f", zero: true, sort: SEGMENTS }))));
  }
  const last = doc.transitions?.at(-1);
  if (last?.matrix?.length) {
    const order = ["new", ...SEGMENTS];
    grid.append(h("div", { class: "card" }, chart("segments-transitions", heatmap(
      last.matrix.map((m) => ({ x: m.to, y: m.from, value: m.row_share ?? 0,
        dark: (m.row_share ?? 0) > 0.55, label: `${pct(m.row_share, 0)}\n${int(m.profiles)}`,
        ci: `${pct(m.ci_low)} to ${pct(m.ci_high)}` })),
      { title: `Transitions ${last.from_period} → ${last.to_period}`, subtitle: "Share of each " +
        "row's profiles (and count) by segment at the later date; 'new': not yet seen earlier.",
      xTitle: `segment as of ${last.to_as_of}`, yTitle: `segment as of ${last.from_as_of}`,
      colorTitle: "share of row", xSort: SEGMENTS, ySort: order, domain: [0, 1], rowHeight: 48,
      tooltip: [{ field: "ci", title: "95% CI" }] }))));
  }
  const periods = doc.periods ?? [];
  if (periods.length) {
    grid.append(h("div", { class: "card" }, chart("segments-periods", barsOverTime(
      periods.flatMap((p) => ["loyal", "captive", "fan"].map((s) => ({
        period: p.period, series: s, value: p.segments?.[s] ?? 0 }))),
      { title: "Loyal, captive and fans over time", subtitle: "Profiles per segment at the end " +
        "of each period ('other' not shown).", yTitle: "profiles", stack: true }))));
  }
  box.append(grid);
  box.append(h("div", { class: "card" }, table("Every cell of the grid", [
    { label: "segment", text: true }, { label: "advocacy", text: true }, { label: "profiles" },
    { label: "share [95% CI]" }, { label: "revenue share" }, { label: "avg value" },
    { label: "avg CLV" }, { label: "NPS [95% CI]" }, { label: "referral revenue" }],
  (doc.grid ?? []).map((c) => [
    { value: `${LABELS[c.segment] ?? c.segment}${c.loyad ? " ★ loyads" : ""}`, className: c.loyad ? "loyad" : "" },
    c.advocate ? "advocate" : "not an advocate", int(c.profiles), withCi(c.share, pct),
    pct(c.revenue_share), money(c.avg_value?.value, currency), money(c.avg_clv?.value, currency),
    nps(c.nps), money(c.referral_revenue, currency)]))));
  return box;
}

function nps(m) {
  return withCi(m, (x) => num(x, 0, { signed: true }));
}

function append(el, ...children) {
  el.append(...children);
  return el;
}

function personaName(p) {
  return `${p.persona}: ${p.label ?? ""}`;
}

function personasSection(doc, meta) {
  const currency = meta?.currency || "USD";
  const box = h("section", { class: "block", "data-section": "personas" }, h("h2", {}, "Personas"));
  if (!doc.personas?.length) {
    return append(box, note(`No personas: ${(doc.notes ?? []).join(" ") || "no customers."}`));
  }
  const m = doc.method ?? {};
  box.append(h("p", { class: "muted small" }, `${int(doc.customers)} customers grouped into ` +
    `${m.k} personas by behaviour and preferences (Gaussian mixture; ${m.criterion_detail ?? ""}); ` +
    `model ${m.model === "fitted" ? "fitted on this data" : `saved on ${String(m.fitted_at ?? "").slice(0, 10)} and applied to today's customers`}.`));
  const names = Object.fromEntries(doc.personas.map((p) => [p.persona, personaName(p)]));
  const grid = h("div", { class: "grid" });
  grid.append(h("div", { class: "card" }, chart("personas-share", intervalDots(
    doc.personas.map((p) => ({ group: names[p.persona], value: 100 * p.share.value,
      ci_low: 100 * (p.share.ci_low ?? p.share.value), ci_high: 100 * (p.share.ci_high ?? p.share.value),
      n: p.size })),
    { title: "Size of each persona", xTitle: "% of customers, 95% CI", yTitle: "persona",
      format: ".1f" }))));
  const drift = (doc.drift ?? []).flatMap((d) => (d.personas ?? [])
    .filter((p) => p.share?.value !== null && p.share?.value !== undefined && d.new_customers > 0)
    .map((p) => ({ period: d.period, start: d.start, series: names[p.persona] ?? String(p.persona),
      value: 100 * p.share.value, ci_low: 100 * (p.share.ci_low ?? p.share.value),
      ci_high: 100 * (p.share.ci_high ?? p.share.value), n: p.share.n })));
  if (drift.length) {
    grid.append(h("div", { class: "card" }, chart("personas-drift", trendWithInterval(drift, {
      title: "Drift: persona mix of new customers", yTitle: "% of customers acquired in the period",
      format: ".1f", legendColumns: 2, subtitle: "Share of each period's new customers per " +
        "persona; bands: 95% CI; n (new customers) in the tooltip." }))));
  }
  box.append(grid);
  const flags = doc.drift_tests?.flagged ?? [];
  const movers = doc.drift_tests?.movers;
  box.append(h("div", { class: "card" },
    h("h3", {}, "Drift to look at"),
    flags.length ? h("ul", { class: "findings" }, flags.slice(0, 10).map((f) => h("li", {}, flagSentence(f))))
      : h("p", {}, "No significant drift of persona shares among new customers."),
    movers ? h("p", {}, `Since ${doc.drift_tests.cutoff}, ${int(movers.moved)} of ` +
      `${int(movers.customers)} customers (${withCi(movers.share, pct)}) moved to another persona ` +
      "as their behaviour changed.") : null,
    ...(doc.notes ?? []).map((n) => h("p", { class: "muted small" }, `Note: ${n}`))));
  box.append(h("div", { class: "card" }, table("Every persona", [
    { label: "#" }, { label: "persona", text: true }, { label: "customers" },
    { label: "share [95% CI]" }, { label: "revenue per customer [95% CI]" }, { label: "of revenue" }],
  doc.personas.map((p) => [String(p.persona), p.label, int(p.size), withCi(p.share, pct),
    withCi(p.revenue_per_customer, (x) => money(x, currency)), pct(p.revenue_share)]))));
  return box;
}

function qText(q) {
  const text = pValue(q);
  return text.startsWith("<") ? text : `= ${text}`;
}

function flagSentence(f) {
  const who = `Persona ${f.persona} (${f.label})`;
  if (f.kind === "acquisition share") {
    return `${who}: ${pct(f.share)} of the customers acquired in ${f.period} against ` +
      `${pct(f.earlier_share)} of those acquired before (${f.direction}, q ${qText(f.q_value)}).`;
  }
  if (f.kind === "trend in acquisition share") {
    return `${who}: its share of new customers is ${f.direction} by ${pct(f.slope_per_period)} ` +
      `per period (q ${qText(f.q_value)}).`;
  }
  return `${who}: its centroid moved ${num(f.distance, 2)} standard deviations, ` +
    `${pct(f.relative_shift)} of the way to the nearest other persona.`;
}
