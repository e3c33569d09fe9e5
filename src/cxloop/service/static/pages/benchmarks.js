// External benchmarks on the scorecard page: our figure against published industry values,
// the difference with its 95% CI, and a benchmark without uncertainty shown as such.

import { h, int, num, table } from "../lib.js";

function interval(v) {
  if (!v || v.value === null || v.value === undefined) return "";
  const f = (x) => num(x, Math.abs(v.value) < 1 ? 3 : 1);
  return v.ci_low === null || v.ci_low === undefined
    ? `${f(v.value)} (no interval published)` : `${f(v.value)} [${f(v.ci_low)}, ${f(v.ci_high)}]`;
}

// better/worse read with the metric's direction (a support contact rate above the industry's is
// worse).
function verdictText(r) {
  if (r.verdict !== "better" && r.verdict !== "worse") return r.verdict ?? "";
  return `${r.verdict} (${r.position}; ${r.higher_is_better === false ? "lower" : "higher"} is better)`;
}

export function benchmarksSection(rows) {
  return h("section", { class: "card", "data-section": "benchmarks" },
    h("h2", {}, "External benchmarks"),
    h("p", { class: "muted small" }, "Difference = ours - benchmark, 95% CI; it combines both " +
      "uncertainties when the benchmark publishes one, and is ours alone (too narrow) when not."),
    table(null, [
      { label: "metric", text: true }, { label: "industry", text: true }, { label: "period", text: true },
      { label: "source", text: true }, { label: "benchmark" }, { label: "n" }, { label: "ours" },
      { label: "difference" }, { label: "verdict", text: true }, { label: "note", text: true }],
    rows.map((r) => [r.label, r.industry, r.period, r.source, interval(r.benchmark),
      r.benchmark.n === null ? "" : int(r.benchmark.n), interval(r.ours), interval(r.difference),
      { value: verdictText(r), className: r.verdict === "better" ? "trend-good"
        : r.verdict === "worse" ? "trend-bad" : "" }, r.note])));
}
