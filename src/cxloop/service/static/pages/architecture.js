// Experience architecture and content at the moments that matter: each declared moment with
// its reach, effectiveness and pivotal effect, the gaps, the value framework, and which
// content moves customers (adjusted lift beside the naive number). Mirrors
// src/cxloop/report/architecture_sections.py.

import { chart, GOOD, GREY, hBars, intervalDots } from "../charts.js";
import { errorBox, h, int, loading, note, num, pct, pValue, select, table } from "../lib.js";

export const title = "Architecture & content";

const OUTCOMES = [
  ["nps", "NPS answers about the moment"], ["csat", "CSAT about the moment"],
  ["ces", "CES about the moment"], ["rating", "Star rating"], ["repurchase", "Repurchase"],
];

function share(x) {
  if (!x || x.value === null || x.value === undefined) return "";
  return `${pct(x.value)} [${pct(x.ci_low)}, ${pct(x.ci_high)}]`;
}

function effect(x, scale = 1, digits = 2) {
  if (!x || x.effect === null || x.effect === undefined) return "";
  const s = (v) => num(scale * v, digits, { signed: true });
  return `${s(x.effect)} [${s(x.ci_low)}, ${s(x.ci_high)}]`;
}

export async function render(ctx) {
  const { root, params } = ctx;
  const outcome = params.outcome || "nps";
  root.append(h("div", { class: "page-head" },
    h("div", {},
      h("h1", { tabindex: "-1" }, "Experience architecture and content"),
      h("p", { class: "muted" }, "Personas x moments x experiences from architecture.toml, " +
        "joined with the data; which content actually moves customers at the moment it serves " +
        "(adjusted as pivotal moments are, the naive number beside it).")),
    h("form", { class: "filters", "aria-label": "Content filters", onsubmit: (e) => e.preventDefault() },
      select("f-content-outcome", "Content outcome", OUTCOMES, outcome,
        (v) => ctx.navigate({ ...params, outcome: v })))));
  const wait = loading("the architecture and content");
  root.append(wait);
  const [arch, content] = await Promise.allSettled([
    ctx.api("/v1/architecture"),
    ctx.api("/v1/content/lift", { outcome }),
  ]);
  wait.remove();
  if (content.status === "fulfilled") drawContent(root, content.value);
  else root.append(errorBox("Content at the moments", content.reason));
  if (arch.status === "fulfilled") drawArchitecture(root, arch.value);
  else if (arch.reason?.status === 400 && /no architecture\.toml/.test(arch.reason.message)) {
    root.append(note(arch.reason.message));
  } else root.append(errorBox("The experience architecture", arch.reason));
}

function drawContent(root, doc) {
  const measured = doc.assets.filter((a) => a.lift && a.lift.effect !== null);
  const section = h("section", { class: "card", "data-section": "content" },
    h("h2", {}, "Content at the moments that matter"),
    ...(doc.notes ?? []).map((n) => h("p", { class: "muted small" }, `Note: ${n}`)));
  root.append(section);
  if (!doc.assets.length) return;
  if (measured.length) {
    const rows = measured.flatMap((a) => {
      const group = `${a.content_id} ${a.title}`;
      return [
        { group, kind: a.lift.significant ? "adjusted (significant)" : "adjusted (not significant)",
          value: a.lift.effect, ci_low: a.lift.ci_low, ci_high: a.lift.ci_high, n: a.lift.n_exposed },
        { group, kind: "naive (unadjusted)", value: a.lift.naive_effect,
          ci_low: a.lift.naive_ci_low ?? a.lift.naive_effect,
          ci_high: a.lift.naive_ci_high ?? a.lift.naive_effect },
      ];
    });
    section.append(chart("content-lift", intervalDots(rows, {
      title: `Lift of each asset on ${doc.outcome} at its moment`,
      subtitle: "Adjusted lift (dot, 95% CI) beside the naive difference; n: units whose " +
        "customer opened the asset.",
      xTitle: "difference in the outcome, 95% CI", yTitle: "asset", zero: true,
      kinds: ["adjusted (significant)", "adjusted (not significant)", "naive (unadjusted)"],
      colors: [GOOD, GREY, "#d55e00"], sort: measured.map((a) => `${a.content_id} ${a.title}`),
    })));
  }
  section.append(chart("content-reach", hBars(
    doc.assets.map((a) => ({ group: `${a.content_id} ${a.title}`, value: a.reach?.value ?? 0,
      label: `${pct(a.reach?.value)} (${int(a.engagement.views)} views)` })),
    { title: "Reach of each asset", subtitle: "Share of active customers who opened it.",
      xTitle: "share of customers", yTitle: "asset", format: ".1%", labelField: "label" })));
  section.append(table("Assets", [
    { label: "asset", text: true }, { label: "type", text: true }, { label: "moment", text: true },
    { label: "value level", text: true }, { label: "status", text: true }, { label: "reach" },
    { label: "views" }, { label: "adjusted lift [95% CI]" }, { label: "naive" }, { label: "q" },
    { label: "significant", text: true }, { label: "note", text: true }],
  doc.assets.map((a) => [`${a.content_id} ${a.title}`, a.type, a.moment, a.value_level, a.status,
    share(a.reach), int(a.engagement.views), effect(a.lift), num(a.lift?.naive_effect, 2, { signed: true }),
    pValue(a.lift?.q_value),
    { value: a.lift?.significant ? "yes" : "no", className: a.lift?.significant ? "sig-yes" : "sig-no" },
    a.lift?.note ?? ""])));
  section.append(table("Moments: the lift of opening any of its assets", [
    { label: "moment", text: true }, { label: "touchpoints", text: true }, { label: "reach" },
    { label: "units" }, { label: "lift [95% CI]" }, { label: "naive" }, { label: "note", text: true }],
  doc.moments.map((m) => [m.moment, m.touchpoints.join(", "), share(m.reach), int(m.units),
    effect(m.lift_any), num(m.lift_any?.naive_effect, 2, { signed: true }), m.note])));
}

