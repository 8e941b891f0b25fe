// restock's home page, enhanced: forms post in place, the page follows the
// engine's event stream (GET events) and refreshes its sections, the item
// filter box, and relative times kept current. Without this script the
// page still works: forms post and come back, and it reloads every 30 s.
"use strict";

(function () {
  const SECTIONS = ["top", "attention", "items", "orders", "stores", "engine"];
  const seen = {}; // section id -> the markup it was last given
  let refreshing = false;
  let again = false;

  function $(id) { return document.getElementById(id); }

  // --- relative times -------------------------------------------------
  function span(ms) {
    const s = Math.floor(Math.max(0, ms) / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  }
  function times(root) {
    const now = Date.now();
    for (const t of (root || document).querySelectorAll("time[data-t]")) {
      const at = Number(t.getAttribute("data-t"));
      t.textContent = at <= now ? span(now - at) + " ago" : "in " + span(at - now);
      if (!t.title) t.title = new Date(at).toLocaleString();
    }
  }

  // --- the filter box ---------------------------------------------------
  let keys = null; // [row, lowercased text] for every item row
  function filter() {
    const box = $("filter");
    if (!box) return;
    const q = box.value.trim().toLowerCase();
    if (!keys) {
      keys = Array.from(document.querySelectorAll("#items li.item"), (row) => [
        row, (row.getAttribute("data-item") + " " + row.querySelector(".grow").textContent).toLowerCase(),
      ]);
    }
    for (const [row, text] of keys) row.hidden = q !== "" && !text.includes(q);
    let shown = 0;
    for (const group of document.querySelectorAll("#items details.group")) {
      const n = group.querySelectorAll("li.item:not([hidden])").length;
      group.hidden = n === 0;
      shown += n;
    }
    const none = $("no-match");
    if (none) none.hidden = shown !== 0 || q === "";
  }
  function enhanceItems(value, focused) {
    keys = null;
    const box = $("filter");
    if (!box) return;
    box.hidden = false;
    if (value !== undefined) box.value = value;
    if (focused) box.focus();
    let timer = 0;
    box.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(filter, keys && keys.length > 500 ? 120 : 0);
    });
    if (box.value) filter();
  }

  // --- notices ----------------------------------------------------------
  function notice(ok, text) {
    const n = $("notice");
    if (!n) return;
    n.textContent = text;
    n.className = "notice " + (ok ? "ok" : "err");
    n.hidden = false;
  }

  // --- refreshing in place ----------------------------------------------
  // A section's markup without the words of its relative times, which
  // change every second: a section is replaced only when something in it
  // did (the script keeps the times current itself).
  function essence(markup) {
    return markup.replace(/(<time[^>]*>)[^<]*/g, "$1");
  }
  function remember() {
    for (const id of SECTIONS) {
      const el = $(id);
      if (el) seen[id] = essence(el.outerHTML);
    }
  }

  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      do {
        again = false;
        const r = await fetch("./", { headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store" });
        if (r.status === 401) { location.reload(); return; }
        if (!r.ok) continue;
        const doc = new DOMParser().parseFromString(await r.text(), "text/html");
        apply(doc);
      } while (again);
    } catch (e) {
      // A dropped connection: the next event (or the reconnect) tries again.
    } finally {
      refreshing = false;
    }
  }

  function apply(doc) {
    const box = $("filter");
    const value = box ? box.value : undefined;
    const focused = box && document.activeElement === box;
    for (const id of SECTIONS) {
      const fresh = doc.getElementById(id);
      const old = $(id);
      if (!fresh || !old) continue;
      const markup = essence(fresh.outerHTML);
      if (seen[id] === markup) continue;
      seen[id] = markup;
      const live = $("live") && !$("live").hidden;
      old.replaceWith(document.importNode(fresh, true));
      if (id === "items") enhanceItems(value, focused);
      if (id === "top" && live) $("live").hidden = false;
    }
    for (const a of ["data-paused", "data-engine", "data-turn-at", "data-needs"]) {
      document.body.setAttribute(a, doc.body.getAttribute(a) || "");
    }
    document.title = doc.title;
    times();
  }

  // --- forms --------------------------------------------------------------
  document.addEventListener("submit", async (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || form.method !== "post" || form.classList.contains("signin")) return;
    ev.preventDefault();
    const button = ev.submitter;
    const body = new URLSearchParams(new FormData(form, button));
    if (button) button.disabled = true;
    try {
      const r = await fetch(form.action, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      let said = null;
      try { said = await r.json(); } catch (e) { said = null; }
      if (said && said.redirect) { location.href = said.redirect; return; }
      if (r.status === 401 || (said && said.signin)) { location.reload(); return; }
      if (said) notice(Boolean(said.ok), said.message);
      else notice(false, "the server answered " + r.status);
      if (said && said.message === "signed out") { location.reload(); return; }
    } catch (e) {
      notice(false, "could not reach restock: " + e);
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
    refresh();
  });

  // --- the event stream ---------------------------------------------------
  const REFRESH_ON = ["queued", "claimed", "phase", "settled", "released", "retrying",
    "storage_failing", "probed", "lagged"];
  function live() {
    if (!window.EventSource) return;
    const es = new EventSource("events");
    const mark = (on) => {
      const l = $("live");
      if (l) l.hidden = !on;
      document.body.setAttribute("data-live", on ? "1" : "0");
    };
    es.addEventListener("hello", () => { mark(true); refresh(); });
    for (const type of REFRESH_ON) es.addEventListener(type, refresh);
    es.addEventListener("paused", () => {
      if (document.body.getAttribute("data-paused") !== "1") refresh();
    });
    es.addEventListener("idle", () => {
      if (document.body.getAttribute("data-paused") === "1") refresh();
    });
    es.addEventListener("turn", (ev) => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      const t = $("turned");
      if (t && data.at) { t.setAttribute("data-t", String(data.at)); times(t.parentNode); }
      const n = $("turns");
      if (n && data.n) n.textContent = String(data.n);
      document.body.setAttribute("data-turn-at", String(data.at || ""));
    });
    es.addEventListener("stopped", () => mark(false));
    es.onerror = () => mark(false);
  }

  function start() {
    if (document.body.getAttribute("data-page")) return; // the sign-in page
    remember();
    enhanceItems();
    times();
    setInterval(times, 15000);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh();
    });
    live();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
