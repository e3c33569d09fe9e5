// Pivotal moments: the touchpoint experiences that move an outcome, ranked, with the adjusted
// effect beside the naive one. Mirrors src/cxloop/report/moments_sections.py.

import { chart, GOOD, GREY, intervalDots } from "../charts.js";
import { h, input, int, loading, note, num, pct, pValue, select, table, words } from "../lib.js";

export const title = "Pivotal moments";

const OUTCOMES = [
  ["nps", "Likelihood to recommend (NPS answers)"], ["csat", "Satisfaction (CSAT)"],
  ["rating", "Star rating"], ["repurchase", "Repurchase"],
];
const UNITS = {
  nps: "points on the 0-10 scale", csat: "points on the CSAT scale",
  rating: "stars", repurchase: "percentage points of repurchase probability",
};

export async function render(ctx) {
  const { root, params } = ctx;
  const outcome = params.outcome || "nps";
  const windowDays = params.window_days || "180";
  root.append(h("div", { class: "page-head" },
    h("div", {},
      h("h1", { tabindex: "-1" }, "Pivotal moments"),
      h("p", { class: "muted" }, "Touchpoint experiences that disproportionately create or " +
        "destroy value, adjusted for customer value, orders, tenure and the other moments; " +
        "only effects that survive false-discovery control count as significant.")),
    h("form", { class: "filters", "aria-label": "Moments filters", onsubmit: (e) => e.preventDefault() },
      select("f-outcome", "Outcome", OUTCOMES, outcome, (v) => ctx.navigate({ ...params, outcome: v })),
      input("f-window", "Days of experiences before the answer",
        { type: "number", min: "1", max: "3650", step: "1", value: windowDays, inputmode: "numeric" },
        (v) => ctx.navigate({ ...params, window_days: v })))));
  const wait = loading("pivotal moments");
  root.append(wait);
  const doc = await ctx.api("/v1/moments", { outcome, window_days: windowDays });
  wait.remove();

  const all = (doc.moments ?? []).filter((m) => m.effect !== null && m.effect !== undefined);
  const significant = all.filter((m) => m.significant);
  const unit = UNITS[doc.outcome] ?? "outcome units";
  const findings = significant.slice(0, 3).map((m) => h("li", {}, recommendation(m, unit)));
  root.append(h("section", { class: "card", "data-section": "priorities" },
    h("h2", {}, "Where to invest first"),
    h("p", { class: "muted small" }, `${int(doc.n)} ${doc.outcome} observations; model ${doc.model ?? ""}; ` +
      `${significant.length} of ${all.length} moments significant.`),
    findings.length ? h("ol", { class: "findings" }, findings)
      : h("p", {}, "No touchpoint experience has an effect distinguishable from noise after adjustment."),
    ...(doc.notes ?? []).map((n) => h("p", { class: "muted small" }, `Note: ${n}`))));

  if (!all.length) {
    root.append(note("No moment has enough exposed customers to estimate an effect."));
    return;
  }
  const ranked = all.slice(0, 15);
  const rows = ranked.flatMap((m) => {
    const group = `${words(m.touchpoint)}: ${m.condition}`;
    const out = [{ group, kind: m.significant ? "adjusted (significant)" : "adjusted (not significant)",
      value: m.effect, ci_low: m.ci_low ?? m.effect, ci_high: m.ci_high ?? m.effect, n: m.n_exposed }];
    if (m.naive_effect !== null && m.naive_effect !== undefined) {
      out.push({ group, kind: "naive (unadjusted)", value: m.naive_effect,
        ci_low: m.naive_ci_low ?? m.naive_effect, ci_high: m.naive_ci_high ?? m.naive_effect });
    }
    return out;
  });
  root.append(h("section", { class: "block", "data-section": "effects" },
    h("div", { class: "card" }, chart("moments-effects", intervalDots(rows, {
      title: `Effect on ${OUTCOMES.find(([k]) => k === doc.outcome)?.[1] ?? doc.outcome}`,
      subtitle: "Adjusted effect (dot) and its 95% CI (line) beside the naive difference, in " +
        `ranked order (top ${ranked.length} by priority); n: answers exposed to the experience, ` +
        `of ${int(doc.n)}.`,
      xTitle: `effect (${unit}), 95% CI`, yTitle: "touchpoint: experience", zero: true,
      kinds: ["adjusted (significant)", "adjusted (not significant)", "naive (unadjusted)"],
      colors: [GOOD, GREY, "#d55e00"], sort: ranked.map((m) => `${words(m.touchpoint)}: ${m.condition}`),
    })))));
  root.append(h("section", { class: "card", "data-section": "ranking" },
    table("Every moment, ranked by priority", [
      { label: "#" }, { label: "touchpoint", text: true }, { label: "experience", text: true },
      { label: "adjusted [95% CI]" }, { label: "naive" }, { label: "q" },
      { label: "significant", text: true }, { label: "exposed / not" }, { label: "reach" },
      { label: "priority" }, { label: "owner", text: true }, { label: "note", text: true }],
    all.map((m, i) => [String(i + 1), words(m.touchpoint), m.condition,
      { value: `${num(m.effect, 2, { signed: true })} [${num(m.ci_low, 2, { signed: true })}, ${num(m.ci_high, 2, { signed: true })}]`,
        className: m.significant ? (m.effect < 0 ? "trend-bad" : "trend-good") : "" },
      num(m.naive_effect, 2, { signed: true }), pValue(m.q_value),
      { value: m.significant ? "yes" : "no", className: m.significant ? "sig-yes" : "sig-no" },
      `${int(m.n_exposed)} / ${int(m.n_unexposed)}`, pct(m.reach), num(m.priority, 3),
      m.owner ?? "", m.note ?? ""]))));
}

function recommendation(m, unit) {
  const direction = m.effect < 0 ? "lowers" : "raises";
  const action = m.condition === "failed" ? "cut the failure rate here first"
    : m.effect < 0 ? "review what customers go through at this touchpoint"
      : "make this experience reach more customers";
  const owner = m.owner ? `; owner: ${m.owner}` : "";
  return h("span", {}, h("strong", { class: m.effect < 0 ? "trend-bad" : "trend-good" },
    `${words(m.touchpoint)} (${m.condition})`),
  ` ${direction} the outcome by ${num(Math.abs(m.effect), 2)} ${unit} ` +
    `[95% CI ${num(m.ci_low, 2, { signed: true })} to ${num(m.ci_high, 2, { signed: true })}] after ` +
    `adjustment (naive ${num(m.naive_effect, 2, { signed: true })}); it reaches ` +
    `${pct(m.reach)} of answers: ${action}${owner}.`);
}
