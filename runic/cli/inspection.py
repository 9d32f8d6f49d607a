"""Rebuilding stored workflows for inspection, without needing their code.

:func:`rebuild` folds a stream with ``fact_mode="ref", stub_missing=True``: lambdas and
modules that are not importable here are replaced by stand-ins, so a graph, the productions
and the pending work can be shown for any stored workflow. :func:`load` also resolves the
stripped fact values from the store's fact table. :func:`node_labels` names every node the way
the command line shows it (joins by their parents, maps and reduces by their component).
:func:`failure_views` lists every recorded failure with the name of its node and its input, for
``runic show`` and the dashboard alike (one reading, two renderings).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from ..core import Workflow
from ..events import BUILD_EVENTS, WorkflowDefined
from ..facts import STRIPPED, Fact, FactRef
from ..rehydration import FactResolver, resolve_all
from ..store import NotFoundError

__all__ = ["Loaded", "NodeInfo", "FailureView", "rebuild", "load", "read_events", "node_labels", "structure_of",
           "failure_views", "input_of", "workflow_name"]

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


def workflow_name(store: Any, workflow_id: Hashable) -> str | None:
    """The workflow's name, from the first event of its stream (``None`` if it has none or
    the stream cannot be read: a listing shows what it can)."""
    try:
        for e in store.stream(workflow_id):
            return str(e.name) if isinstance(e, WorkflowDefined) and e.name is not None else None
    except NotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - a listing shows what it can
        log.debug("cannot read the first event of %r: %s", workflow_id, exc)
    return None


_NOT_LOADED = "<value not loaded>"


def input_of(wf: Workflow, fact_hash: int) -> Any:
    """The value of the fact ``fact_hash`` in ``wf`` (a marker text when it is not loaded)."""
    fact = wf.graph.vertices.get(fact_hash)
    if isinstance(fact, Fact):
        return _NOT_LOADED if fact.value is STRIPPED else fact.value
    return _NOT_LOADED if isinstance(fact, FactRef) else "?"


@dataclass(frozen=True)
class FailureView:
    """One recorded failure (a :class:`runic.Failure`) as shown: its number (1-based, oldest
    first), the label of its node, its input value, and the record itself."""

    number: int
    label: str
    input: Any
    failure: Any

    @property
    def halted(self) -> bool:
        """The runnable failed for good (final, not skipped, not answered by a fallback)."""
        return bool(self.failure.halted)

    @property
    def outcome(self) -> str:
        """What became of the runnable: ``failed``, ``retried``, ``skipped`` or ``fallback``."""
        f = self.failure
        if f.action == "retry":
            return "retried"
        if f.action == "skip":
            return "skipped"
        if f.action == "fallback":
            return "fallback"
        return "failed" if f.final else "retried"


def failure_views(wf: Workflow, labels: dict[int, NodeInfo] | None = None) -> list[FailureView]:
    """Every failure ``wf`` recorded (every failed attempt, retried ones too), oldest first."""
    labels = node_labels(wf) if labels is None else labels
    out = []
    for number, f in enumerate(wf.failures, 1):
        info = labels.get(f.node_hash)
        label = info.label if info is not None else (f.component or f"node {f.node_hash:016x}")
        out.append(FailureView(number, label, input_of(wf, f.fact_hash), f))
    return out
