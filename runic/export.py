"""Graph export: Mermaid and Graphviz DOT views of a workflow.

Each node is drawn with its kind and name, plus what happened to it: how many activations it
consumed (``ran``), the latest values it produced (at most three, shortened), how many
activations are pending, whether it failed for good (with the error of its latest failure) or
was cancelled because something upstream failed. A condition is drawn as ``true``/``false``
counts: one that was evaluated but never held is coloured ``unsatisfied``, not ``ran`` — its
children did not run. Flow edges are solid; the link from a map's fan-out to its reduce is
dotted.

State classes, in order of precedence: ``failed``, ``pending``, ``cancelled``, ``ran``,
``unsatisfied``, ``idle``.
"""

from __future__ import annotations

from typing import Any

from .facts import Fact
from .graph import PRODUCTION_LABELS
from .nodes import ROOT_HASH
from .structure import Structure

__all__ = ["to_mermaid", "to_dot", "node_summaries"]

_MAX_VALUES = 3
_MAX_CHARS = 40
_MAX_ERROR = 60


def _short(value: Any, limit: int = _MAX_CHARS) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def node_summaries(wf: Structure) -> list[dict[Any, Any]]:
    """One dict per node: ``id``, ``hash``, ``kind``, ``name``, ``ran``, ``pending``,
    ``failed`` (runnables that failed for good), ``error`` (the latest such failure's
    ``"Type: message"``, or ``None``), ``cancelled``, ``satisfied`` (conditions: how many
    evaluations held; ``None`` for other nodes), ``produced`` (values, oldest first)."""
    g = wf.graph
    failed_nodes: dict[int, int] = {}
    errors: dict[int, str] = {}
    for f in wf.failures:
        if f.final and f.action == "halt":
            failed_nodes[f.node_hash] = failed_nodes.get(f.node_hash, 0) + 1
            errors[f.node_hash] = (f.message if f.kind in ("timeout", "deadline", "task_crashed", "process_crashed")
                                   else f"{f.error_type.rsplit('.', 1)[-1]}: {f.message}")
    pending: dict[int, int] = {}
    for (_f, n) in g.pending:
        pending[n] = pending.get(n, 0) + 1
    out = []
    for h, v in g.vertices.items():
        kind = getattr(v, "kind", None)
        if kind is None or isinstance(v, Fact):
            continue
        produced: list[Any] = []
        for label in PRODUCTION_LABELS:
            produced.extend(g.successors(h, label))
        produced.sort(key=wf.production_rank)
        values = [g.vertices[fh].value for fh in produced if g.vertices.get(fh).__class__ is Fact]
        out.append({
            "id": "root" if h == ROOT_HASH else f"n{h:016x}",
            "hash": h,
            "kind": kind,
            "name": getattr(v, "name", None),
            "ran": len(g.predecessors(h, "ran")),
            "pending": pending.get(h, 0),
            "failed": failed_nodes.get(h, 0),
            "error": errors.get(h),
            "cancelled": len(g.predecessors(h, "upstream_failed")),
            "satisfied": len(g.predecessors(h, "satisfied")) if kind == "condition" else None,
            "produced": values,
        })
    return out


def _label(s: dict[Any, Any]) -> list[str]:
    if s["kind"] == "root":
        return ["input"]
    lines = [f"{s['kind']}: {s['name']}" if s["name"] is not None else s["kind"]]
    status = []
    if s["satisfied"] is not None and s["ran"]:
        true = min(s["satisfied"], s["ran"])
        status.append(f"true {true}×" if true == s["ran"] else
                      f"false {s['ran']}×" if not true else f"true {true}×, false {s['ran'] - true}×")
    elif s["ran"]:
        status.append(f"ran {s['ran']}×")
    if s["pending"]:
        status.append(f"pending {s['pending']}")
    if s["failed"]:
        status.append(f"failed {s['failed']}×")
    if s["cancelled"]:
        status.append(f"cancelled {s['cancelled']}")
    if status:
        lines.append(", ".join(status))
    if s["error"]:
        lines.append("✗ " + _short(s["error"], _MAX_ERROR))
    if s["produced"]:
        vals = [_short(v) for v in s["produced"][-_MAX_VALUES:]]
        more = len(s["produced"]) - len(vals)
        lines.append("→ " + ", ".join(vals) + (f" (+{more})" if more > 0 else ""))
    return lines