function drawArchitecture(root, doc) {
  const section = h("section", { class: "card", "data-section": "architecture" },
    h("h2", {}, "Experience architecture"),
    h("p", { class: "muted small" }, `From ${doc.file}.`));
  root.append(section);
  if (doc.gaps.length) {
    section.append(h("h3", {}, "Gaps"), h("ul", { class: "findings" },
      doc.gaps.map((g) => h("li", {}, h("strong", {}, g.kind.replaceAll("_", " ")),
        `: ${g.detail}${g.line ? ` (line ${g.line})` : ""}`))));
  } else section.append(h("p", {}, "No gaps."));
  section.append(chart("architecture-reach", intervalDots(
    doc.moments.filter((m) => m.reach?.value !== null && m.reach?.value !== undefined)
      .map((m) => ({ group: m.label, value: m.reach.value, ci_low: m.reach.ci_low,
        ci_high: m.reach.ci_high, n: m.reach.profiles })),
    { title: "Reach of each moment", subtitle: "Share of active customers with an event at " +
      "one of its touchpoints (dot) and its 95% CI.", xTitle: "share of customers",
    yTitle: "moment", format: ".1%" })));
  section.append(table("Moments", [
    { label: "moment", text: true }, { label: "touchpoints", text: true },
    { label: "owner", text: true }, { label: "experiences" }, { label: "reach" },
    { label: "effectiveness" }, { label: "NPS about it" }, { label: "pivotal effects", text: true }],
  doc.moments.map((m) => [m.label, m.touchpoints.join(", "), m.owner ?? "(none)",
    int(m.experiences.length), share(m.reach), share(m.effectiveness),
    m.nps_about?.value === null || m.nps_about?.value === undefined ? ""
      : `${num(m.nps_about.value, 1, { signed: true })} (n=${int(m.nps_about.n)})`,
    m.pivotal_effects.filter((e) => e.significant).map((e) =>
      `${e.touchpoint} ${e.condition} ${num(e.effect, 2, { signed: true })}`).join("; ")])));
  section.append(table("Experiences, stories and services", [
    { label: "moment", text: true }, { label: "experience", text: true }, { label: "kind", text: true },
    { label: "persona", text: true }, { label: "outcome sought", text: true },
    { label: "value level", text: true }, { label: "measured by", text: true }],
  doc.moments.flatMap((m) => m.experiences.map((x) => [m.label, x.name, x.kind, x.persona,
    x.outcome, x.value_level, x.measured_by.join(", ") || "(none)"]))));
  const vf = doc.value_framework;
  if (vf?.levels?.length) {
    section.append(h("h3", {}, "The value framework"),
      h("p", { class: "muted small" }, "Customers exposed to each level of value (via content, " +
        "or via the moments that plan it) against those who were not, adjusted for orders, " +
        `tenure and activity: associations, not effects. ${vf.notes.join(" ")}`),
      table("Value levels and commercially productive behaviour", [
        { label: "value level", text: true }, { label: "via", text: true }, { label: "exposed" },
        { label: "order value [95% CI]" }, { label: "naive" }, { label: "referral rate, pp [95% CI]" },
        { label: "naive" }, { label: "note", text: true }],
      vf.levels.map((l) => [l.value_level, l.via, int(l.exposed), effect(l.order_value),
        num(l.order_value.naive_effect, 2, { signed: true }), effect(l.referred, 100),
        num(l.referred.naive_effect === null ? null : 100 * l.referred.naive_effect, 2, { signed: true }),
        l.order_value.effect === null ? l.order_value.note : ""])));
  }
}
