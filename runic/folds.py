"""Folding runtime events into a workflow: ``apply_event(wf, event)``.

Each fold is a pure function of the workflow state and the event; folds silently do nothing
when a referenced vertex is missing. Replaying a stream is folding it in order, so the
same code path serves live execution (apply) and recovery (replay).

Besides graph edges, folds maintain three derived indexes that make the hot path O(1):

* ``wf._depth[fact]`` — causal depth (0 for inputs), taken from the event's weight;
* ``wf._scope[fact]`` — the fact's *scope*: the input it descends from, or the map item it
  descends from (a fact emitted by a FanOut starts a scope). Joins pair facts of one scope and
  failures only cancel pending work of their own scope;
* ``wf._prod_seq[fact]`` — production order, so "latest" means most recently produced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from . import events as ev
from .facts import STRIPPED, Fact, FactRef
from .graph import PRODUCTION_LABELS

if TYPE_CHECKING:  # pragma: no cover
    from .core import Workflow

__all__ = ["apply_event", "log_fact", "record_fact", "record_production", "track_map_reduce",
           "skip_downstream"]

# ---------------------------------------------------------------------------- primitives
# Every change to a workflow's memory goes through these; the event folds below and the
# hot-path ``fold_into`` of nodes both call them, so live execution and replay cannot diverge.


def record_fact(wf: "Workflow", fact: Any, weight: int) -> None:
    """Add a fact (or FactRef) vertex with its depth and scope (no-op if already recorded)."""
    h = fact.hash
    if h in wf._depth:
        return
    g = wf.graph
    g.vertices.setdefault(h, fact)
    wf._depth[h] = weight
    ancestry = fact.ancestry
    if ancestry is None:
        wf._scope[h] = h
    else:
        producer = g.vertices.get(ancestry[0])
        if producer is not None and producer.kind == "fan_out":
            wf._scope[h] = h
        else:
            wf._scope[h] = wf._scope.get(ancestry[1], h)


def log_fact(wf: "Workflow", h: int, value: Any, ancestry: Any, weight: int) -> None:
    """Record a fact given by its fields (a FactRef when the value was stripped in ref mode)."""
    if h in wf._depth:
        return
    existing = wf.graph.vertices.get(h)
    if existing is not None:
        record_fact(wf, existing, weight)
    elif value is STRIPPED and wf._fact_mode == "ref":
        record_fact(wf, FactRef(h, ancestry), weight)
    else:
        record_fact(wf, Fact(value, ancestry, h), weight)


def record_production(wf: "Workflow", producer: int, h: int, label: str, weight: int) -> None:
    """Draw ``producer -[label]-> fact`` and note the production order."""
    if producer in wf.graph.vertices:
        wf.graph.add_edge(producer, h, label, weight)
        wf._seq += 1
        wf._prod_seq[h] = wf._seq
        if label == "state_produced":
            wf.mapped[("latest_state_fact", producer)] = h


def track_map_reduce(wf: "Workflow", source: int, fan_out: int, fan_out_fact: int, step: int, result: int) -> None:
    """Record that ``step`` turned map item ``fan_out_fact`` into ``result``."""
    seen = wf.mapped.get((source, step))
    if seen is None:
        seen = wf.mapped[(source, step)] = {}
    seen[fan_out_fact] = result
    wf.mapped[("fan_out_for_batch", source)] = fan_out


_produced = record_production


def _fact_produced(wf: "Workflow", e: ev.FactProduced) -> None:
    log_fact(wf, e.hash, e.value, e.ancestry, e.weight)
    label = e.producer_label
    if e.ancestry is not None and label is not None and label != "input":
        record_production(wf, e.ancestry[0], e.hash, label, e.weight)


def _activation_consumed(wf: "Workflow", e: ev.ActivationConsumed) -> None:
    wf.graph.relabel(e.fact_hash, e.node_hash, e.from_label, "ran")  # no-op if absent


def _runnable_activated(wf: "Workflow", e: ev.RunnableActivated) -> None:
    wf.graph.add_edge(e.fact_hash, e.node_hash, e.activation_kind, wf._depth.get(e.fact_hash, 0) + 1)


def _condition_satisfied(wf: "Workflow", e: ev.ConditionSatisfied) -> None:
    wf.graph.add_edge(e.fact_hash, e.condition_hash, "satisfied", e.weight)


def _map_reduce_tracked(wf: "Workflow", e: ev.MapReduceTracked) -> None:
    track_map_reduce(wf, e.source_fact_hash, e.fan_out_hash, e.fan_out_fact_hash, e.step_hash, e.result_fact_hash)


def _state_initiated(wf: "Workflow", e: ev.StateInitiated) -> None:
    log_fact(wf, e.init_fact_hash, e.init_value, e.init_ancestry, e.weight)
    _produced(wf, e.accumulator_hash, e.init_fact_hash, "state_initiated", e.weight)


def _join_fact_received(wf: "Workflow", e: ev.JoinFactReceived) -> None:
    wf.graph.add_edge(e.fact_hash, e.join_hash, "joined", e.weight)
    wf.mapped[("join_parent", e.fact_hash, e.join_hash)] = e.parent_hash


def _join_completed(wf: "Workflow", e: ev.JoinCompleted) -> None:
    log_fact(wf, e.result_fact_hash, e.result_value, e.result_ancestry, e.weight)
    _produced(wf, e.join_hash, e.result_fact_hash, "produced", e.weight)


def _join_edge_relabeled(wf: "Workflow", e: ev.JoinEdgeRelabeled) -> None:
    wf.graph.relabel(e.fact_hash, e.join_hash, e.from_label, e.to_label)
    wf.mapped.pop(("join_parent", e.fact_hash, e.join_hash), None)


def _fan_out_fact_emitted(wf: "Workflow", e: ev.FanOutFactEmitted) -> None:
    log_fact(wf, e.emitted_fact_hash, e.emitted_value, e.emitted_ancestry, e.weight)
    wf.graph.add_edge(e.fan_out_hash, e.emitted_fact_hash, "fan_out", e.weight)
    key = (e.source_fact_hash, e.fan_out_hash)
    expected = wf.mapped.get(key)
    if expected is None:
        expected = wf.mapped[key] = []
    expected.append(e.emitted_fact_hash)


def _fan_in_completed(wf: "Workflow", e: ev.FanInCompleted) -> None:
    log_fact(wf, e.result_fact_hash, e.result_value, e.result_ancestry, e.weight)
    _produced(wf, e.fan_in_hash, e.result_fact_hash, "reduced", e.weight)
    m = wf.mapped
    m[("fan_in_completed", e.source_fact_hash, e.fan_in_hash)] = True
    m.pop(_key(e.expected_key), None)
    if e.seen_key is not None:
        m.pop(_key(e.seen_key), None)
    m.pop(("fan_out_for_batch", e.source_fact_hash), None)


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def _upstream_failed(wf: "Workflow", e: ev.UpstreamFailed) -> None:
    wf.graph.relabel(e.fact_hash, e.node_hash, e.from_label, "ran")  # no-op if absent
    if e.error is not None and not _has_final_failure(wf, e.node_hash, e.fact_hash):
        # a log written before FailureRecorded existed: derive the final failure from the error
        node = wf.graph.vertices.get(e.node_hash)
        wf.failures.append(wf._failure_record(node, e.node_hash, e.fact_hash, e.error, traceback=""))
    skip_downstream(wf, e.node_hash, wf._scope.get(e.fact_hash))


def _has_final_failure(wf: "Workflow", node_hash: int, fact_hash: int) -> bool:
    for f in reversed(wf.failures):
        if f.final and f.node_hash == node_hash and f.fact_hash == fact_hash:
            return True
    return False


def _failure_recorded(wf: "Workflow", e: ev.FailureRecorded) -> None:
    wf.failures.append(e.failure)


def skip_downstream(wf: "Workflow", node_hash: int, scope: Any) -> None:
    """Mark pending work downstream of ``node_hash`` (in ``scope``) as ``upstream_failed``.

    Every node reachable through ``flow`` edges (excluding the failed node) has its incoming
    ``runnable``/``joined`` edges from facts of the same scope relabelled, so the workflow
    reaches a fixpoint instead of waiting for ever, while unrelated inputs carry on (scoped,
    where Runic cancels pending work of every input).
    """
    g = wf.graph
    seen = {node_hash}
    frontier = list(g.successors(node_hash, "flow"))
    scopes = wf._scope
    while frontier:
        n = frontier.pop()
        if n in seen:
            continue
        seen.add(n)
        for label in ("runnable", "joined"):
            for fh in list(g.predecessors(n, label)):
                if scope is None or scopes.get(fh) == scope:
                    g.relabel(fh, n, label, "upstream_failed")
        frontier.extend(g.successors(n, "flow"))


def _reaction_occurred(wf: "Workflow", e: ev.ReactionOccurred) -> None:
    wf.graph.add_edge(e.from_id, e.to_id, e.reaction, e.weight)
    if e.reaction in PRODUCTION_LABELS:
        wf._seq += 1
        wf._prod_seq[e.to_id] = wf._seq


def _workflow_annotated(wf: "Workflow", e: ev.WorkflowAnnotated) -> None:
    wf.annotations[e.key] = e.value


def _mapped_state(wf: "Workflow", e: ev.MappedState) -> None:
    for key, value in e.entries:
        wf.mapped[_key(key)] = value


FOLDS: dict[type, Callable[["Workflow", Any], None]] = {
    ev.FactProduced: _fact_produced,
    ev.ActivationConsumed: _activation_consumed,
    ev.RunnableActivated: _runnable_activated,
    ev.ConditionSatisfied: _condition_satisfied,
    ev.MapReduceTracked: _map_reduce_tracked,
    ev.StateInitiated: _state_initiated,
    ev.JoinFactReceived: _join_fact_received,
    ev.JoinCompleted: _join_completed,
    ev.JoinEdgeRelabeled: _join_edge_relabeled,
    ev.FanOutFactEmitted: _fan_out_fact_emitted,
    ev.FanInCompleted: _fan_in_completed,
    ev.UpstreamFailed: _upstream_failed,
    ev.FailureRecorded: _failure_recorded,
    ev.ReactionOccurred: _reaction_occurred,
    ev.MappedState: _mapped_state,
    ev.WorkflowAnnotated: _workflow_annotated,
}


def apply_event(wf: "Workflow", e: Any) -> None:
    """Fold one runtime or snapshot event into ``wf`` (raises for unknown event types)."""
    fold = FOLDS.get(type(e))
    if fold is None:
        from .errors import RunicError

        raise RunicError(f"no fold for event type {type(e).__name__}; it cannot be applied to a workflow")
    fold(wf, e)
