// Shared helpers of the dashboard: building the DOM safely, calling the API, formatting.
//
// Text from the API is only ever inserted as text (textContent / text nodes), never as HTML,
// so a customer's review or a brand name cannot inject markup or script.

export const KEY_STORAGE = "cxloop.apiKey"; // sessionStorage: gone when the tab closes

// ---------------------------------------------------------------------------------------------
// DOM

/** `h("p", {class: "x"}, "text", child)`: an element; strings become text nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** A table: `columns` are {label, text?: true (left-aligned)}; cells are strings or nodes. */
export function table(caption, columns, rows, { className = "" } = {}) {
  const head = h("tr", {}, columns.map((c) =>
    h("th", { scope: "col", class: c.text ? "text" : null }, c.label)));
  const body = rows.map((row) =>
    h("tr", {}, row.map((cell, i) => {
      const plain = cell !== null && typeof cell === "object" && !(cell instanceof Node);
      const cls = [columns[i]?.text ? "text" : "", plain ? cell.className ?? "" : ""]
        .join(" ").trim();
      const content = plain ? cell.value : cell;
      return h(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, class: cls || null },
        content ?? "");
    })));
  return h("div", { class: `table-wrap ${className}` },
    h("table", {}, caption ? h("caption", {}, caption) : null,
      h("thead", {}, head), h("tbody", {}, body)));
}

export function loading(what) {
  return h("div", { class: "loading", role: "status" }, `Loading ${what}…`);
}

/** An error box that says what failed and the API's own words. */
export function errorBox(what, error) {
  const status = error?.status ? ` (HTTP ${error.status})` : "";
  return h("div", { class: "error-box", role: "alert" },
    h("strong", {}, `${what} could not be shown${status}.`),
    error?.message ?? String(error));
}

export function note(text) {
  return h("p", { class: "note-box" }, text);
}

// ---------------------------------------------------------------------------------------------
// The API

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const cache = new Map(); // url -> Promise of the document (cleared by Refresh or a new data version)

export function clearCache() {
  cache.clear();
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

/** GET `path` with the key; rejects with ApiError(status, the API's detail). */
export async function api(path, params = {}, { signal, fresh = false, key = apiKey() } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const cacheKey = url.pathname + url.search;
  if (!fresh && cache.has(cacheKey)) return cache.get(cacheKey);
  const promise = request(url, key, signal);
  if (!fresh) {
    cache.set(cacheKey, promise);
    promise.catch(() => cache.delete(cacheKey)); // never keep a failure
  }
  return promise;
}

async function request(url, key, signal) {
  let response;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${key ?? ""}`, Accept: "application/json" },
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(0, "The server cannot be reached. Is `cxloop serve` still running?");
  }
  if (!response.ok) {
    const error = new ApiError(response.status, await errorDetail(response));
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent("cxloop:unauthorized", { detail: error.message }));
    }
    throw error;
  }
  return response.json();
}

async function errorDetail(response) {
  try {
    const body = await response.json();
    const detail = body?.detail ?? body?.message ?? body;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) { // FastAPI's validation errors
      return detail.map((d) => `${(d.loc ?? []).slice(1).join(".") || "request"}: ${d.msg}`)
        .join("; ");
    }
    return JSON.stringify(detail);
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}

// ---------------------------------------------------------------------------------------------
// The URL hash: `#/page?name=value`, so a view can be bookmarked and shared.

export function parseHash(hash = window.location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [page, query = ""] = raw.split("?");
  return { page: page || "scorecard", params: Object.fromEntries(new URLSearchParams(query)) };
}

export function hashFor(page, params = {}) {
  const query = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const text = query.toString();
  return `#/${page}${text ? `?${text}` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// Numbers

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export const NA = "n/a";

export function int(n) {
  return n === null || n === undefined ? NA : integer.format(n);
}

export function num(x, digits = 2, { signed = false } = {}) {
  if (x === null || x === undefined || Number.isNaN(x)) return NA;
  const text = Math.abs(x) >= 1000
    ? new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }).format(x)
    : x.toFixed(digits);
  return signed && x > 0 ? `+${text}` : text.replace("-", "−");
}

export function pct(x, digits = 1, { signed = false } = {}) {
  if (x === null || x === undefined) return NA;
  return `${num(100 * x, digits, { signed })}%`;
}

export function money(x, currency = "USD", digits = 2) {
  if (x === null || x === undefined) return NA;
  try {
    return new Intl.NumberFormat("en-US", {
      style: "currency", currency, maximumFractionDigits: digits, minimumFractionDigits: 0,
    }).format(x);
  } catch {
    return `${num(x, digits)} ${currency}`;
  }
}

/** A p- or q-value: "< 0.001" rather than a row of zeros. */
export function pValue(x) {
  if (x === null || x === undefined) return NA;
  return x < 0.001 ? "< 0.001" : x.toFixed(3);
}

/** "value [low, high]" with one formatter for all three; `n/a` without a value. */
export function withCi(estimate, format) {
  if (!estimate || estimate.value === null || estimate.value === undefined) return NA;
  const value = format(estimate.value);
  if (estimate.ci_low === null || estimate.ci_low === undefined) return value;
  return `${value} [${format(estimate.ci_low)}, ${format(estimate.ci_high)}]`;
}

export function title(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/** Words for a machine name: `support_contact` -> `support contact`. */
export function words(name) {
  return name === null || name === undefined ? "" : String(name).replaceAll("_", " ");
}

/** A select with a label; `onChange(value)` when the user picks another option. */
export function select(id, label, options, value, onChange) {
  const el = h("select", { id, name: id },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  el.addEventListener("change", () => onChange(el.value));
  return h("div", { class: "field" }, h("label", { for: id }, label), el);
}

export function input(id, label, attrs, onChange) {
  const el = h("input", { id, name: id, ...attrs });
  el.addEventListener("change", () => onChange(el.value));
  return h("div", { class: "field" }, h("label", { for: id }, label), el);
}

export const PERIODS = [["month", "Month"], ["quarter", "Quarter"], ["year", "Year"]];
