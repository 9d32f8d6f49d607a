// runic dashboard: one workflow's page. It loads the workflow's data (/api/workflows/ID),
// draws it, and follows it live: the server pushes a `state` event (status, events, owner)
// whenever one changes (/api/workflows/ID/live, server-sent events), and the page then reloads
// the data and appends the new events to the timeline.
"use strict";

(() => {
  const {h, api, act, apiPath, statusBadge, when, ago, timeCell, ownerText, notice} = runic;
  const id = document.body.dataset.id;
  const el = (name) => document.getElementById(name);
  const drawn = {graph: "", failures: "", pending: "", productions: ""};
  let current = null;        // the last workflow data
  let lastSeq = 0;           // the last event shown in the timeline
  let firstSeq = 1;          // the first event shown
  let loading = false;
  let again = false;

  // ---------------------------------------------------------------- header and actions
  function drawHeader(data) {
    document.title = `${data.id} · runic`;
    el("wid").textContent = data.id;
    el("wname").textContent = data.name ? `(${data.name})` : "";
    el("status").replaceChildren(statusBadge(data.status));
    const facts = [
      ["owner", ownerText(data.owner)],
      ["events", `${data.events}${data.from_stream ? "" : " (saved log, no stream)"}`],
      ["updated", data.updated ? `${when(data.updated)} (${ago(data.updated, data.now)})` : "–"],
      ["last step", data.last_step_at ? when(data.last_step_at) : "–"],
      ["snapshot", data.snapshot ? `at event ${data.snapshot}` : "none"],
    ];
    const options = Object.entries(data.options || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    if (options) facts.push(["options", options]);
    el("facts").replaceChildren(...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    drawActions(data.status, data.read_only);
  }

  function drawActions(status, readOnly) {
    el("actions").hidden = !!readOnly;
    el("stop").hidden = status !== "running";
    el("resume").hidden = !(status === "stopped" || status === "running");
    el("cancel").hidden = status === "cancelled" || !status;
  }

  const CONFIRM = {
    stop: "Stop this workflow? Completed work stays; Resume continues it. A Runner running it elsewhere is fenced and stops.",
    cancel: "Cancel this workflow for good? Nothing more of it runs and it is never resumed. A Runner running it elsewhere is fenced and stops.",
    resume: "Resume this workflow in the dashboard's Runner? A Runner still running it elsewhere is fenced and stops.",
  };

  async function action(name) {
    if (name !== "resume" || current.status === "running") {
      if (!window.confirm(CONFIRM[name])) return;
    }
    for (const b of ["stop", "resume", "cancel"]) el(b).disabled = true;
    el("message").className = "message";
    el("message").textContent = `${name}…`;
    try {
      const answer = await act(apiPath(id, `/${name}`));
      el("message").textContent = answer.message;
      el("status").replaceChildren(statusBadge(answer.status));
      drawActions(answer.status, false);
    } catch (err) {
      el("message").textContent = `${name} failed: ${err.message}`;
      el("message").className = "message error";
    } finally {
      for (const b of ["stop", "resume", "cancel"]) el(b).disabled = false;
      refresh();
    }
  }

  // ---------------------------------------------------------------- sections
  function drawGraph(data) {
    const key = JSON.stringify(data.graph);
    if (key === drawn.graph) return;
    drawn.graph = key;
    runicGraph.draw(el("graph"), el("tooltip"), data.graph);
    const count = (state) => data.graph.nodes.filter((n) => n.state === state).length;
    const parts = ["ran", "running", "pending", "failed", "cancelled"].map((s) => [s, count(s)]).filter(([, n]) => n);
    el("progress").textContent = parts.map(([s, n]) => `${n} ${s}`).join(" · ");
  }

  function drawFailures(data) {
    const key = JSON.stringify(data.failures);
    if (key === drawn.failures) return;
    drawn.failures = key;
    const list = data.failures;
    el("failures-title").textContent = list.length
      ? `Failures (${list.length} recorded; ${data.failed_for_good} failed for good)` : "Failures: none";
    el("failures").replaceChildren(...list.slice().reverse().map((f) => h("article", {
        class: `failure o-${f.outcome}`, "data-component": f.component, "data-outcome": f.outcome},
      h("div", {class: "f-head"},
        h("span", {class: "dim"}, `#${f.number} `), h("strong", {}, f.label), ` (${f.component_kind}) attempt ${f.attempts} · `,
        h("span", {class: "outcome"}, f.outcome), f.kind !== "exception" ? ` · ${f.kind}` : "",
        h("span", {class: "dim"}, ` · ${when(f.at)}`)),
      h("div", {class: "f-error"}, `${f.error_type}: ${f.message}`),
      h("div", {class: "f-input dim"}, `input: ${f.input}`),
      f.traceback
        ? h("details", {open: f.halted}, h("summary", {}, "traceback"), h("pre", {class: "traceback"}, f.traceback))
        : h("div", {class: "dim"}, "no traceback recorded (timeouts and crashed tasks have none)"))));
  }

  function table(name, rows, cells) {
    const key = JSON.stringify(rows);
    if (key === drawn[name]) return;
    drawn[name] = key;
    const body = el(name).querySelector("tbody");
    body.replaceChildren(...(rows.length ? rows.map((r) => h("tr", {}, cells(r).map((c, i) =>
      h("td", {class: i === 2 && name === "productions" ? "num" : ""}, c))))
      : [h("tr", {}, h("td", {colspan: 4, class: "dim"}, "none"))]));
  }

  function drawResults(data) {
    if (!data.results) { el("results").replaceChildren(); return; }
    el("results").replaceChildren(h("h3", {}, "Results (output ports)"),
      h("table", {class: "list"}, h("tbody", {}, Object.entries(data.results).map(([k, v]) =>
        h("tr", {}, h("td", {}, k), h("td", {class: "value"}, v))))));
  }

  // ---------------------------------------------------------------- timeline
  function eventRow(e, now) {
    return h("tr", {class: e.failure ? "ev-failure" : "", "data-seq": e.seq},
      h("td", {class: "num"}, String(e.seq)), h("td", {class: "type"}, e.type),
      h("td", {class: "value"}, e.text), h("td", {}, e.at ? timeCell(e.at, now) : ""));
  }

  /** Keep the timeline scrolled to its newest event, unless the reader scrolled up. */
  function atBottom() {
    const box = el("timeline-box");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }

  function toBottom() {
    const box = el("timeline-box");
    box.scrollTop = box.scrollHeight;
  }

  async function loadNewEvents() {
    const follow = atBottom();
    for (let guard = 0; guard < 20; guard++) {
      const page = await api(apiPath(id, `/events?after=${lastSeq}&limit=500`));
      if (!page.events.length) break;
      const body = el("timeline").querySelector("tbody");
      body.append(...page.events.map((e) => eventRow(e, Date.now())));
      lastSeq = page.events[page.events.length - 1].seq;
      el("events-count").textContent = `${page.total} in the stream`;
      if (lastSeq >= page.total) break;
    }
    if (follow) toBottom();
  }

  async function loadTimeline() {
    const page = await api(apiPath(id, "/events?limit=200"));
    el("timeline").querySelector("tbody").replaceChildren(...page.events.map((e) => eventRow(e, Date.now())));
    firstSeq = page.first;
    lastSeq = page.events.length ? page.events[page.events.length - 1].seq : 0;
    el("older").hidden = firstSeq <= 1;
    el("events-count").textContent = `${page.total} in the stream`;
    toBottom();
  }

  async function loadOlder() {
    const page = await api(apiPath(id, `/events?before=${firstSeq}&limit=200`));
    const box = el("timeline-box");
    const height = box.scrollHeight;
    el("timeline").querySelector("tbody").prepend(...page.events.map((e) => eventRow(e, Date.now())));
    box.scrollTop += box.scrollHeight - height;  // the rows the reader was looking at stay in place
    firstSeq = page.first;
    el("older").hidden = firstSeq <= 1;
  }

  // ---------------------------------------------------------------- loading
  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const data = await api(apiPath(id));
      current = data;
      drawHeader(data);
      drawGraph(data);
      drawFailures(data);
      table("pending", data.pending, (r) => [r.step, r.input]);
      table("productions", data.productions, (r) => [r.component, r.kind, String(r.count), r.latest ?? "–"]);
      drawResults(data);
      if (lastSeq === 0) await loadTimeline(); else await loadNewEvents();
      notice("");
    } catch (err) {
      notice(`cannot load workflow ${id}: ${err.message}`, "error");
    } finally {
      loading = false;
      if (again) { again = false; setTimeout(refresh, 300); }
    }
  }

  // One live connection per visible page: a browser allows six connections per host, so pages
  // in background tabs let theirs go and reconnect (and reload) when shown again.
  let source = null;

  function follow() {
    const live = el("live");
    if (source) return;
    source = new EventSource(apiPath(id, "/live"));
    source.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
    source.addEventListener("error", () => { live.textContent = "reconnecting"; live.className = "live off"; });
    source.addEventListener("state", (ev) => {
      const state = JSON.parse(ev.data);
      el("status").replaceChildren(statusBadge(state.status));
      if (!current || state.status !== current.status || state.events !== current.events ||
          JSON.stringify(state.owner) !== JSON.stringify(current.owner)) {
        refresh();
      }
    });
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden && source) {
      source.close();
      source = null;
      el("live").textContent = "paused";
      el("live").className = "live";
    } else if (!document.hidden && !source) {
      refresh().then(follow);
    }
  });

  for (const name of ["stop", "resume", "cancel"]) el(name).addEventListener("click", () => action(name));
  el("older").addEventListener("click", loadOlder);
  runicGraph.legend(el("legend"));
  refresh().then(follow);
})();
