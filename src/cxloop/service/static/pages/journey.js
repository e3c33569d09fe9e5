// Journey loop: Buy -> Own -> Advocate -> Buy again; the funnel; touchpoints' efficiency and
// effectiveness; attribution. Mirrors src/cxloop/report/journey_sections.py.

import {
  chart, groupedHBars, heatmap, hBars, intervalDots, PALETTE, trendWithInterval,
} from "../charts.js";
import { h, int, loading, NA, note, num, pct, PERIODS, select, table, title as cap, withCi, words }
  from "../lib.js";

export const title = "Journey loop";

const STAGES = ["buy", "own", "advocate"];
const MODELS = [
  ["markov_share", "Markov (removal effect)"], ["first_touch_share", "first touch"],
  ["last_touch_share", "last touch"], ["linear_share", "linear"],
];

export async function render(ctx) {
  const { root, params } = ctx;
  const target = params.target || "purchase";
  root.append(h("div", { class: "page-head" },
    h("div", {},
      h("h1", { tabindex: "-1" }, "Journey loop"),
      h("p", { class: "muted" }, "Buy, Own, Advocate, Buy again: how customers move through the " +
        "loop, how each touchpoint performs (efficiency and effectiveness), and which " +
        "touchpoints drive purchases and advocacy.")),
    h("form", { class: "filters", "aria-label": "Journey filters", onsubmit: (e) => e.preventDefault() },
      select("f-period", "Funnel period", [["", "Default"], ...PERIODS], params.period ?? "",
        (v) => ctx.navigate({ ...params, period: v })),
      select("f-target", "Attribution of", [["purchase", "Purchases"], ["advocacy", "Advocacy"]],
        target, (v) => ctx.navigate({ ...params, target: v })))));
  const wait = loading("the journey analysis");
  root.append(wait);
  const doc = await ctx.api("/v1/journey", { period: params.period });
  wait.remove();
  root.append(loopSection(doc), funnelSection(doc), touchpointSection(doc),
    attributionSection(doc, target));
}

function loopSection(doc) {
  const loop = doc.loop ?? {};
  const stages = new Map((doc.stages ?? []).map((s) => [s.stage, s]));
  const items = [
    `${int(loop.customers)} customers; ${withCi(loop.completion_rate, pct)} completed the loop ` +
      `(bought, owned, advocated and bought again; n = ${int(loop.completion_rate?.n)}).`,
    `${int(loop.owned)} reached Own, ${int(loop.advocated)} reached Advocate, ` +
      `${int(loop.completed)} bought again after advocating.`,
    ...STAGES.filter((s) => stages.has(s)).map((s) =>
      `${cap(s)}: ${withCi(stages.get(s).stalled, pct)} of profiles stopped here ` +
      `(${int(stages.get(s).profiles)} profiles, ${int(stages.get(s).visits)} visits).`),
  ];
  const grid = h("div", { class: "grid" });
  if (doc.transitions?.length) {
    grid.append(h("div", { class: "card" }, chart("loop-flows", heatmap(
      doc.transitions.map((t) => ({
        x: t.to, y: t.from, value: t.rate?.value ?? 0, label: pct(t.rate?.value),
        dark: (t.rate?.value ?? 0) > 0.55, transitions: t.transitions,
        ci: withCi(t.rate, (x) => pct(x)), n: t.rate?.n,
        days: t.median_days?.value === null || t.median_days?.value === undefined
          ? NA : num(t.median_days.value, 1),
      })),
      {
        title: "The loop: where customers go next", colorTitle: "share of visits",
        subtitle: "Share of a stage's visits followed next by a visit of another stage.",
        xTitle: "next stage", yTitle: "stage", xSort: STAGES, ySort: STAGES, domain: [0, 1],
        tooltip: [{ field: "ci", type: "nominal", title: "95% CI" },
          { field: "n", type: "quantitative", title: "visits (n)", format: "," },
          { field: "transitions", type: "quantitative", format: "," },
          { field: "days", type: "nominal", title: "median days" }],
      }))));
  }
  const stalled = (doc.stages ?? []).filter((s) => s.stalled?.value !== null && s.stalled?.value !== undefined);
  if (stalled.length) {
    grid.append(h("div", { class: "card" }, chart("loop-stalled", intervalDots(
      stalled.map((s) => ({ group: cap(s.stage), ...est(s.stalled, 100) })),
      { title: "Where customers stop", xTitle: "% of profiles whose last stage it is",
        yTitle: "stage", format: ".1f", sort: STAGES.map(cap) }))));
  }
  return h("section", { class: "block", "data-section": "loop" },
    h("h2", {}, "The Buy, Own, Advocate loop"),
    h("div", { class: "card" }, h("ul", { class: "findings" }, items.map((t) => h("li", {}, t)))),
    grid);
}

