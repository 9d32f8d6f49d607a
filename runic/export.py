"""Graph export: Mermaid and Graphviz DOT views of a workflow.

Each node is drawn with its kind and name, plus what happened to it: how many activations it
consumed (``ran``), the latest values it produced (at most three, shortened), how many
activations are pending, and whether it failed or was cancelled because something upstream
failed. Flow edges are solid; the link from a map's fan-out to its reduce is dotted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .facts import Fact
from .graph import PRODUCTION_LABELS
from .nodes import ROOT_HASH

if TYPE_CHECKING:  # pragma: no cover
    from .core import Workflow

__all__ = ["to_mermaid", "to_dot", "node_summaries"]

_MAX_VALUES = 3
_MAX_CHARS = 40


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def node_summaries(wf: "Workflow") -> list[dict]:
    """One dict per node: ``id``, ``hash``, ``kind``, ``name``, ``ran``, ``pending``,
    ``failed``, ``cancelled``, ``produced`` (values, oldest first)."""
    g = wf.graph
    failed_nodes: dict[int, int] = {}
    for node_hash, _fact, _err in wf.failures:
        failed_nodes[node_hash] = failed_nodes.get(node_hash, 0) + 1
    pending: dict[int, int] = {}
    for (_f, n) in g.pending:
        pending[n] = pending.get(n, 0) + 1
    out = []
    for h, v in g.vertices.items():
        kind = getattr(v, "kind", None)
        if kind is None or isinstance(v, Fact):
            continue
        produced: list = []
        for label in PRODUCTION_LABELS:
            produced.extend(g.successors(h, label))
        seq = wf._prod_seq
        produced.sort(key=lambda fh: seq.get(fh, 0))
        values = [g.vertices[fh].value for fh in produced if g.vertices.get(fh).__class__ is Fact]
        out.append({
            "id": "root" if h == ROOT_HASH else f"n{h:016x}",
            "hash": h,
            "kind": kind,
            "name": getattr(v, "name", None),
            "ran": len(g.predecessors(h, "ran")),
            "pending": pending.get(h, 0),
            "failed": failed_nodes.get(h, 0),
            "cancelled": len(g.predecessors(h, "upstream_failed")),
            "produced": values,
        })
    return out


def _label(s: dict) -> list[str]:
    if s["kind"] == "root":
        return ["input"]
    lines = [f"{s['kind']}: {s['name']}" if s["name"] is not None else s["kind"]]
    status = []
    if s["ran"]:
        status.append(f"ran {s['ran']}×")
    if s["pending"]:
        status.append(f"pending {s['pending']}")
    if s["failed"]:
        status.append(f"failed {s['failed']}×")
    if s["cancelled"]:
        status.append(f"cancelled {s['cancelled']}")
    if status:
        lines.append(", ".join(status))
    if s["produced"]:
        vals = [_short(v) for v in s["produced"][-_MAX_VALUES:]]
        more = len(s["produced"]) - len(vals)
        lines.append("→ " + ", ".join(vals) + (f" (+{more})" if more > 0 else ""))
    return lines


def _state_class(s: dict) -> str:
    if s["failed"]:
        return "failed"
    if s["pending"]:
        return "pending"
    if s["cancelled"]:
        return "cancelled"
    if s["ran"] or s["produced"]:
        return "ran"
    return "idle"


def _structural_edges(wf: "Workflow") -> list[tuple[int, int, str]]:
    g = wf.graph
    return [(f, t, "flow") for f, t, _ in g.edges("flow")] + [(f, t, "fan_in") for f, t, _ in g.edges("fan_in")]


def to_mermaid(wf: "Workflow") -> str:
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
        "  classDef idle fill:#ffffff,stroke:#adb5bd",
    ]
    return "\n".join(lines) + "\n"


def _mermaid_escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


_DOT_COLORS = {"ran": "#d4f7d4", "pending": "#fff3bf", "failed": "#ffc9c9", "cancelled": "#e9ecef", "idle": "#ffffff"}


def to_dot(wf: "Workflow") -> str:
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
