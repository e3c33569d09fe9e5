// Vega-Lite specifications built from the API's documents, drawn by vega-embed as SVG.
//
// The shapes mirror the HTML report's (src/cxloop/report/charts.py): a line per series with
// its 95% interval as a band, bars per period, a dot per group with its interval as a rule.
// Every chart has a title and axis titles; estimates carry their interval and n (in the
// label or the tooltip).

import "./vendor/vega.js"; // Vega, Vega-Lite and vega-embed, bundled offline by vl_convert
import { h } from "./lib.js";

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
// Colour-blind-safe categorical palette (Okabe-Ito, the black replaced by a blue-grey).
export const PALETTE = [
  "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#5d6d7e",
];
export const GOOD = "#1e7b34";
export const BAD = "#b42318";
export const GREY = "#9aa5b1";

const CONFIG = {
  font: FONT,
  view: { stroke: null },
  background: "#ffffff",
  padding: 4,
  axis: {
    labelFontSize: 11, titleFontSize: 12, labelColor: "#3e4c59", titleColor: "#1f2933",
    gridColor: "#e4e7eb", domainColor: "#9aa5b1", tickColor: "#9aa5b1",
    // labelLimit stays at Vega's default (180 px): Vega places an axis title as if labels
    // were no wider than that, so a larger limit draws long labels under the title.
  },
  title: {
    fontSize: 14, fontWeight: 700, anchor: "start", color: "#1f2933", subtitleColor: "#52606d",
    subtitleFontSize: 11, offset: 8,
  },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: "bottom", labelLimit: 260 },
  range: { category: PALETTE },
};

const specs = new WeakMap(); // figure -> spec, drawn once the figure is in the page

/** A figure for `spec`: `data-chart` names it; drawn by `drawCharts` once in the page. */
export function chart(name, spec, caption) {
  const target = h("div", { class: "vega-target" });
  const figure = h("figure", { class: "chart", "data-chart": name }, target,
    caption ? h("figcaption", {}, caption) : null);
  specs.set(figure, spec);
  return figure;
}

/** Draw every pending chart under `root`; a chart that fails says so in place. */
export async function drawCharts(root) {
  const figures = [...root.querySelectorAll("figure.chart")].filter((f) => specs.has(f));
  await Promise.all(figures.map(async (figure) => {
    const spec = specs.get(figure);
    specs.delete(figure);
    const target = figure.querySelector(".vega-target");
    try {
      await window.vegaEmbed(target, { ...spec, config: CONFIG }, {
        renderer: "svg",
        actions: false,
        mode: "vega-lite",
        ast: true, // interpret expressions: no eval, so the page's CSP needs no 'unsafe-eval'
        tooltip: { theme: "light" },
      });
      const svg = target.querySelector("svg");
      if (svg) {
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", spec.description ?? titleText(spec));
      }
    } catch (error) {
      console.error(`chart ${figure.dataset.chart}:`, error);
      figure.replaceChildren(h("p", { class: "error-box", role: "alert" },
        `The chart "${titleText(spec)}" could not be drawn: ${error?.message ?? error}`));
      figure.classList.remove("chart");
    }
  }));
}

function titleText(spec) {
  return typeof spec.title === "string" ? spec.title : spec.title?.text ?? "chart";
}

function base(title, subtitle, values, { height = 220, width = "container" } = {}) {
  return {
    title: subtitle ? { text: title, subtitle } : title,
    description: subtitle ? `${title}. ${subtitle}` : title,
    width,
    height,
    autosize: { type: "fit-x", contains: "padding" },
    data: { values },
  };
}

const ciTooltip = (format) => [
  { field: "value", type: "quantitative", title: "estimate", format },
  { field: "ci_low", type: "quantitative", title: "95% CI low", format },
  { field: "ci_high", type: "quantitative", title: "95% CI high", format },
  { field: "n", type: "quantitative", title: "n", format: "," },
];

/**
 * Lines per series over periods with the 95% interval as a band.
 * points: {period, start, series, value, ci_low, ci_high, n}
 */
export function trendWithInterval(points, { title, subtitle, yTitle, format = ".2f",
  xTitle = "period start", legendColumns = null }) {
  const x = { field: "start", type: "temporal", title: xTitle };
  const color = { field: "series", type: "nominal", title: null,
    ...(legendColumns ? { legend: { columns: legendColumns } } : {}) };
  return {
    ...base(title, subtitle ?? "Lines: estimate per period; bands: 95% confidence interval; " +
      "n in the tooltip.", points),
    layer: [
      {
        mark: { type: "area", opacity: 0.18, interpolate: "monotone" },
        encoding: {
          x, color,
          y: { field: "ci_low", type: "quantitative", title: yTitle },
          y2: { field: "ci_high" },
        },
      },
      {
        mark: { type: "line", point: true, interpolate: "monotone" },
        encoding: {
          x, color,
          y: { field: "value", type: "quantitative", title: yTitle },
          tooltip: [
            { field: "period", type: "nominal", title: "period" },
            { field: "series", type: "nominal", title: "series" },
            ...ciTooltip(format),
          ],
        },
      },
    ],
  };
}

