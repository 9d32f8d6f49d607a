// runic dashboard: helpers shared by the pages.
//
// Rule of this code: every value that comes from the store (ids, names, values, errors,
// tracebacks) reaches the page as text (textContent, createTextNode, setAttribute), never as
// HTML. `h()` below is the only way the pages build elements.
"use strict";

const runic = (() => {
  const STATUSES = ["running", "idle", "failed", "stopped", "cancelled"];

  /** An element: h("a", {href: "/x", class: "y"}, "text", otherElement, ...). */
  function h(tag, attrs, ...children) {
    const svg = tag.startsWith("svg:");
    const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
                   : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key === "className" ? "class" : key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** GET (or POST, with opts) a JSON API; throws Error(message) for an error answer. */
  async function api(path, opts) {
    const response = await fetch(path, {headers: {"Accept": "application/json"}, ...(opts || {})});
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
      const err = new Error(message);
      err.status = response.status;
      throw err;
    }
    return body;
  }

  /** An action button's request: POST with the header the server requires. */
  function act(path) {
    return api(path, {method: "POST", headers: {"Accept": "application/json", "X-Runic-UI": "1"}});
  }

  function workflowPath(id) { return "/workflows/" + encodeURIComponent(id); }
  function apiPath(id, rest) { return "/api/workflows/" + encodeURIComponent(id) + (rest || ""); }

  function statusBadge(status) {
    return h("span", {class: `badge st-${STATUSES.includes(status) ? status : "unknown"}`}, status || "unknown");
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  /** Epoch ms as local "YYYY-MM-DD HH:MM:SS". */
  function when(ms) {
    if (!ms) return "";
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  /** Epoch ms as "12 s ago" / "3 min ago" / "2 h ago" / a date, relative to `now`. */
  function ago(ms, now) {
    if (!ms) return "";
    const s = Math.max(0, Math.round(((now || Date.now()) - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return when(ms).slice(0, 10);
  }

  function timeCell(ms, now) {
    return ms ? h("time", {datetime: new Date(ms).toISOString(), title: when(ms)}, ago(ms, now)) : "–";
  }

  function ownerText(owner) {
    return owner ? `${owner.name} (${owner.epoch})` : "–";
  }

  /** Show (or hide, with an empty text) the page's notice line. */
  function notice(text, kind) {
    const el = document.getElementById("notice");
    if (!el) return;
    el.textContent = text || "";
    el.className = "notice " + (kind || "");
    el.hidden = !text;
  }

  function readOnly() { return document.body.dataset.readOnly === "1"; }

  return {STATUSES, h, api, act, workflowPath, apiPath, statusBadge, when, ago, timeCell, ownerText, notice,
          readOnly};
})();
