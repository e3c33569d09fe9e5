// Profile lookup: find one unified profile by any of its identifiers and see its source
// records, why they were merged (which rule joined which records), and its timeline.
//
// The shareable URL carries the profile id only (#/profiles?id=P...), never the email or
// phone that was typed: those would end up in browser history and in links people share.

import { chart, timeline } from "../charts.js";
import { errorBox, h, int, loading, note, table, words } from "../lib.js";

export const title = "Profile lookup";

const NODE = { r: "record", e: "email", p: "phone", a: "anonymous id", c: "customer id" };

export async function render(ctx) {
  const { root, params } = ctx;
  const field = h("input", {
    id: "profile-key", name: "profile-key", type: "search", autocomplete: "off",
    spellcheck: "false", value: params.id ?? "", required: true,
    "aria-describedby": "profile-help",
  });
  const message = h("p", { class: "message", role: "status", id: "profile-message" });
  const form = h("form", { class: "search", role: "search", "aria-label": "Find a profile" },
    h("div", { class: "field" },
      h("label", { for: "profile-key" }, "Profile id, customer id, source:customer_id, email or anonymous id"),
      field),
    h("button", { type: "submit" }, "Look up"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = field.value.trim();
    if (!key) return;
    message.textContent = "Looking up…";
    message.className = "message";
    try {
      const profile = await ctx.api(`/v1/profiles/${encodeURIComponent(key)}`);
      message.textContent = "";
      if (params.id === profile.profile_id) {
        field.value = profile.profile_id;
        return;
      }
      ctx.navigate({ id: profile.profile_id });
    } catch (error) {
      if (error?.name === "AbortError" || error?.status === 401) return;
      message.textContent = error.status === 404
        ? `No profile matches “${key}”.` : `The lookup failed: ${error.message}`;
      message.className = "message error";
      field.focus();
    }
  });
  root.append(h("div", { class: "page-head" }, h("div", {},
    h("h1", { tabindex: "-1" }, "Profile lookup"),
    h("p", { class: "muted", id: "profile-help" }, "One customer across every source: the " +
      "records that were merged, the rule that joined them, and what happened, latest first."))),
  h("section", { class: "card", "data-section": "search" }, form, message));

  const wait = loading("profiles");
  root.append(wait);
  const [summary, profile] = await Promise.all([
    ctx.api("/v1/profiles").catch((error) => ({ error })),
    params.id ? ctx.api(`/v1/profiles/${encodeURIComponent(params.id)}`).catch((error) => ({ error }))
      : Promise.resolve(null),
  ]);
  wait.remove();
  for (const doc of [summary, profile]) {
    if (doc?.error?.status === 401 || doc?.error?.name === "AbortError") throw doc.error;
  }
  root.append(summary.error ? errorBox("The profile summary", summary.error) : summaryCard(summary));
  if (!profile) return;
  if (profile.error) {
    root.append(profile.error.status === 404
      ? note(`No profile matches “${params.id}”.`) : errorBox("The profile", profile.error));
    return;
  }
  root.append(...profileSections(profile));
}

function summaryCard(s) {
  return h("section", { class: "card", "data-section": "summary" },
    h("h2", {}, "Unified profiles"),
    h("p", {}, `${int(s.profiles)} profiles: ${int(s.known_profiles)} known (a customer record, ` +
      `an id or an email) and ${int(s.anonymous_profiles)} anonymous only. ${int(s.merged_records)} ` +
      `of ${int(s.source_records)} source records were merged: ` +
      Object.entries(s.by_rule ?? {}).map(([rule, n]) => `${int(n)} by ${words(rule)}`).join(", ") +
      `. ${int(s.skipped_identifiers)} identifiers were ignored (placeholders, shared devices).`));
}

function profileSections(p) {
  const name = [p.first_name, p.last_name].filter(Boolean).join(" ");
  const facts = [
    ["Profile id", p.profile_id], ["Name", name || "—"], ["Email", p.email ?? "—"],
    ["Phone", p.phone ?? "—"], ["Country", p.country ?? "—"], ["Segment", p.segment ?? "—"],
    ["Marketing consent", p.consent_marketing === null || p.consent_marketing === undefined
      ? "unknown" : p.consent_marketing ? "yes" : "no"],
    ["First seen", p.created_at ?? "—"], ["Known", p.known ? "yes" : "anonymous only"],
    ["Sources", (p.sources ?? []).join(", ")], ["Records", int(p.record_count)],
    ["Anonymous ids", int(p.anonymous_ids)],
  ];
  const head = h("section", { class: "card", "data-section": "profile", "data-profile": p.profile_id },
    h("h2", {}, `Profile ${p.profile_id}${name ? ` · ${name}` : ""}`),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])));
  const records = h("section", { class: "card", "data-section": "records" },
    table(`Source records (${(p.records ?? []).length})`, [
      { label: "source", text: true }, { label: "customer id", text: true }, { label: "email", text: true },
      { label: "phone", text: true }, { label: "name", text: true }, { label: "created", text: true }],
    (p.records ?? []).map((r) => [r.source, r.customer_id ?? "", r.email ?? "", r.phone ?? "",
      [r.first_name, r.last_name].filter(Boolean).join(" "), r.created_at ?? ""])));
  return [head, records, whyMerged(p), timelineSection(p)];
}

function node(id) {
  const [kind, ...rest] = String(id).split(":");
  const value = rest.join(":");
  return NODE[kind] ? { kind: NODE[kind], value } : { kind: "node", value: String(id) };
}

/** Links grouped by what joined them: "email x@y (rule: email) joins crm:C1 and shop:S2". */
function whyMerged(p) {
  const groups = new Map();
  for (const link of p.links ?? []) {
    const key = `${link.rule}\u0000${link.to}`;
    if (!groups.has(key)) groups.set(key, { rule: link.rule, to: link.to, from: [] });
    groups.get(key).from.push(link.from);
  }
  const box = h("section", { class: "card", "data-section": "why-merged" }, h("h2", {}, "Why these records are one profile"));
  if (!groups.size) {
    box.append(h("p", {}, "A single record: nothing was merged."));
    return box;
  }
  box.append(h("ul", { class: "findings" }, [...groups.values()].map((g) => {
    const to = node(g.to);
    const from = g.from.map((f) => node(f)).map((n) => (n.kind === "record" ? n.value : `${n.kind} ${n.value}`));
    return h("li", {}, h("strong", {}, `${to.kind} ${to.value}`), ` (rule: ${words(g.rule)}) `,
      from.length > 1 ? `joins ${from.join(" and ")}` : `links ${from[0]}`, ".");
  })));
  box.append(table(`Identifiers (${(p.identifiers ?? []).length})`,
    [{ label: "type", text: true }, { label: "value", text: true }],
    (p.identifiers ?? []).map((i) => [words(i.type), i.value])));
  return box;
}

function timelineSection(p) {
  const events = p.timeline ?? [];
  const box = h("section", { class: "card", "data-section": "timeline" },
    h("h2", {}, `Timeline (${events.length}, latest first)`));
  if (!events.length) {
    box.append(h("p", {}, "Nothing recorded for this profile yet."));
    return box;
  }
  box.append(chart("profile-timeline", timeline(events, {
    title: "What happened, when", subtitle: "One mark per fact; details in the tooltip and below." })));
  box.append(table(null, [{ label: "at", text: true }, { label: "what", text: true }, { label: "detail", text: true }],
    events.map((t) => [t.at ?? "", t.what ?? "", t.detail ?? ""])));
  return box;
}