/** {value, ci_low, ci_high, n} of an estimate, scaled (shares to %). */
function est(m, scale = 1) {
  return {
    value: m.value * scale, ci_low: (m.ci_low ?? m.value) * scale,
    ci_high: (m.ci_high ?? m.value) * scale, n: m.n,
  };
}

function funnelSection(doc) {
  const all = (doc.funnel ?? []).find((f) => f.channel === "(all)" && f.period === null);
  const box = h("section", { class: "block", "data-section": "funnel" },
    h("h2", {}, "Web and app funnel"),
    h("p", { class: "muted small" }, `Steps: ${(doc.settings?.funnel_steps ?? []).map(words).join(" → ")} → order.`));
  if (!all) return box.appendChild(note("No funnel: no product views in the data.")) && box;
  const grid = h("div", { class: "grid" });
  grid.append(h("div", { class: "card" }, chart("funnel-steps", hBars(
    all.steps.map((s) => ({
      group: words(s.step), value: s.profiles,
      label: s.rate ? `${int(s.profiles)} · ${pct(s.rate.value)} of previous` : int(s.profiles),
      ci: s.rate ? withCi(s.rate, pct) : "first step",
    })),
    { title: "Funnel, all channels", subtitle: "Profiles reaching each step; step conversion " +
      "with its 95% CI in the tooltip.", xTitle: "profiles", yTitle: "step", sort: null,
      labelField: "label", tooltip: [{ field: "ci", type: "nominal", title: "conversion [95% CI]" }] }))));
  const byPeriod = (doc.funnel ?? []).filter((f) => f.channel === "(all)" && f.period !== null)
    .filter((f) => f.view_to_order?.value !== null && f.view_to_order?.value !== undefined);
  if (byPeriod.length) {
    grid.append(h("div", { class: "card" }, chart("funnel-trend", trendWithInterval(
      byPeriod.map((f) => ({ period: f.period, start: periodStart(f.period), series: "view to order",
        ...est(f.view_to_order, 100) })),
      { title: `View-to-order conversion by ${doc.settings?.period ?? "period"}`,
        yTitle: "% of viewers who ordered", format: ".1f" }))));
  }
  const rows = (doc.funnel ?? []).filter((f) => f.period === null && f.steps?.[0]?.profiles > 0);
  grid.append(h("div", { class: "card" }, table("Funnel by channel", [
    { label: "channel", text: true }, { label: "viewers" }, { label: "view to order [95% CI]" },
    { label: "cart abandonment" }, { label: "bounce rate" }],
  rows.map((f) => [f.channel, int(f.steps[0].profiles), withCi(f.view_to_order, pct),
    withCi(f.cart_abandonment, pct), withCi(f.bounce_rate, pct)]))));
  box.append(grid);
  return box;
}

/** The first day of a period label: 2025-03, 2025-Q2 or 2025. */
function periodStart(label) {
  const quarter = /^(\d{4})-Q([1-4])$/.exec(label);
  if (quarter) return `${quarter[1]}-${String(3 * quarter[2] - 2).padStart(2, "0")}-01`;
  if (/^\d{4}-\d{2}$/.test(label)) return `${label}-01`;
  if (/^\d{4}$/.test(label)) return `${label}-01-01`;
  return label;
}

