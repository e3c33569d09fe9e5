// Closed loop: the backlog of cases by team, how fast teams respond and resolve against their
// SLA, the themes that keep coming back, and whether following up with a detractor moves their
// next answer. Analysts and operators read the figures; only operators work cases (the API).

import { errorBox, h, int, loading, note, num, pct, table, withCi, words } from "../lib.js";

export const title = "Closed loop";

export async function render(ctx) {
  const { root } = ctx;
  root.append(h("div", { class: "page-head" }, h("div", {},
    h("h1", { tabindex: "-1" }, "Closed loop"),
    h("p", { class: "muted" }, "Detractor answers routed to the team that owns the moment, " +
      "tracked to resolution against their SLA, and followed up with the customer."))));
  const wait = loading("the cases report");
  root.append(wait);
  let doc;
  try {
    doc = await ctx.api("/v1/cases/report");
  } catch (error) {
    wait.remove();
    if (error?.status === 401 || error?.name === "AbortError") throw error;
    root.append(error?.status === 403
      ? note("The closed loop's figures need an analyst or operator key.")
      : errorBox("The cases report", error));
    return;
  }
  wait.remove();
  const hours = (x) => `${num(x, 1)} h`;
  const share = (x) => pct(x, 1);
  root.append(h("section", { class: "card", "data-section": "summary" },
    h("h2", {}, "Backlog"),
    h("ul", { class: "summary" },
      h("li", {}, `Open: ${int(doc.open)} of ${int(doc.cases)} cases; overdue: ${int(doc.overdue)}.`),
      h("li", {}, `First response within SLA: ${withCi(doc.sla.first_response, share)} ` +
        `(n = ${int(doc.sla.first_response.n)}); resolution within SLA: ` +
        `${withCi(doc.sla.resolution, share)} (n = ${int(doc.sla.resolution.n)}).`),
      h("li", {}, `Median time to first response ${median(doc.first_response_time, hours)}; ` +
        `to resolution ${median(doc.resolution_time, hours)}.`),
      h("li", {}, `Followed up after resolution: ${int(doc.followed_up)}.`))));
  const teams = doc.by_team.map((t) => [words(t.team), int(t.open), int(t.new), int(t.assigned),
    int(t.in_progress), int(t.overdue), int(t.resolved), int(t.closed)]);
  root.append(h("section", { class: "card", "data-section": "teams" },
    h("h2", {}, "By team"),
    teams.length ? table("Cases by team and status", [{ label: "team", text: true },
      { label: "open" }, { label: "new" }, { label: "assigned" }, { label: "in progress" },
      { label: "overdue" }, { label: "resolved" }, { label: "closed" }], teams)
      : note("No case yet: switch the loop on with [cases] enabled = true.")));
  const themes = Object.entries(doc.themes_by_team).flatMap(([team, list]) =>
    list.map((t) => [words(team), words(t.theme), int(t.cases)]));
  root.append(h("section", { class: "card", "data-section": "themes" },
    h("h2", {}, "Recurring themes"),
    themes.length ? table("Themes of the cases' answers, by team", [{ label: "team", text: true },
      { label: "theme", text: true }, { label: "cases" }], themes)
      : note("No pinned theme found in the cases' answers ([voc.pinned]).")));
  const effect = doc.loop_effect;
  root.append(h("section", { class: "card", "data-section": "loop" },
    h("h2", {}, "Does closing the loop work?"),
    effect ? table("NPS of detractors' next answer", [{ label: "detractors", text: true },
      { label: "NPS (95% CI)" }, { label: "n" }], [
      ["followed up", withCi(effect.followed_up, (x) => num(x, 1)), int(effect.followed_up.n)],
      ["not followed up", withCi(effect.not_followed_up, (x) => num(x, 1)),
        int(effect.not_followed_up.n)],
      ["difference", withCi(effect.difference, (x) => num(x, 1, { signed: true })), ""],
    ]) : note("The warehouse was busy: the loop's effect is left out.")));
}

function median(times, format) {
  return times.n ? `${format(times.median_hours)} (n = ${int(times.n)})` : "n/a";
}
