// runic dashboard: the workflow's graph, laid out by dagre (vendored) and drawn as SVG.
//
// Each node is a box coloured by its state (failed, running, pending, cancelled, ran,
// unsatisfied, idle: see runic/ui/views.py); hovering it shows its counts, its error and its
// latest values. Every text goes in with textContent (see common.js).
"use strict";

const runicGraph = (() => {
  const {h} = runic;
  const FONT = "13px system-ui, -apple-system, 'Segoe UI', sans-serif";
  const SMALL = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
  const LINE = 16;
  const PAD_X = 12;
  const PAD_Y = 8;
  const canvas = document.createElement("canvas");

  function textWidth(text, font) {
    const ctx = canvas.getContext("2d");
    ctx.font = font;
    return ctx.measureText(text).width;
  }

  function cut(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function summary(n) {
    const parts = [];
    if (n.satisfied !== null && n.satisfied !== undefined && n.ran) {
      const t = Math.min(n.satisfied, n.ran);
      parts.push(t === n.ran ? `true ${t}×` : t === 0 ? `false ${n.ran}×` : `true ${t}×, false ${n.ran - t}×`);
    } else if (n.ran) {
      parts.push(`ran ${n.ran}×`);
    }
    if (n.running) parts.push(`running ${n.running}`);
    if (n.pending) parts.push(`pending ${n.pending}`);
    if (n.failed) parts.push(`failed ${n.failed}×`);
    if (n.cancelled) parts.push(`cancelled ${n.cancelled}`);
    return parts.join(", ");
  }

  function lines(n) {
    const second = [n.kind === "input" ? "" : n.kind, summary(n)].filter(Boolean).join(" · ");
    return [cut(n.label, 48), cut(second, 60)].filter(Boolean);
  }

  function showTip(tip, n, ev) {
    const rows = [
      h("div", {class: "tip-title"}, n.label, " ", h("span", {class: "dim"}, n.kind)),
      h("div", {}, `state: ${n.state}`),
    ];
    const s = summary(n);
    if (s) rows.push(h("div", {}, s));
    if (n.error) rows.push(h("div", {class: "tip-error"}, `✗ ${n.error}`));
    if (n.values.length) {
      rows.push(h("div", {class: "dim"}, n.produced > n.values.length
        ? `latest ${n.values.length} of ${n.produced} values:` : `value${n.values.length > 1 ? "s" : ""}:`));
      for (const v of n.values) rows.push(h("pre", {class: "tip-value"}, v));
    }
    tip.replaceChildren(...rows);
    tip.hidden = false;
    moveTip(tip, ev);
  }

  function moveTip(tip, ev) {
    const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const y = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
    tip.style.left = `${Math.max(4, x)}px`;
    tip.style.top = `${Math.max(4, y)}px`;
  }

  /** Draw `graph` ({nodes, edges}) into `box`, with hover details in `tip`. */
  function draw(box, tip, graph) {
    if (typeof dagre === "undefined") {
      box.replaceChildren(h("p", {class: "notice error"}, "the graph library did not load"));
      return;
    }
    const g = new dagre.graphlib.Graph();
    g.setGraph({rankdir: "TB", nodesep: 28, ranksep: 42, marginx: 8, marginy: 8});
    g.setDefaultEdgeLabel(() => ({}));
    const byId = new Map();
    for (const n of graph.nodes) {
      const text = lines(n);
      const width = Math.max(...text.map((t, i) => textWidth(t, i === 0 ? FONT : SMALL))) + 2 * PAD_X;
      g.setNode(n.id, {width: Math.max(60, Math.ceil(width)), height: text.length * LINE + 2 * PAD_Y, text});
      byId.set(n.id, n);
    }
    for (const e of graph.edges) g.setEdge(e.from, e.to, {kind: e.kind});
    dagre.layout(g);
    const size = g.graph();
    const svg = h("svg:svg", {class: "wf-graph", width: Math.ceil(size.width), height: Math.ceil(size.height),
                              viewBox: `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`,
                              role: "img", "aria-label": "workflow graph"});
    const defs = h("svg:defs", {},
      h("svg:marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
                       orient: "auto-start-reverse"}, h("svg:path", {d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead"})));
    svg.append(defs);
    for (const e of g.edges()) {
      const points = g.edge(e).points;
      const d = points.map((p, i) => `${i ? "L" : "M"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ");
      svg.append(h("svg:path", {d, class: `edge ${g.edge(e).kind === "fan_in" ? "fan-in" : ""}`,
                                "marker-end": "url(#arrow)"}));
    }
    for (const id of g.nodes()) {
      const box_ = g.node(id);
      const n = byId.get(id);
      const x = box_.x - box_.width / 2;
      const y = box_.y - box_.height / 2;
      const group = h("svg:g", {class: `node st-${n.state}`, "data-label": n.label, "data-state": n.state,
                                "data-kind": n.kind, transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
                                tabindex: 0},
        h("svg:rect", {width: box_.width, height: box_.height, rx: n.kind === "input" ? box_.height / 2 : 6}),
        box_.text.map((t, i) => h("svg:text", {x: box_.width / 2, y: PAD_Y + LINE * i + 12,
                                                class: i === 0 ? "label" : "sub", "text-anchor": "middle"}, t)));
      group.addEventListener("mouseenter", (ev) => showTip(tip, n, ev));
      group.addEventListener("mousemove", (ev) => moveTip(tip, ev));
      group.addEventListener("mouseleave", () => { tip.hidden = true; });
      group.addEventListener("focus", () => {
        const r = group.getBoundingClientRect();
        showTip(tip, n, {clientX: r.right, clientY: r.top});
      });
      group.addEventListener("blur", () => { tip.hidden = true; });
      svg.append(group);
    }
    box.replaceChildren(svg);
  }

  function legend(box) {
    const states = ["failed", "running", "pending", "cancelled", "ran", "unsatisfied", "idle"];
    box.replaceChildren(...states.map((s) => h("span", {class: `key st-${s}`}, s)));
  }

  return {draw, legend};
})();
