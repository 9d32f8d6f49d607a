// runic dashboard: the workflows page. Filters (status, text) live in the URL's query, so a
// filtered list can be bookmarked; the list refreshes every two seconds.
"use strict";

(() => {
  const {h, api, statusBadge, timeCell, ownerText, workflowPath, notice, STATUSES} = runic;
  const REFRESH_MS = 2000;
  const params = new URLSearchParams(location.search);
  const chosen = new Set(params.getAll("status").filter((s) => STATUSES.includes(s)));
  const q = document.getElementById("q");
  q.value = params.get("q") || "";
  let timer = null;
  let inFlight = false;

  function query() {
    const p = new URLSearchParams();
    for (const s of chosen) p.append("status", s);
    if (q.value.trim()) p.set("q", q.value.trim());
    return p.toString();
  }

  function remember() {
    const text = query();
    history.replaceState(null, "", text ? `?${text}` : location.pathname);
  }

  function drawStatuses(counts) {
    const box = document.getElementById("statuses");
    box.replaceChildren(...STATUSES.map((s) => h("label", {class: `chip st-${s}`},
      h("input", {type: "checkbox", name: "status", value: s, checked: chosen.has(s),
                  onchange: (ev) => { ev.target.checked ? chosen.add(s) : chosen.delete(s); remember(); refresh(); }}),
      ` ${s} `, h("span", {class: "n"}, counts ? String(counts[s] || 0) : ""))));
  }

  function drawRows(data) {
    const rows = data.rows.map((r) => h("tr", {"data-id": r.id, "data-status": r.status || ""},
      h("td", {}, h("a", {href: workflowPath(r.id)}, r.id)),
      h("td", {}, r.name || "–"),
      h("td", {}, statusBadge(r.status)),
      h("td", {class: "owner"}, ownerText(r.owner)),
      h("td", {class: "num"}, String(r.events)),
      h("td", {}, timeCell(r.updated, data.now))));
    document.getElementById("rows").replaceChildren(...rows);
    const total = Object.values(data.counts).reduce((a, b) => a + b, 0);
    const shown = data.rows.length < data.matched ? `${data.rows.length} of ${data.matched} shown` : "";
    document.getElementById("count").textContent =
      `${data.matched} of ${total} workflow(s)` + (shown ? `; ${shown} (narrow the filter)` : "");
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    try {
      const data = await api(`/api/workflows?${query()}`);
      drawStatuses(data.counts);
      drawRows(data);
      notice("");
      document.getElementById("live").className = "live on";
    } catch (err) {
      notice(`cannot load the workflows: ${err.message}`, "error");
      document.getElementById("live").className = "live off";
    } finally {
      inFlight = false;
    }
  }

  document.getElementById("filters").addEventListener("submit", (ev) => { ev.preventDefault(); });
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { remember(); refresh(); }, 250);
  });
  drawStatuses(null);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
