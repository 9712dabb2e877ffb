// Aduan staff UI: live queue, keyboard shortcuts, canned responses. Every page works
// without this file; it only saves clicks. No inline script: the CSP allows only us.
"use strict";

(function () {
  // ------------------------------------------------------------- live queue
  const table = document.getElementById("queue");
  if (table && table.dataset.changes) {
    const rows = document.getElementById("queue-rows");
    const live = document.getElementById("live");
    const seen = new Set(Array.from(rows.querySelectorAll("tr[data-key]"), (tr) => tr.dataset.key));
    let since = table.dataset.since;
    const every = Math.max(1000, parseInt(table.dataset.interval, 10) || 5000);
    let busy = false;

    async function poll() {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const sep = table.dataset.changes.includes("?") ? "&" : "?";
        const answer = await fetch(table.dataset.changes + sep + "since=" + encodeURIComponent(since),
          { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!answer.ok) return;
        const news = await answer.json();
        const fresh = news.changed.filter((key) => !seen.has(key));
        if (fresh.length) {
          const page = await fetch(table.dataset.rows + sep + "since=" + encodeURIComponent(since),
            { credentials: "same-origin" });
          if (page.ok) {
            const selected = document.querySelector(".queue-row.is-selected");
            const keep = selected ? selected.dataset.href : null;
            rows.innerHTML = await page.text();  // server-rendered, autoescaped
            rows.querySelectorAll("tr[data-key]").forEach((tr) => {
              seen.add(tr.dataset.key);
              if (keep && tr.dataset.href === keep) tr.classList.add("is-selected");
            });
            fresh.forEach((key) => seen.add(key));
            live.textContent = (table.dataset.freshText || "{n}").replace("{n}", fresh.length);
            const empty = document.querySelector(".empty");
            if (empty && rows.children.length) empty.remove();
          }
        }
        since = news.since;
      } catch (err) {
        // offline for a moment: try again on the next tick
      } finally {
        busy = false;
      }
    }
    setInterval(poll, every);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  }

  // Clicking anywhere on a queue row opens the ticket (the number stays a real link).
  document.addEventListener("click", (event) => {
    const row = event.target.closest(".queue-row");
    if (!row || event.target.closest("a, button, input, select, textarea")) return;
    window.location.href = row.dataset.href;
  });

  // --------------------------------------------------------- canned responses
  document.querySelectorAll("select[data-canned-for]").forEach((select) => {
    select.addEventListener("change", () => {
      const target = document.getElementById(select.dataset.cannedFor);
      if (!target || !select.value) return;
      target.value = target.value ? target.value.replace(/\s*$/, "\n\n") + select.value : select.value;
      target.focus();
      select.value = "";
    });
  });

  // ------------------------------------------------------------- confirmations
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // ------------------------------------------------------------------ shortcuts
  const dialog = document.getElementById("shortcuts");
  document.querySelectorAll("[data-shortcuts]").forEach((b) =>
    b.addEventListener("click", () => dialog && dialog.showModal()));

  function selectRow(step) {
    const all = Array.from(document.querySelectorAll(".queue-row"));
    if (!all.length) return;
    const current = all.findIndex((tr) => tr.classList.contains("is-selected"));
    const next = Math.min(all.length - 1, Math.max(0, current + step));
    all.forEach((tr) => tr.classList.remove("is-selected"));
    all[next].classList.add("is-selected");
    all[next].scrollIntoView({ block: "nearest" });
  }

  let pendingG = false;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "q") { window.location.href = "/ui/queue"; event.preventDefault(); }
      return;
    }
    if (key === "g") { pendingG = true; return; }
    if (key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) { search.focus(); search.select(); event.preventDefault(); }
    } else if (key === "j" || key === "k") {
      selectRow(key === "j" ? 1 : -1);
    } else if (key === "o" || key === "Enter") {
      const row = document.querySelector(".queue-row.is-selected");
      if (row) window.location.href = row.dataset.href;
    } else if (key === "r" || key === "n") {
      const box = document.querySelector(`textarea[data-key="${key}"]`);
      if (box) { box.focus(); box.scrollIntoView({ block: "center" }); event.preventDefault(); }
    } else if (key === "?" && dialog) {
      dialog.open ? dialog.close() : dialog.showModal();
    }
  });
})();
