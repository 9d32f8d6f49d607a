"""What the dashboard shows, as JSON-ready data read from a store.

Every function here only reads the store. Values a workflow holds (inputs, productions,
errors, tracebacks) leave this module as **text** (short JSON, else ``repr``; see
:func:`runic.cli.render.as_json`) or numbers, never as objects: the JSON the browser gets is
plain data, and the page puts every string into the document as text (``textContent``),
never as markup.

A workflow's page data comes from rebuilding it from its stream without its code
(:func:`runic.cli.inspection.load`, the same reading as ``runic show``): it works for any
stored workflow, and nothing runs. Rebuilding costs a read of the whole stream, so
:class:`DetailCache` keeps the last few rebuilt workflows, keyed by what changes when the
workflow does (its cursor, status and owner): a page that polls a settled workflow costs three
small queries.

Node states, in order of precedence (the graph's colours; the same order as the Mermaid and
DOT exports, with ``running`` added for attempts in flight): ``failed`` (a runnable of the node
failed for good), ``running`` (an attempt was dispatched and has no result yet; recorded for
runnables in ``execution_mode="durable"``), ``pending`` (activated, not yet run),
``cancelled`` (skipped because something upstream failed), ``ran``, ``unsatisfied`` (a
condition that was evaluated but never held), ``idle`` (not reached).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from ..events import FailureRecorded, RunnableCompleted, RunnableDispatched, RunnableFailed
from ..export import _state_class as state_class  # one ranking of states, shared with the exports
from ..export import node_summaries
from ..facts import STRIPPED, Fact
from ..store import STATUSES, NotFoundError
from ..cli.events_view import describe_event
from ..cli.inspection import Loaded, NodeInfo, failure_views, load, node_labels, workflow_name
from ..cli.render import as_json
from ..cli.stores import all_ids
from .sources import status_times

__all__ = ["STATES", "VALUE_CHARS", "find_id", "workflow_list", "live_state", "DetailCache", "Detail", "timeline",
           "node_state", "text_of"]

log = logging.getLogger(__name__)

STATES = ("failed", "running", "pending", "cancelled", "ran", "unsatisfied", "idle")
VALUE_CHARS = 400
"""Values are cut to this many characters (the page says so with a trailing ``…``)."""
LIST_LIMIT = 500
TIMELINE_LIMIT = 200


def text_of(value: Any, limit: int = VALUE_CHARS) -> str:
    """``value`` as display text (JSON when it is plain data), cut to ``limit`` characters."""
    text = as_json(value)
    return text if limit <= 0 or len(text) <= limit else text[: limit - 1] + "…"


def _status(store: Any, wid: Hashable, recorded: str | None) -> str | None:
    if recorded is not None:
        return recorded
    return "idle" if store.exists(wid) else None  # events without a status: settled


def find_id(store: Any, text: str) -> Hashable | None:
    """The stored workflow id whose text is ``text`` (a non-``str`` id matches its ``str()``),
    or ``None``."""
    if store.exists(text) or store.status(text) is not None:
        return text
    for wid in all_ids(store):
        if str(wid) == text:
            return wid
    return None


def _owner(store: Any, wid: Hashable) -> dict | None:
    owner = store.owner(wid)
    return {"name": owner[0], "epoch": owner[1]} if owner else None


def workflow_list(store: Any, *, statuses: Iterable[str] = (), text: str = "", limit: int = LIST_LIMIT) -> dict:
    """The rows of the workflows page: every workflow whose status is one of ``statuses`` (all
    when empty) and whose id or name contains ``text`` (case-insensitive), sorted by id, at
    most ``limit``; with the number of workflows per status (before filtering)."""
    wanted = {s for s in statuses if s}
    unknown = wanted - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown status {', '.join(sorted(unknown))}; the statuses are {', '.join(STATUSES)}")
    needle = text.strip().lower()
    recorded = store.list_status()
    times = status_times(store)
    counts = {s: 0 for s in STATUSES}
    rows: list[dict] = []
    matched = 0
    for wid in all_ids(store):
        status = _status(store, wid, recorded.get(wid))
        if status in counts:
            counts[status] += 1
        if wanted and status not in wanted:
            continue
        name = workflow_name(store, wid)
        if needle and needle not in str(wid).lower() and needle not in (name or "").lower():
            continue
        matched += 1
        if len(rows) >= limit:
            continue
        rows.append({"id": str(wid), "name": name, "status": status, "owner": _owner(store, wid),
                     "events": store.cursor(wid), "updated": times.get(wid)})
    return {"rows": rows, "matched": matched, "counts": counts, "limit": limit}


def live_state(store: Any, wid: Hashable) -> dict:
    """What changes while a workflow runs (three small reads): status, cursor, owner."""
    return {"status": _status(store, wid, store.status(wid)), "events": store.cursor(wid), "owner": _owner(store, wid)}


def node_state(s: dict, running: int) -> str:
    """The state of a node summary (:func:`runic.export.node_summaries`) with ``running``
    attempts in flight (see the module docs): the exports' state, with ``running`` ranked
    right after ``failed``."""
    if running and not s["failed"]:
        return "running"
    return state_class(s)


def _graph(wf: Any, labels: dict[int, NodeInfo]) -> dict:
    in_flight: dict[int, int] = {}
    for d in wf.pending_runnables():
        in_flight[d.node_hash] = in_flight.get(d.node_hash, 0) + 1
    nodes = []
    ids: dict[int, str] = {}
    for s in node_summaries(wf):
        h = s["hash"]
        ids[h] = s["id"]
        info = labels.get(h)
        running = in_flight.get(h, 0)
        produced = s["produced"]
        nodes.append({
            "id": s["id"],
            "label": "input" if s["kind"] == "root" else (info.label if info else str(s["name"])),
            "kind": "input" if s["kind"] == "root" else (info.kind if info else s["kind"]),
            "state": node_state(s, running),
            "ran": s["ran"], "pending": s["pending"], "running": running, "failed": s["failed"],
            "cancelled": s["cancelled"], "satisfied": s["satisfied"],
            "error": s["error"],
            "produced": len(produced),
            "values": [text_of(v) for v in produced[-3:]],
        })
    edges = []
    for label in ("flow", "fan_in"):
        for frm, to, _w in wf.graph.edges(label):
            if frm in ids and to in ids:
                edges.append({"from": ids[frm], "to": ids[to], "kind": label})
    return {"nodes": nodes, "edges": edges}


def _failures(wf: Any, labels: dict[int, NodeInfo]) -> list[dict]:
    out = []
    for v in failure_views(wf, labels):
        f = v.failure
        out.append({"number": v.number, "label": v.label, "component": f.component,
                    "component_kind": f.component_kind, "error_type": f.error_type, "message": f.message,
                    "traceback": f.traceback, "attempts": f.attempts, "at": f.at, "final": f.final,
                    "action": f.action, "kind": f.kind, "outcome": v.outcome, "halted": v.halted,
                    "input": text_of(v.input)})
    return out


def _pending(wf: Any, labels: dict[int, NodeInfo]) -> list[dict]:
    out = []
    for node, fact in wf.next_runnables():
        info = labels.get(getattr(node, "hash", 0))
        value = fact.value if isinstance(fact, Fact) and fact.value is not STRIPPED else "<value not loaded>"
        out.append({"step": info.label if info else str(getattr(node, "name", node)), "input": text_of(value)})
    return out


def _productions(wf: Any) -> list[dict]:
    out = []
    for name, values in wf.raw_productions_by_component().items():
        component = wf.components.get(name)
        out.append({"component": str(name), "kind": str(getattr(component, "kind", "?")), "count": len(values),
                    "latest": text_of(values[-1]) if values else None})
    return out


def _snapshot(store: Any, wid: Hashable) -> int | None:
    try:
        cursor, _blob = store.load_snapshot(wid)
        return int(cursor)
    except NotFoundError:
        return None


def _last_time(loaded: Loaded) -> int | None:
    for e in reversed(loaded.events):
        if isinstance(e, RunnableCompleted):
            return int(e.completed_at)
        if isinstance(e, RunnableFailed):
            return int(e.failed_at)
        if isinstance(e, RunnableDispatched):
            return int(e.dispatched_at)
        if isinstance(e, FailureRecorded):
            return int(e.failure.at)
    return None


@dataclass
class Detail:
    """A rebuilt workflow and its page data (``data``); ``labels`` name its nodes."""

    key: tuple
    loaded: Loaded
    labels: dict[int, NodeInfo]
    data: dict


class DetailCache:
    """The last ``size`` rebuilt workflows (see the module docs). Thread-safe: the dashboard's
    request threads share one cache; a rebuild happens outside the lock, so a slow rebuild of
    one workflow does not hold up another's page."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Detail] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: Any, wid: Hashable) -> Detail:
        """The page data of ``wid``, rebuilt if the workflow changed since it was cached."""
        state = live_state(store, wid)
        owner = state["owner"]
        key = (state["status"], state["events"], owner["epoch"] if owner else None)
        with self._lock:
            hit = self._items.get(wid)
            if hit is not None and hit.key == key:
                self._items.move_to_end(wid)
                return hit
        detail = self._build(store, wid, key, state)
        with self._lock:
            self._items[wid] = detail
            self._items.move_to_end(wid)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return detail

    @staticmethod
    def _build(store: Any, wid: Hashable, key: tuple, state: dict) -> Detail:
        loaded = load(store, wid)
        wf = loaded.workflow
        labels = node_labels(wf)
        failures = _failures(wf, labels)
        data = {
            "id": str(wid),
            "name": None if wf.name is None else str(wf.name),
            **state,
            "updated": status_times(store).get(wid),
            "last_step_at": _last_time(loaded),
            "from_stream": loaded.from_stream,
            "snapshot": _snapshot(store, wid),
            "options": {str(k): v if isinstance(v, str) else text_of(v, 120) for k, v in (wf.annotations.get("runner.options") or {}).items()
                        if v is not None},
            "graph": _graph(wf, labels),
            "failures": failures,
            "failed_for_good": sum(1 for f in failures if f["halted"]),
            "pending": _pending(wf, labels),
            "productions": _productions(wf),
            "results": ({str(k): text_of(v) for k, v in wf.results().items()} if wf.output_ports else None),
        }
        return Detail(key, loaded, labels, data)


