// Scorecard: the headline tiles a leader reads in ten seconds, then trends and a breakdown.
// Mirrors the report's scorecard sections (src/cxloop/report/scorecard_sections.py).

import { barsOverTime, chart, intervalDots, trendWithInterval } from "../charts.js";
import {
  h, input, int, loading, money, NA, note, num, pct, PERIODS, select, table,
} from "../lib.js";
import { benchmarksSection } from "./benchmarks.js";

export const title = "Scorecard";

const BREAKDOWNS = [
  ["touchpoint", "Touchpoint"], ["channel", "Channel"], ["stage", "Journey stage"],
  ["country", "Country"], ["segment", "Customer segment"],
];

const TILES = [
  { metric: "nps", name: "NPS", help: "Net Promoter Score of all answers, −100 to 100" },
  { metric: "ces", name: "CES", help: "Customer effort, mean of 1-7 (7 = very easy)" },
  { metric: "csat", name: "CSAT", help: "Share of satisfaction answers of 4 or 5" },
  {
    metric: "historical_customer_value", name: "CLTV",
    help: "Value per customer who bought: completed revenue over their history",
  },
  { metric: "retention_rate", name: "Retention", help: "Buyers of a period who buy again in the next" },
  {
    metric: "mentions_genuine_reach", name: "Social value",
    help: "Reach of genuine advocacy (posts, replies, reviews; likes and shares excluded)",
  },
];

// Unit and direction of each metric come with the document (metrics.py is their one home).
function unit(doc, name) {
  return doc.units?.[name] ?? "";
}

function higherIsBetter(doc, name) {
  return doc.higher_is_better?.[name] ?? true;
}

/** A metric's value in its unit; `change` formats a difference (shares in points). */
function fmt(doc, name, value, { change = false, currency = "USD" } = {}) {
  if (value === null || value === undefined) return NA;
  switch (unit(doc, name)) {
    case "share": return change ? `${num(100 * value, 1, { signed: true })} pp` : pct(value);
    case "points": return num(value, 1, { signed: true });
    case "currency": return change ? signedMoney(value, currency) : money(value, currency);
    case "count": return change ? num(value, 0, { signed: true }) : int(value);
    case "s": return `${num(value, 0, { signed: change })} s`;
    default: return num(value, 2, { signed: change });
  }
}

function signedMoney(value, currency) {
  return `${value > 0 ? "+" : value < 0 ? "−" : ""}${money(Math.abs(value), currency)}`;
}

function ciText(doc, name, m, currency) {
  if (!m || m.value === null || m.value === undefined) return "no data";
  if (m.ci_low === null || m.ci_low === undefined) {
    return unit(doc, name) === "count" || name === "revenue"
      ? "exact total, no sampling interval" : "no interval";
  }
  return `95% CI ${fmt(doc, name, m.ci_low, { currency })} to ${fmt(doc, name, m.ci_high, { currency })}`;
}

function withCi(doc, name, m, currency) {
  if (!m || m.value === null || m.value === undefined) return NA;
  const value = fmt(doc, name, m.value, { currency });
  if (m.ci_low === null || m.ci_low === undefined) return value;
  return `${value} [${fmt(doc, name, m.ci_low, { currency })}, ${fmt(doc, name, m.ci_high, { currency })}]`;
}

export async function render(ctx) {
  const { root, params } = ctx;
  const currency = ctx.meta?.currency || "USD";
  const query = {
    period: params.period, by: params.by || "touchpoint", since: params.since, until: params.until,
  };
  root.append(h("div", { class: "page-head" },
    h("div", {},
      h("h1", { tabindex: "-1" }, "Composite scorecard"),
      h("p", { class: "muted" }, "No single beacon metric: advocacy, ease, satisfaction, " +
        "economic and social value side by side, each with its 95% interval and n.")),
    filters(ctx, query)));
  const wait = loading("the scorecard");
  root.append(wait);
  const doc = await ctx.api("/v1/scorecard", query);
  const byDefault = root.querySelector('#f-period option[value=""]');
  if (byDefault && doc.period) byDefault.textContent = `Default (${doc.period})`;
  const clv = ctx.api("/v1/clv").catch((error) => ({ error }));
  wait.remove();

  const trend = doc.trend ?? [];
  const last = trend.at(-1);
  const prev = trend.at(-2);
  const tiles = h("div", { class: "tiles", "data-section": "tiles" });
  for (const spec of TILES) tiles.append(tile(doc, spec, last, prev, currency));
  root.append(h("section", { class: "block", "aria-label": "Headline figures" }, tiles));
  ctx.pending.push(fillClv(tiles, clv, currency));

  root.append(changes(doc, last, prev, currency));
  if (doc.goals?.length) root.append(goals(doc, currency));
  if (doc.benchmarks?.length) root.append(benchmarksSection(doc.benchmarks));
  if (trend.length) root.append(...trendSections(doc));
  else root.append(note("No periods in this window: widen the dates to see trends."));
  root.append(breakdown(doc, currency));
  root.append(fullTable(doc, last, currency));
}

