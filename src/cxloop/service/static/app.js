// The dashboard's shell: sign-in with an API key, the hash router, the header.
//
// The key lives in sessionStorage (this tab only, gone when it closes), never in
// localStorage or a cookie, and is sent only as `Authorization: Bearer` to this origin.

import { drawCharts } from "./charts.js";
import {
  api, apiKey, clear, clearCache, errorBox, h, hashFor, KEY_STORAGE, parseHash,
} from "./lib.js";
import * as advocacy from "./pages/advocacy.js";
import * as architecture from "./pages/architecture.js";
import * as cases from "./pages/cases.js";
import * as journey from "./pages/journey.js";
import * as moments from "./pages/moments.js";
import * as profiles from "./pages/profiles.js";
import * as scorecard from "./pages/scorecard.js";
import * as segments from "./pages/segments.js";
import * as voc from "./pages/voc.js";

const PAGES = {
  scorecard, journey, moments, architecture, segments, voc, profiles, advocacy, cases,
};

const $ = (id) => document.getElementById(id);
const els = {
  login: $("login"), form: $("login-form"), key: $("key-input"), message: $("login-message"),
  nav: $("nav"), session: $("session"), whoami: $("whoami"), logout: $("logout"),
  refresh: $("refresh"), view: $("view"), brand: $("brand-name"), status: $("status"),
};

let running = null; // the AbortController of the page being drawn
let lastPage = null;
let meta = null;

function showLogin(message = "", isError = false) {
  running?.abort();
  clearCache();
  meta = null;
  lastPage = null;
  els.nav.hidden = true;
  els.session.hidden = true;
  clear(els.view);
  els.view.dataset.state = "login";
  els.login.hidden = false;
  els.message.textContent = message;
  els.message.className = `message${isError ? " error" : ""}`;
  els.brand.textContent = "cxloop";
  document.title = "Sign in · cxloop";
  els.key.focus();
}

function showApp(who) {
  els.login.hidden = true;
  els.nav.hidden = false;
  els.session.hidden = false;
  els.whoami.textContent = `key ${who.key_id} · ${who.role}`;
}

/** Check a key with GET /v1/whoami; keep it only if the server accepts it. */
async function signIn(key) {
  els.message.textContent = "Checking the key…";
  els.message.className = "message";
  try {
    const who = await api("/v1/whoami", {}, { key, fresh: true });
    sessionStorage.setItem(KEY_STORAGE, key);
    els.key.value = "";
    showApp(who);
    await route();
  } catch (error) {
    const reason = {
      401: "This key was not accepted",
      403: "This key may not open the dashboard",
      429: "Too many attempts",
    }[error.status] ?? "Signing in failed";
    els.message.textContent = `${reason}: ${error.message}`;
    els.message.className = "message error";
    els.key.focus();
  }
}

function signOut(message = "You are signed out. The key was forgotten by this tab.") {
  sessionStorage.removeItem(KEY_STORAGE);
  showLogin(message);
}

async function loadMeta(signal) {
  const fresh = await api("/v1/meta", {}, { signal, fresh: true });
  if (meta && meta.data_version !== fresh.data_version) clearCache(); // new data: new figures
  meta = fresh;
  els.brand.textContent = meta.brand || "cxloop";
  return meta;
}

/** Draw the page the hash names. Filters changing re-draw it; focus stays where it was. */
async function route() {
  if (!apiKey()) return;
  const { page, params } = parseHash();
  const module = PAGES[page];
  if (!module) {
    window.location.replace(hashFor("scorecard"));
    return;
  }
  running?.abort();
  const controller = new AbortController();
  running = controller;
  const focusId = page === lastPage ? document.activeElement?.id : null;
  const pageChanged = page !== lastPage;
  lastPage = page;

  for (const link of els.nav.querySelectorAll("a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${module.title} · cxloop`;
  const root = h("div", { class: "page", "data-page": page });
  els.view.dataset.state = "loading";
  els.view.dataset.page = page;
  els.view.dataset.hash = window.location.hash;
  els.view.setAttribute("aria-busy", "true");
  clear(els.view).append(root);

  const ctx = {
    root,
    params,
    signal: controller.signal,
    meta: null,
    pending: [], // work a page finishes after its charts (a slower figure filled in later)
    api: (path, query) => api(path, query, { signal: controller.signal }),
    navigate: (next) => {
      window.location.hash = hashFor(page, next);
    },
  };
  try {
    ctx.meta = await loadMeta(controller.signal);
    await module.render(ctx);
    if (controller.signal.aborted) return;
    await drawCharts(root);
    await Promise.all(ctx.pending);
    if (controller.signal.aborted) return;
    els.view.dataset.state = root.querySelector(".error-box") ? "error" : "ready";
    els.status.textContent = `${module.title} is shown${els.view.dataset.state === "error" ? ", with errors" : ""}.`;
  } catch (error) {
    if (controller.signal.aborted || error?.name === "AbortError") return;
    if (error?.status === 401) return; // the unauthorized handler shows the sign-in screen
    root.querySelector(".loading")?.remove();
    root.append(errorBox(module.title, error));
    els.view.dataset.state = "error";
    els.status.textContent = `${module.title} could not be shown.`;
  } finally {
    if (running === controller) els.view.removeAttribute("aria-busy");
  }
  if (focusId) document.getElementById(focusId)?.focus();
  else if (pageChanged) root.querySelector("h1")?.focus({ preventScroll: true });
}

window.addEventListener("cxloop:unauthorized", (event) => {
  if (!apiKey()) return; // a key being tried at sign-in reports its own error
  sessionStorage.removeItem(KEY_STORAGE);
  showLogin(`The server refused the key (${event.detail}). Sign in again.`, true);
});

els.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = els.key.value.trim();
  if (!key) {
    els.message.textContent = "Paste an API key first.";
    els.message.className = "message error";
    els.key.focus();
    return;
  }
  signIn(key);
});
els.logout.addEventListener("click", () => signOut());
els.refresh.addEventListener("click", () => {
  clearCache();
  route();
});
window.addEventListener("hashchange", () => route());

async function start() {
  const key = apiKey();
  if (!key) {
    showLogin();
    return;
  }
  try {
    const who = await api("/v1/whoami", {}, { fresh: true });
    showApp(who);
    await route();
  } catch (error) {
    if (error?.status !== 401) showLogin(`Could not check the saved key: ${error.message}`, true);
  }
}

start();