def _at(e: Any) -> int | None:
    t = type(e)
    if t is RunnableDispatched:
        return int(e.dispatched_at)
    if t is RunnableCompleted:
        return int(e.completed_at)
    if t is RunnableFailed:
        return int(e.failed_at)
    if t is FailureRecorded:
        return int(e.failure.at)
    return None


def timeline(store: Any, detail: Detail, *, after: int | None = None, before: int | None = None,
             limit: int = TIMELINE_LIMIT) -> dict:
    """Events of the workflow, one line each (as ``runic events`` prints them): the ``limit``
    events after sequence number ``after``, else the ``limit`` events before ``before``, else
    the last ``limit``. ``first`` is the first sequence number returned (1: nothing older)."""
    limit = max(1, min(int(limit), 1000))
    wid = detail.loaded.workflow_id
    if detail.loaded.from_stream:
        total = store.cursor(wid)
    else:
        total = len(detail.loaded.events)
    if after is not None:
        start = max(1, after + 1)
        end = min(total, start + limit - 1)
    else:
        end = total if before is None else min(total, before - 1)
        start = max(1, end - limit + 1)
    events: list[Any] = []
    if end >= start:
        if detail.loaded.from_stream:
            for e in store.stream(wid, start=start):
                events.append(e)
                if len(events) >= end - start + 1:
                    break
        else:
            events = list(detail.loaded.events[start - 1:end])
    rows = []
    for seq, e in enumerate(events, start):
        try:
            text = describe_event(e, detail.labels, store)
        except Exception as exc:  # noqa: BLE001 - one odd event must not hide the others
            text = f"<cannot describe: {type(exc).__name__}: {exc}>"
        rows.append({"seq": seq, "type": type(e).__name__, "text": text, "at": _at(e),
                     "failure": isinstance(e, (FailureRecorded, RunnableFailed))})
    return {"events": rows, "first": start if rows else end + 1, "total": total}