function filters(ctx, query) {
  const set = (name) => (value) => ctx.navigate({ ...query, ...ctx.params, [name]: value });
  return h("form", { class: "filters", "aria-label": "Scorecard filters", onsubmit: (e) => e.preventDefault() },
    select("f-period", "Period", [["", "Default"], ...PERIODS], query.period ?? "", set("period")),
    select("f-by", "Breakdown", BREAKDOWNS, query.by, set("by")),
    input("f-since", "From", { type: "date", value: query.since ?? "" }, set("since")),
    input("f-until", "Until (not included)", { type: "date", value: query.until ?? "" }, set("until")));
}

function tile(doc, spec, last, prev, currency) {
  const { metric } = spec;
  const m = doc.metrics?.[metric];
  const label = doc.labels?.[metric] ?? metric;
  const n = m && m.n !== null && m.n !== undefined ? ` · n = ${int(m.n)}` : "";
  return h("article", { class: "tile", "data-metric": metric, "aria-label": spec.name },
    h("span", { class: "tile-label", title: label }, spec.name),
    h("span", { class: "tile-value", "data-role": "value" }, fmt(doc, metric, m?.value, { currency })),
    h("span", { class: "tile-ci", "data-role": "ci" }, `${ciText(doc, metric, m, currency)}${n}`),
    trendLine(doc, metric, last, prev, currency),
    goalLine(doc, metric),
    h("span", { class: "tile-extra", "data-role": "extra" }, extra(doc, metric, currency)),
    h("span", { class: "tile-help" }, spec.help));
}

function extra(doc, metric, currency) {
  if (metric === "mentions_genuine_reach") {
    const genuine = doc.metrics?.mentions_genuine;
    const sov = doc.metrics?.share_of_voice;
    return `${int(genuine?.value)} genuine mentions · share of voice ${withCi(doc, "share_of_voice", sov, currency)}`;
  }
  if (metric === "historical_customer_value") return "Predicted CLV: loading…";
  return "";
}

async function fillClv(tiles, clvPromise, currency) {
  const target = tiles.querySelector('[data-metric="historical_customer_value"] [data-role="extra"]');
  const clv = await clvPromise;
  if (!target) return;
  if (clv.error) {
    target.textContent = `Predicted CLV: not available (${clv.error.message})`;
    return;
  }
  const t = clv.totals ?? {};
  target.textContent = `Predicted ${clv.horizon_months ?? 12}-month CLV: ${money(t.mean_clv, currency)} ` +
    `per customer (${clv.model}, ${int(clv.n_customers)} customers)`;
}

/** "▲ +7.9 in 2026-06 vs 2026-05": green or red only when the change is significant. */
function trendLine(doc, metric, last, prev, currency) {
  const box = h("span", { class: "tile-trend trend-flat", "data-role": "trend" });
  if (!last || !prev) return append(box, "No earlier period to compare");
  const now = last.metrics?.[metric]?.value;
  const before = prev.metrics?.[metric]?.value;
  const missing = (x) => x === null || x === undefined;
  if (missing(now) && missing(before)) return append(box, "Not computed per period");
  if (missing(now) || missing(before)) {
    return append(box, `${last.period}: ${fmt(doc, metric, now, { currency })}; no comparison`);
  }
  const test = last.changes?.[metric];
  const change = test?.change ?? now - before;
  const up = change > 0;
  const arrow = change === 0 ? "■" : up ? "▲" : "▼";
  let verdict = "no significance test";
  if (test) {
    const q = test.q_value === null || test.q_value === undefined ? ""
      : `, q ${test.q_value < 0.001 ? "< 0.001" : `= ${num(test.q_value, 2)}`}`;
    verdict = test.significant ? `significant${q}` : `not significant${q}`;
    if (test.significant && change !== 0) {
      box.className = `tile-trend ${up === higherIsBetter(doc, metric) ? "trend-good" : "trend-bad"}`;
    }
  }
  const partial = last.complete === false ? " (incomplete period)" : "";
  return append(box,
    h("span", { "aria-hidden": "true" }, `${arrow} `),
    h("span", { class: "sr-only" }, change === 0 ? "unchanged " : up ? "up " : "down "),
    `${fmt(doc, metric, change, { change: true, currency })} in ${last.period}${partial} ` +
    `vs ${prev.period} (${verdict})`);
}

