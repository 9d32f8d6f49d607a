"""Rebuilding stored workflows for inspection, without needing their code.

:func:`rebuild` folds a stream with ``fact_mode="ref", stub_missing=True``: lambdas and
modules that are not importable here are replaced by stand-ins, so a graph, the productions
and the pending work can be shown for any stored workflow. :func:`load` also resolves the
stripped fact values from the store's fact table. :func:`node_labels` names every node the way
the command line shows it (joins by their parents, maps and reduces by their component).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from ..core import Workflow
from ..events import BUILD_EVENTS
from ..rehydration import FactResolver, resolve_all
from ..store import NotFoundError

__all__ = ["Loaded", "NodeInfo", "rebuild", "load", "read_events", "node_labels", "structure_of"]

log = logging.getLogger(__name__)

_KINDS = {"fan_out": "map", "fan_in": "reduce"}


@dataclass(frozen=True)
class NodeInfo:
    """How a node is shown: ``label`` (its name, or ``join(a, b)``) and ``kind``."""

    hash: int
    label: str
    kind: str


@dataclass
class Loaded:
    """A stored workflow: its events (as stored) and the workflow rebuilt from them."""

    workflow_id: Hashable
    events: list
    workflow: Workflow
    from_stream: bool


def rebuild(events: Iterable[Any]) -> Workflow:
    """The workflow of a stream or log, for inspection (values stay references)."""
    return Workflow.from_events(events, fact_mode="ref", stub_missing=True)


def read_events(store: Any, workflow_id: Hashable) -> tuple[list, bool]:
    """``(events, from_stream)``: the event stream, else the saved snapshot log."""
    try:
        return list(store.stream(workflow_id)), True
    except NotFoundError:
        return list(store.load(workflow_id)), False


def load(store: Any, workflow_id: Hashable, *, resolve: bool = True) -> Loaded:
    """Rebuild ``workflow_id`` from ``store``; with ``resolve``, load every fact value."""
    events, from_stream = read_events(store, workflow_id)
    wf = rebuild(events)
    if resolve:
        resolve_all(wf, FactResolver(store))
    return Loaded(workflow_id, events, wf, from_stream)


def structure_of(events: Iterable[Any]) -> Workflow:
    """The structure (components, no memory) described by the build events among ``events``."""
    return rebuild([e for e in events if isinstance(e, BUILD_EVENTS)])


def node_labels(wf: Workflow) -> dict[int, NodeInfo]:
    """Every node of ``wf`` except the root, in the order they were added."""
    from ..export import node_summaries

    summaries = [s for s in node_summaries(wf) if s["kind"] != "root"]
    names = {s["hash"]: s["name"] for s in summaries}
    out: dict[int, NodeInfo] = {}
    for s in summaries:
        h, name, kind = s["hash"], s["name"], s["kind"]
        component = wf.components.get(name) if isinstance(name, str) else None
        shown_kind = getattr(component, "kind", None) if component is not None and kind == "step" else None
        shown_kind = shown_kind or _KINDS.get(kind, kind)
        if name is None:
            parents = [names.get(p) or "?" for p in wf.graph.predecessors(h, "flow")]
            label = f"{kind}({', '.join(str(p) for p in parents)})" if parents else f"{kind} {h:016x}"[:16]
        else:
            label = str(name)
        out[h] = NodeInfo(h, label, shown_kind)
    return out