function touchpointSection(doc) {
  const tps = doc.touchpoints ?? [];
  const box = h("section", { class: "block", "data-section": "touchpoints" },
    h("h2", {}, "Touchpoints: efficiency and effectiveness"),
    h("p", { class: "muted small" }, "Efficiency: time and effort it takes (median duration, " +
      "CES, repeats). Effectiveness: did the moment do its job (success rate) and lead to the " +
      "next stage (conversion)."));
  if (!tps.length) return box.appendChild(note("No touchpoints in the data.")) && box;
  const grid = h("div", { class: "grid" });
  const conv = tps.filter((t) => t.effectiveness?.conversion?.value !== null &&
    t.effectiveness?.conversion?.value !== undefined);
  if (conv.length) {
    grid.append(h("div", { class: "card" }, chart("touchpoint-conversion", intervalDots(
      conv.map((t) => ({ group: `${words(t.touchpoint)} → ${t.effectiveness.next_step}`,
        ...est(t.effectiveness.conversion, 100) })),
      { title: "Effectiveness: conversion to the next stage", xTitle: "% of profiles, 95% CI",
        yTitle: "touchpoint → next stage", format: ".1f" }))));
  }
  const scatter = tps.filter((t) => t.efficiency?.duration_median?.value > 0 &&
    t.effectiveness?.conversion?.value !== null && t.effectiveness?.conversion?.value !== undefined);
  if (scatter.length) {
    grid.append(h("div", { class: "card" }, chart("touchpoint-scatter", {
      title: { text: "Efficiency vs effectiveness", subtitle: "Time at the touchpoint (log scale) " +
        "against conversion; size: profiles reached." },
      description: "Efficiency against effectiveness of each touchpoint",
      width: "container", height: 260, autosize: { type: "fit-x", contains: "padding" },
      data: { values: scatter.map((t) => ({ touchpoint: words(t.touchpoint), stage: t.stage ?? "",
        seconds: t.efficiency.duration_median.value, conversion: 100 * t.effectiveness.conversion.value,
        profiles: t.reach?.profiles ?? 0 })) },
      encoding: {
        x: { field: "seconds", type: "quantitative", scale: { type: "log" },
          title: "median time at the touchpoint (seconds)" },
        y: { field: "conversion", type: "quantitative", title: "conversion to next stage (%)" },
      },
      layer: [
        { mark: { type: "circle", opacity: 0.75 },
          encoding: { size: { field: "profiles", type: "quantitative", title: "profiles" },
            color: { field: "stage", type: "nominal", title: "stage", scale: { range: PALETTE } },
            tooltip: [{ field: "touchpoint" }, { field: "stage" },
              { field: "seconds", type: "quantitative", format: ",.0f" },
              { field: "conversion", type: "quantitative", format: ".1f" },
              { field: "profiles", type: "quantitative", format: "," }] } },
        { mark: { type: "text", dy: -10, fontSize: 10, color: "#3e4c59" },
          encoding: { text: { field: "touchpoint" } } },
      ],
    })));
  }
  box.append(grid);
  box.append(h("div", { class: "card" }, table("Every touchpoint", [
    { label: "touchpoint", text: true }, { label: "stage", text: true }, { label: "owner", text: true },
    { label: "profiles" }, { label: "median time" }, { label: "CES" }, { label: "visits per profile" },
    { label: "success [95% CI]" }, { label: "next stage", text: true }, { label: "conversion [95% CI]" }],
  tps.map((t) => [words(t.touchpoint), t.stage ?? "", t.owner ?? "", int(t.reach?.profiles),
    t.efficiency?.duration_median?.value === null || t.efficiency?.duration_median?.value === undefined
      ? NA : `${num(t.efficiency.duration_median.value, 0)} s`,
    withCi(t.efficiency?.ces, (x) => num(x, 2)),
    t.efficiency?.repeats?.value === null || t.efficiency?.repeats?.value === undefined
      ? NA : num(t.efficiency.repeats.value, 1),
    withCi(t.effectiveness?.success_rate, pct), t.effectiveness?.next_step ?? "",
    withCi(t.effectiveness?.conversion, pct)]))));
  return box;
}

function attributionSection(doc, target) {
  const a = (doc.attribution ?? []).find((x) => x.target === target);
  const box = h("section", { class: "block", "data-section": "attribution" },
    h("h2", {}, `Attribution of ${target === "purchase" ? "first purchases" : "advocacy"}`),
    h("p", { class: "muted small" }, "The Markov removal effect is the share of conversions " +
      "lost if the touchpoint were removed from every journey; first, last and linear touch " +
      "are shown beside it (top 10 by removal effect)."));
  if (!a || !a.touchpoints?.length) {
    return box.appendChild(note(a?.note ?? `No ${target} journeys to attribute.`)) && box;
  }
  box.append(h("p", { class: "small" }, `${int(a.journeys)} journeys, ${int(a.conversions)} ` +
    `conversions (probability ${pct(a.conversion_probability)}); ${int(a.null_journeys)} ` +
    `journeys without conversion.${a.note ? ` ${a.note}` : ""}`));
  const grid = h("div", { class: "grid" });
  for (const [field, rows] of [["touchpoint", a.touchpoints], ["channel", a.channels ?? []]]) {
    if (!rows.length) continue;
    const top = [...rows].sort((x, y) => (y.removal_effect ?? 0) - (x.removal_effect ?? 0)).slice(0, 10);
    grid.append(h("div", { class: "card" }, chart(`attribution-${field}`, groupedHBars(
      top.flatMap((r) => MODELS.map(([key, name]) => ({ group: words(r[field]), series: name,
        value: r[key] ?? 0 }))),
      { title: `Credit by ${field}`, subtitle: "Share of conversions credited by each model.",
        xTitle: "share of conversions", yTitle: field, sort: top.map((r) => words(r[field])) })),
    table(null, [{ label: field, text: true }, { label: "removal effect" }, { label: "Markov" },
      { label: "first touch" }, { label: "last touch" }, { label: "linear" }],
    top.map((r) => [words(r[field]), num(r.removal_effect, 2), num(r.markov_conversions, 0),
      num(r.first_touch, 0), num(r.last_touch, 0), num(r.linear, 0)]))));
  }
  box.append(grid);
  const paths = (doc.paths ?? []).filter((p) => p.target === target);
  if (paths.length) {
    box.append(h("div", { class: "card" }, table(`Top paths to ${target}`, [
      { label: "path", text: true }, { label: "journeys" }, { label: "conversions" },
      { label: "conversion [95% CI]" }],
    paths.map((p) => [p.path.map(words).join(" → "), int(p.journeys), int(p.conversions),
      withCi(p.conversion_rate, pct)]))));
  }
  return box;
}