/** Bars per period; points: {period, series, value}. Grouped side by side unless `stack`. */
export function barsOverTime(points, { title, subtitle, yTitle, stack = false, format = "," }) {
  const encoding = {
    x: { field: "period", type: "ordinal", title: "period", axis: { labelAngle: -45 } },
    y: { field: "value", type: "quantitative", title: yTitle, stack: stack ? "zero" : null },
    color: { field: "series", type: "nominal", title: null },
    tooltip: [
      { field: "period", type: "nominal" },
      { field: "series", type: "nominal" },
      { field: "value", type: "quantitative", format },
    ],
  };
  if (!stack) encoding.xOffset = { field: "series" };
  return { ...base(title, subtitle, points), mark: { type: "bar" }, encoding };
}

/**
 * A dot per group with its 95% interval as a rule; rows: {group, value, ci_low, ci_high, n,
 * kind?}. The axis label carries n. `kind` (e.g. adjusted / naive) draws dots side by side.
 */
export function intervalDots(rows, { title, subtitle, xTitle, yTitle, format = ".2f",
  zero = false, kinds = null, sort = "-x", colors = null }) {
  // The axis shows the group (long ones cut, in full in the tooltip); n is written beside
  // each interval, where it cannot be cut off.
  const values = rows.map((r) => ({
    ...r,
    label: shorten(r.group),
    n_text: r.n === undefined || r.n === null ? "" : `n=${fmtInt(r.n)}`,
  }));
  // One sort for every layer (a channel sort like "-x" would read each layer's own x).
  const order = sort === "x" ? "ascending" : "descending";
  const labelOf = new Map(values.map((r) => [r.group, r.label]));
  const y = {
    field: "label", type: "nominal", title: yTitle,
    sort: Array.isArray(sort) ? sort.map((g) => labelOf.get(g) ?? g)
      : kinds ? null : { field: "value", op: "max", order },
  };
  const color = kinds
    ? { field: "kind", type: "nominal", title: null, scale: { domain: kinds, range: colors ?? PALETTE } }
    : colors ? { value: colors[0] } : { value: PALETTE[0] };
  const shared = { y, color, ...(kinds ? { yOffset: { field: "kind", sort: kinds } } : {}) };
  const tooltip = [{ field: "group", type: "nominal", title: yTitle ?? "group" },
    ...(kinds ? [{ field: "kind", type: "nominal" }] : []), ...ciTooltip(format)];
  const labels = new Set(values.map((r) => r.label)).size;
  const layer = [
    {
      mark: { type: "rule", strokeWidth: 2 },
      encoding: {
        ...shared,
        x: { field: "ci_low", type: "quantitative", title: xTitle },
        x2: { field: "ci_high" },
        tooltip,
      },
    },
    {
      mark: { type: "point", filled: true, size: 70 },
      encoding: { ...shared, x: { field: "value", type: "quantitative", title: xTitle }, tooltip },
    },
    {
      mark: { type: "text", align: "left", baseline: "middle", dx: 5, fontSize: 10, color: "#52606d" },
      encoding: {
        y, ...(kinds ? { yOffset: shared.yOffset } : {}),
        x: { field: "ci_high", type: "quantitative", title: xTitle },
        text: { field: "n_text" },
      },
    },
  ];
  if (zero) {
    layer.unshift({
      data: { values: [{ zero: 0 }] },
      mark: { type: "rule", color: "#52606d", strokeDash: [4, 3] },
      encoding: { x: { field: "zero", type: "quantitative" } },
    });
  }
  return {
    ...base(title, subtitle ?? "Dots: estimate; lines: 95% confidence interval.", values,
      { height: Math.max(80, (kinds ? 30 : 22) * labels) }),
    layer,
  };
}