function append(el, ...children) {
  el.append(...children);
  return el;
}

function goalLine(doc, metric) {
  const goals = (doc.goals ?? []).filter((g) => g.metric === metric);
  if (!goals.length) return h("span", { class: "tile-goal muted" }, "No goal set");
  return h("span", { class: "tile-goal" }, goals.map((g) => h("span", {},
    `Goal ${g.goal}: `, h("span", { class: `badge status-${String(g.status).split(" ")[0]}` }, g.status), " ")));
}

function changes(doc, last, prev, currency) {
  const items = [];
  if (last && prev) {
    for (const [name, c] of Object.entries(last.changes ?? {})) {
      if (!c.significant) continue;
      const good = (c.change > 0) === higherIsBetter(doc, name);
      items.push(h("li", {}, `${doc.labels?.[name] ?? name} ${c.change > 0 ? "rose" : "fell"} from `,
        `${fmt(doc, name, prev.metrics?.[name]?.value, { currency })} to `,
        `${fmt(doc, name, last.metrics?.[name]?.value, { currency })} (q ${c.q_value < 0.001 ? "< 0.001" : `= ${num(c.q_value, 3)}`}; `,
        h("span", { class: good ? "trend-good" : "trend-bad" }, good ? "good news" : "needs attention"), ")."));
    }
  }
  const partial = (doc.trend ?? []).filter((t) => t.complete === false).map((t) => t.period);
  return h("section", { class: "card", "data-section": "changes" },
    h("h2", {}, last && prev ? `What changed in ${last.period} against ${prev.period}` : "What changed"),
    h("p", { class: "muted small" }, "Changes that are statistically significant after " +
      "controlling the false discovery rate (Benjamini-Hochberg, q < 0.05)."),
    items.length ? h("ul", { class: "findings" }, items)
      : h("p", {}, "No change is larger than the noise of the samples."),
    partial.length ? h("p", { class: "muted small" }, `Incomplete period: ${partial.join(", ")} ` +
      "(the data does not reach its end); its totals are not comparable yet.") : null);
}

function goals(doc, currency) {
  return h("section", { class: "card", "data-section": "goals" }, h("h2", {}, "Goals"),
    table(null, [{ label: "goal", text: true }, { label: "latest period", text: true },
      { label: "value" }, { label: "gap to target" }, { label: "status", text: true }],
    doc.goals.map((g) => [g.goal, g.period ?? "", fmt(doc, g.metric, g.value, { currency }),
      g.gap === null ? "" : fmt(doc, g.metric, g.gap, { change: true, currency }),
      h("span", { class: `badge status-${String(g.status).split(" ")[0]}` }, g.status)])));
}

function series(doc, names, scale = 1) {
  const points = [];
  for (const t of doc.trend) {
    for (const name of names) {
      const x = t.metrics?.[name];
      if (!x || x.value === null || x.value === undefined) continue;
      points.push({
        period: t.period, start: t.start, series: doc.labels?.[name] ?? name, n: x.n,
        value: x.value * scale,
        ci_low: (x.ci_low ?? x.value) * scale,
        ci_high: (x.ci_high ?? x.value) * scale,
      });
    }
  }
  return points;
}

function totals(doc, names) {
  return doc.trend.flatMap((t) => names.map((name) => ({
    period: t.period, series: doc.labels?.[name] ?? name, value: t.metrics?.[name]?.value ?? 0,
  })));
}

function card(...charts) {
  return charts.filter(Boolean).map((c) => h("div", { class: "card" }, c));
}

function trendChart(name, points, options) {
  return points.length ? chart(name, trendWithInterval(points, options)) : null;
}

