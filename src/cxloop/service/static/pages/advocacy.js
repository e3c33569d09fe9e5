// Advocacy program: who advocates (the score and its parts), who could, what referrals bring
// and cost against paid channels, which referrals the fraud checks hold, and the ladder of
// asks. Analysts and operators read the figures; only operators change anything (the API).

import { errorBox, h, int, loading, note, table, withCi, num } from "../lib.js";

export const title = "Advocacy";

const PARTS = ["referrals", "converted", "reviews", "mentions", "references", "reach"];

export async function render(ctx) {
  const { root } = ctx;
  root.append(h("div", { class: "page-head" }, h("div", {},
    h("h1", { tabindex: "-1" }, "Advocacy program"),
    h("p", { class: "muted" }, "Intentional acts only (referrals, public reviews, " +
      "recommendations, references), rewarded once through the loyalty ledger; referrals " +
      "paid after a holding period and fraud checks."))));
  const wait = loading("the advocacy report");
  root.append(wait);
  let doc;
  try {
    doc = await ctx.api("/v1/advocacy/report");
  } catch (error) {
    wait.remove();
    if (error?.status === 401 || error?.name === "AbortError") throw error;
    root.append(error?.status === 403
      ? note("The advocacy program's figures need an analyst or operator key.")
      : errorBox("The advocacy report", error));
    return;
  }
  wait.remove();
  const r = doc.referrals;
  const cac = doc.cac;
  const pct = (x) => `${num(100 * x, 1)}%`;
  root.append(h("section", { class: "card", "data-section": "summary" },
    h("h2", {}, "The program"),
    h("ul", { class: "summary" },
      h("li", {}, `${int(doc.advocates.count)} advocates; ${int(doc.potential_advocates.count)} ` +
        "promoters who have not acted yet."),
      h("li", {}, `Referrals: ${int(r.made)} made, ${int(r.converted)} converted ` +
        `(${withCi(r.conversion_rate, pct)}), revenue ${r.revenue} ${doc.currency}; ` +
        `${int(r.flagged)} held for review.`),
      h("li", {}, `A referred customer cost ${cac.referral_cac ?? "n/a"} ${cac.currency}; ` +
        `paid channels ${cac.paid_cac} ${cac.currency}.`),
      h("li", {}, `Public reviews: ${int(doc.reviews.generated)}, rewarded ` +
        `${int(doc.reviews.rewarded)}.`))));
  const columns = [{ label: "profile", text: true }, { label: "level", text: true },
    ...PARTS.map((p) => ({ label: p })), { label: "score" }];
  const rows = doc.advocates.top.map((a) =>
    [a.profile_id, a.level ?? "", ...PARTS.map((p) => int(a.parts[p])), num(a.score, 2)]);
  root.append(h("section", { class: "card", "data-section": "leaderboard" },
    h("h2", {}, "Leaderboard"),
    rows.length ? table("Advocates by score, with the parts that explain it", columns, rows)
      : note("No advocate yet.")));
  const potential = doc.potential_advocates.top.map((p) => [p.profile_id, int(p.nps), p.value_365d]);
  root.append(h("section", { class: "card", "data-section": "potential" },
    h("h2", {}, "Potential advocates"),
    potential.length ? table("Promoters without an act, most valuable first",
      [{ label: "profile", text: true }, { label: "latest NPS" }, { label: "value, 365 days" }],
      potential) : note("No promoter without an act.")));
  const flags = Object.entries(r.flags).map(([name, n]) => [name, int(n)]);
  root.append(h("section", { class: "card", "data-section": "fraud" },
    h("h2", {}, "Held for review"),
    flags.length ? table("Referrals flagged by each fraud check",
      [{ label: "check", text: true }, { label: "referrals" }], flags)
      : note("No referral is held for review.")));
  const asks = doc.asks.map((a) => [a.ask, int(a.issued), int(a.completed),
    withCi(a.completion_rate, pct)]);
  root.append(h("section", { class: "card", "data-section": "asks" },
    h("h2", {}, "Ladder of asks"),
    table("Asks issued and completed", [{ label: "ask", text: true }, { label: "issued" },
      { label: "completed" }, { label: "completion" }], asks)));
}