/** Horizontal bars; rows: {group, value, ...}. Optional labels and a colour field. */
export function hBars(rows, { title, subtitle, xTitle, yTitle, format = ",", color = null,
  colorTitle = null, sort = "-x", labelField = null, domain = null, tooltip = [] }) {
  const y = { field: "group", type: "nominal", title: yTitle, sort };
  const x = { field: "value", type: "quantitative", title: xTitle };
  if (domain) x.scale = { domain };
  else if (labelField) { // room for the labels written after the bars
    x.scale = { domainMax: 1.5 * Math.max(0, ...rows.map((r) => r.value ?? 0)) };
  }
  const encoding = {
    y, x,
    color: color ? { field: color, type: "nominal", title: colorTitle } : { value: PALETTE[0] },
    tooltip: [{ field: "group", type: "nominal", title: yTitle ?? "group" },
      { field: "value", type: "quantitative", title: xTitle, format }, ...tooltip],
  };
  const layer = [{ mark: { type: "bar" }, encoding }];
  if (labelField) {
    layer.push({
      mark: { type: "text", align: "left", dx: 4, fontSize: 11, color: "#1f2933" },
      encoding: { y, x, text: { field: labelField, type: "nominal" } },
    });
  }
  return {
    ...base(title, subtitle, rows, { height: Math.max(80, 22 * new Set(rows.map((r) => r.group)).size) }),
    layer,
  };
}

/** Bars grouped within each row; rows: {group, series, value}. */
export function groupedHBars(rows, { title, subtitle, xTitle, yTitle, format = ".1%", sort = null }) {
  const groups = new Set(rows.map((r) => r.group)).size;
  const series = new Set(rows.map((r) => r.series)).size;
  return {
    ...base(title, subtitle, rows, { height: Math.max(100, groups * (series * 7 + 8)) }),
    mark: { type: "bar" },
    encoding: {
      y: { field: "group", type: "nominal", title: yTitle, sort },
      yOffset: { field: "series" },
      x: { field: "value", type: "quantitative", title: xTitle, axis: { format } },
      color: { field: "series", type: "nominal", title: null },
      tooltip: [{ field: "group", type: "nominal" }, { field: "series", type: "nominal" },
        { field: "value", type: "quantitative", format }],
    },
  };
}

/** A grid of cells coloured by `value` and labelled by `label`; rows: {x, y, value, label}. */
export function heatmap(rows, { title, subtitle, xTitle, yTitle, colorTitle, xSort = null,
  ySort = null, domain = null, scheme = "blues", width = "container", tooltip = [],
  rowHeight = 44 }) {
  const encoding = {
    x: { field: "x", type: "nominal", title: xTitle, sort: xSort, axis: { labelAngle: 0 } },
    y: { field: "y", type: "nominal", title: yTitle, sort: ySort },
  };
  const cells = new Set(rows.map((r) => r.y)).size;
  return {
    ...base(title, subtitle, rows, { height: Math.max(90, rowHeight * cells), width }),
    encoding,
    layer: [
      {
        mark: { type: "rect", stroke: "#ffffff", strokeWidth: 2 },
        encoding: {
          color: {
            field: "value", type: "quantitative", title: colorTitle,
            scale: { scheme, ...(domain ? { domain } : {}) },
            legend: { orient: "right", format: ".0%" },
          },
          tooltip: [{ field: "y", type: "nominal", title: yTitle },
            { field: "x", type: "nominal", title: xTitle },
            { field: "label", type: "nominal", title: colorTitle }, ...tooltip],
        },
      },
      {
        mark: { type: "text", fontSize: 12, fontWeight: 600, lineBreak: "\n" },
        encoding: {
          text: { field: "label", type: "nominal" },
          color: { condition: { test: "datum.dark", value: "#ffffff" }, value: "#1f2933" },
        },
      },
    ],
  };
}

/** A profile's timeline: one mark per fact, by kind; points: {at, what, detail}. */
export function timeline(points, { title, subtitle }) {
  return {
    ...base(title, subtitle, points, { height: Math.max(80, 36 * new Set(points.map((p) => p.what)).size) }),
    mark: { type: "point", filled: true, size: 80, opacity: 0.8 },
    encoding: {
      x: { field: "at", type: "temporal", title: "date" },
      y: { field: "what", type: "nominal", title: "what happened" },
      color: { field: "what", type: "nominal", title: null, legend: null },
      tooltip: [{ field: "at", type: "temporal", format: "%Y-%m-%d %H:%M" },
        { field: "what", type: "nominal" }, { field: "detail", type: "nominal" }],
    },
  };
}

/** At most `max` characters, with an ellipsis when cut. */
export function shorten(text, max = 30) {
  const s = String(text ?? "");
  return s.length > max ? `${s.slice(0, max - 1).trimEnd()}…` : s;
}

function fmtInt(n) {
  return new Intl.NumberFormat("en-US").format(n);
}