function trendSections(doc) {
  const per = doc.period;
  const section = (id, heading, text, charts) => h("section", { class: "block", "data-section": id },
    h("h2", {}, heading), h("p", { class: "muted small" }, text), h("div", { class: "grid" }, card(...charts)));
  return [
    section("advocacy", "Advocacy", `NPS by ${per}, with 95% intervals (bands).`, [
      trendChart("nps-trend", series(doc, ["nps", "nps_relational", "nps_transactional"]),
        { title: "Net Promoter Score", yTitle: "NPS (points)", format: ".1f" }),
    ]),
    section("ease", "Ease and satisfaction", `Effort and satisfaction by ${per}.`, [
      trendChart("ces-trend", series(doc, ["ces"]),
        { title: "Customer effort (CES)", yTitle: "mean, 1-7 (7 = very easy)" }),
      trendChart("satisfaction-trend", series(doc, ["csat", "ces_easy_share", "support_contact_rate"], 100),
        { title: "Satisfaction and ease", yTitle: "% of customers or answers", format: ".1f" }),
    ]),
    section("economic", "Economic value", `Revenue, retention and order value by ${per}.`, [
      chart("revenue-bars", barsOverTime(totals(doc, ["revenue"]),
        { title: "Revenue (completed orders)", yTitle: "revenue", format: ",.0f" })),
      trendChart("retention-trend", series(doc, ["retention_rate", "repeat_purchase_rate"], 100),
        { title: "Retention and repeat purchase", yTitle: "% of customers", format: ".1f" }),
      trendChart("aov-trend", series(doc, ["aov"]),
        { title: "Average order value", yTitle: "per order" }),
    ]),
    section("social", "Social value and advocacy acts", "Genuine advocacy (posts, replies, " +
      "reviews) is counted apart from amplification (likes, shares).", [
      chart("advocacy-bars", barsOverTime(totals(doc, ["mentions_genuine", "mentions_amplification"]),
        { title: "Genuine advocacy vs amplification", yTitle: "mentions", stack: true })),
      trendChart("sov-trend", series(doc, ["share_of_voice"], 100),
        { title: "Share of voice", yTitle: "% of tracked mentions", format: ".1f" }),
      chart("referral-bars", barsOverTime(totals(doc, ["referrals", "referrals_converted"]),
        { title: "Referrals", yTitle: "referrals" })),
    ]),
  ];
}

const SHOWN = ["nps", "nps_transactional", "ces", "csat", "revenue", "retention_rate"];

function breakdown(doc, currency) {
  const by = doc.by ?? "group";
  const box = h("section", { class: "block", "data-section": "breakdown" },
    h("h2", {}, `By ${by}`), h("p", { class: "muted small" }, `The scorecard by ${by}, with 95% intervals.`));
  if (!doc.breakdown?.length) return append(box, note(`No breakdown by ${by} in this window.`));
  const metric = by === "touchpoint" || by === "stage" ? "nps_transactional" : "nps";
  const rows = doc.breakdown
    .filter((b) => b.metrics?.[metric]?.value !== null && b.metrics?.[metric]?.value !== undefined)
    .map((b) => ({ group: b.group ?? "(none)", ...pick(b.metrics[metric]) }));
  const grid = h("div", { class: "grid" });
  if (rows.length) {
    grid.append(h("div", { class: "card" }, chart("breakdown-nps", intervalDots(rows, {
      title: `${doc.labels?.[metric] ?? metric} by ${by}`, xTitle: "NPS (points), 95% CI",
      yTitle: by, format: ".1f", zero: true,
    }))));
  }
  const shown = SHOWN.filter((n) => doc.breakdown.some((b) => b.metrics?.[n]));
  grid.append(h("div", { class: "card" }, table(`Scorecard by ${by}`,
    [{ label: by, text: true }, ...shown.map((n) => ({ label: doc.labels?.[n] ?? n }))],
    doc.breakdown.map((b) => [b.group ?? "(none)",
      ...shown.map((n) => withNText(doc, n, b.metrics?.[n], currency))]))));
  return append(box, grid);
}

function withNText(doc, name, m, currency) {
  if (!m || m.value === null || m.value === undefined) return NA;
  return `${withCi(doc, name, m, currency)} (n=${int(m.n)})`;
}

function pick(m) {
  return { value: m.value, ci_low: m.ci_low ?? m.value, ci_high: m.ci_high ?? m.value, n: m.n };
}

function fullTable(doc, last, currency) {
  const names = Object.keys(doc.metrics ?? {});
  const details = h("details", { class: "card", "data-section": "all-metrics" },
    h("summary", {}, h("strong", {}, `Every metric (${names.length})`),
      " with family, 95% interval, n and latest change"));
  details.append(table(null, [{ label: "metric", text: true }, { label: "family", text: true },
    { label: "value [95% CI]" }, { label: "n" }, { label: "latest change" }],
  names.map((name) => {
    const c = last?.changes?.[name];
    return [doc.labels?.[name] ?? name, doc.families?.[name] ?? "",
      withCi(doc, name, doc.metrics[name], currency), int(doc.metrics[name]?.n),
      c ? `${fmt(doc, name, c.change, { change: true, currency })}${c.significant ? " *" : ""}` : ""];
  })));
  details.append(h("p", { class: "muted small" }, "* a significant change in the latest period " +
    "(q < 0.05). Definitions: docs/metrics.md."));
  return details;
}
