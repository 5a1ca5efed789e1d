// The console's own script: the form token on htmx's requests, and the keyboard. Pages work without it.
"use strict";

(function () {
  const token = () => document.getElementById("csrf")?.dataset.token || "";

  // htmx's requests carry the session's form token as a header, the way plain forms carry it as a field.
  document.addEventListener("htmx:configRequest", (e) => {
    e.detail.headers["X-CSRF-Token"] = token();
  });

  const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  const rows = () => Array.from(document.querySelectorAll("tr[data-row]"));
  let current = -1;
  // What Ctrl+Enter sends the message as: the last of `r` and `n` pressed.
  let sendAs = "reply";

  function select(i) {
    const all = rows();
    if (all.length === 0) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((r, j) => r.classList.toggle("current", j === current));
    const link = all[current].querySelector("a");
    if (link) link.focus();
  }

  // Forms that keep the queue's filters (save a view, columns, bulk) were rendered with the filters of the page's
  // first load; htmx has since changed them in the address, which is what they must carry.
  document.addEventListener("submit", (e) => {
    const filters = e.target.querySelector("input[name=filters]");
    if (filters && location.pathname === "/queue") filters.value = location.search.slice(1);
  });

  // A swapped result list starts again from its first row.
  document.addEventListener("htmx:afterSwap", () => { current = -1; });

  function focus(selector) {
    const el = document.querySelector(selector);
    if (!el) return false;
    el.focus();
    return true;
  }

  function toggleHelp(show) {
    const help = document.getElementById("keys");
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) help.focus();
  }

  // New tickets appear without a reload: the results are fetched again every 20 s, unless the technician is in the
  // middle of something there (a ticked ticket, the focus in the list or the bulk bar), which a swap would undo.
  setInterval(() => {
    const results = document.getElementById("results");
    if (!results || !window.htmx || document.hidden) return;
    if (results.querySelector("input[type=checkbox]:checked") || results.contains(document.activeElement)) return;
    window.htmx.ajax("GET", location.pathname + location.search, { target: "#results", select: "#results", swap: "outerHTML" });
  }, 20000);

  // A check asked for and not ended: its list is fetched again every 2 s until every run has its result.
  setInterval(() => {
    const runs = document.getElementById("check-runs");
    if (!runs || runs.dataset.pending !== "true" || !window.htmx) return;
    window.htmx.ajax("GET", location.pathname, { target: "#check-runs", select: "#check-runs", swap: "outerHTML" });
  }, 2000);

  // The catalog's search: checks whose name or summary hold every word typed.
  document.addEventListener("input", (e) => {
    if (e.target.id !== "check-search") return;
    const words = e.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll(".catalog li[data-check]").forEach((li) => {
      const text = li.dataset.check.toLowerCase();
      li.hidden = !words.every((w) => text.includes(w));
    });
  });

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      toggleHelp(false);
      if (typing(document.activeElement)) document.activeElement.blur();
      return;
    }
    // Ctrl+Enter in the message sends it, as a reply or a note as `r` or `n` chose.
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && document.activeElement?.id === "body") {
      e.preventDefault();
      document.getElementById("send-" + sendAs)?.click();
      return;
    }
    if (typing(document.activeElement) || e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = {
      j: () => select(current + 1),
      k: () => select(current - 1),
      "/": () => focus("#text"),
      r: () => { sendAs = "reply"; focus("#body"); },
      n: () => { sendAs = "note"; focus("#body"); },
      a: () => focus("#assign-to"),
      e: () => focus("#tier"),
      x: () => {
        const box = rows()[current]?.querySelector("input[type=checkbox]");
        if (box) box.checked = !box.checked;
      },
      "?": () => toggleHelp(),
    };
    const act = keys[e.key];
    if (act) {
      e.preventDefault();
      act();
    }
  });
})();