def _state_class(s: dict[Any, Any]) -> str:
    if s["failed"]:
        return "failed"
    if s["pending"]:
        return "pending"
    if s["cancelled"]:
        return "cancelled"
    if s["satisfied"] is not None and s["ran"] and not s["satisfied"]:
        return "unsatisfied"
    if s["ran"] or s["produced"]:
        return "ran"
    return "idle"


def _structural_edges(wf: Structure) -> list[tuple[int, int, str]]:
    g = wf.graph
    return [(f, t, "flow") for f, t, _ in g.edges("flow")] + [(f, t, "fan_in") for f, t, _ in g.edges("fan_in")]


def to_mermaid(wf: Structure) -> str:
    """A Mermaid ``flowchart`` of ``wf`` with each node's run status and latest productions."""
    summaries = node_summaries(wf)
    ids = {s["hash"]: s["id"] for s in summaries}
    lines = ["flowchart TD"]
    if wf.name is not None:
        lines.insert(0, f"%% workflow {wf.name}")
    for s in summaries:
        text = "<br/>".join(_mermaid_escape(x) for x in _label(s))
        shape = ("((", "))") if s["kind"] == "root" else ("{{", "}}") if s["kind"] == "condition" else ('["', '"]')
        if shape[0] != '["':
            text = f'"{text}"'
        lines.append(f"  {s['id']}{shape[0]}{text}{shape[1]}:::{_state_class(s)}")
    for frm, to, label in _structural_edges(wf):
        if frm in ids and to in ids:
            arrow = "-.->" if label == "fan_in" else "-->"
            lines.append(f"  {ids[frm]} {arrow} {ids[to]}")
    lines += [
        "  classDef ran fill:#d4f7d4,stroke:#2b8a3e",
        "  classDef pending fill:#fff3bf,stroke:#e67700",
        "  classDef failed fill:#ffc9c9,stroke:#c92a2a",
        "  classDef cancelled fill:#e9ecef,stroke:#868e96,stroke-dasharray: 4 2",
        "  classDef unsatisfied fill:#f1f3f5,stroke:#868e96",
        "  classDef idle fill:#ffffff,stroke:#adb5bd",
    ]
    return "\n".join(lines) + "\n"


def _mermaid_escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


_DOT_COLORS = {"ran": "#d4f7d4", "pending": "#fff3bf", "failed": "#ffc9c9", "cancelled": "#e9ecef",
               "unsatisfied": "#f1f3f5", "idle": "#ffffff"}


def to_dot(wf: Structure) -> str:
    """A Graphviz DOT ``digraph`` of ``wf`` with each node's run status and latest productions."""
    summaries = node_summaries(wf)
    ids = {s["hash"]: s["id"] for s in summaries}
    title = _dot_escape(str(wf.name)) if wf.name is not None else "workflow"
    lines = [f'digraph "{title}" {{', "  rankdir=TB;", '  node [style=filled, fontname="Helvetica"];']
    for s in summaries:
        shape = "circle" if s["kind"] == "root" else "diamond" if s["kind"] == "condition" else "box"
        label = "\\n".join(_dot_escape(x) for x in _label(s))
        lines.append(f'  {s["id"]} [label="{label}", shape={shape}, fillcolor="{_DOT_COLORS[_state_class(s)]}"];')
    for frm, to, label in _structural_edges(wf):
        if frm in ids and to in ids:
            style = " [style=dashed]" if label == "fan_in" else ""
            lines.append(f"  {ids[frm]} -> {ids[to]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
