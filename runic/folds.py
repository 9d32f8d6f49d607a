"""Folding runtime events into a workflow's memory: ``apply_event(memory, event)``.

Each fold is a pure function of the memory and the event; folds silently do nothing when a
referenced vertex is missing. Replaying a stream is folding it in order, so the same code path
serves live execution (apply) and recovery (replay). The folds change memory only through the
primitives of :class:`runic.memory.Memory` (which also keeps the depth, scope and production
order indexes), the same ones the hot path of the nodes calls.

This module sits right above :mod:`runic.memory` and knows nothing of workflows, components or
nodes: it folds into any :class:`~runic.memory.Memory`.
"""

from __future__ import annotations

from typing import Any, Callable

from . import events as ev
from .errors import RunicError
from .graph import PRODUCTION_LABELS
from .memory import Memory

__all__ = ["FOLDS", "apply_event", "log_fact", "record_fact", "record_production", "track_map_reduce",
           "skip_downstream"]

# The primitives, as functions of the memory (kept for callers that fold by function).
record_fact = Memory.record_fact
log_fact = Memory.log_fact
record_production = Memory.record_production
track_map_reduce = Memory.track_map_reduce


def _fact_produced(wf: Memory, e: ev.FactProduced) -> None:
    wf.log_fact(e.hash, e.value, e.ancestry, e.weight)
    label = e.producer_label
    if e.ancestry is not None and label is not None and label != "input":
        wf.record_production(e.ancestry[0], e.hash, label, e.weight)


def _activation_consumed(wf: Memory, e: ev.ActivationConsumed) -> None:
    wf.graph.relabel(e.fact_hash, e.node_hash, e.from_label, "ran")  # no-op if absent


def _runnable_activated(wf: Memory, e: ev.RunnableActivated) -> None:
    wf.graph.add_edge(e.fact_hash, e.node_hash, e.activation_kind, wf.depth_of(e.fact_hash) + 1)


def _condition_satisfied(wf: Memory, e: ev.ConditionSatisfied) -> None:
    wf.graph.add_edge(e.fact_hash, e.condition_hash, "satisfied", e.weight)


def _map_reduce_tracked(wf: Memory, e: ev.MapReduceTracked) -> None:
    wf.track_map_reduce(e.source_fact_hash, e.fan_out_hash, e.fan_out_fact_hash, e.step_hash, e.result_fact_hash)


def _state_initiated(wf: Memory, e: ev.StateInitiated) -> None:
    wf.log_fact(e.init_fact_hash, e.init_value, e.init_ancestry, e.weight)
    wf.record_production(e.accumulator_hash, e.init_fact_hash, "state_initiated", e.weight)


def _join_fact_received(wf: Memory, e: ev.JoinFactReceived) -> None:
    wf.graph.add_edge(e.fact_hash, e.join_hash, "joined", e.weight)
    wf.mapped[("join_parent", e.fact_hash, e.join_hash)] = e.parent_hash


def _join_completed(wf: Memory, e: ev.JoinCompleted) -> None:
    wf.log_fact(e.result_fact_hash, e.result_value, e.result_ancestry, e.weight)
    wf.record_production(e.join_hash, e.result_fact_hash, "produced", e.weight)


def _join_edge_relabeled(wf: Memory, e: ev.JoinEdgeRelabeled) -> None:
    wf.graph.relabel(e.fact_hash, e.join_hash, e.from_label, e.to_label)
    wf.mapped.pop(("join_parent", e.fact_hash, e.join_hash), None)


def _fan_out_fact_emitted(wf: Memory, e: ev.FanOutFactEmitted) -> None:
    wf.log_fact(e.emitted_fact_hash, e.emitted_value, e.emitted_ancestry, e.weight)
    wf.graph.add_edge(e.fan_out_hash, e.emitted_fact_hash, "fan_out", e.weight)
    key = (e.source_fact_hash, e.fan_out_hash)
    expected = wf.mapped.get(key)
    if expected is None:
        expected = wf.mapped[key] = []
    expected.append(e.emitted_fact_hash)


def _fan_in_completed(wf: Memory, e: ev.FanInCompleted) -> None:
    wf.log_fact(e.result_fact_hash, e.result_value, e.result_ancestry, e.weight)
    wf.record_production(e.fan_in_hash, e.result_fact_hash, "reduced", e.weight)
    m = wf.mapped
    m[("fan_in_completed", e.source_fact_hash, e.fan_in_hash)] = True
    m.pop(_key(e.expected_key), None)
    if e.seen_key is not None:
        m.pop(_key(e.seen_key), None)
    m.pop(("fan_out_for_batch", e.source_fact_hash), None)


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def _upstream_failed(wf: Memory, e: ev.UpstreamFailed) -> None:
    wf.graph.relabel(e.fact_hash, e.node_hash, e.from_label, "ran")  # no-op if absent
    if e.error is not None and not wf.has_final_failure(e.node_hash, e.fact_hash):
        # a log written before FailureRecorded existed: derive the final failure from the error
        node = wf.graph.vertices.get(e.node_hash)
        wf.failures.append(wf.failure_record(node, e.node_hash, e.fact_hash, e.error, traceback=""))
    skip_downstream(wf, e.node_hash, wf.scope_of(e.fact_hash))


def _failure_recorded(wf: Memory, e: ev.FailureRecorded) -> None:
    wf.failures.append(e.failure)


def skip_downstream(wf: Memory, node_hash: int, scope: Any) -> None:
    """Mark pending work downstream of ``node_hash`` (in ``scope``) as ``upstream_failed``.

    Every node reachable through ``flow`` edges (excluding the failed node) has its incoming
    ``runnable``/``joined`` edges from facts of the same scope relabelled, so the workflow
    reaches a fixpoint instead of waiting for ever, while unrelated inputs carry on (scoped,
    where Runic cancels pending work of every input).
    """
    g = wf.graph
    seen = {node_hash}
    frontier = list(g.successors(node_hash, "flow"))
    scope_of = wf.scope_of
    while frontier:
        n = frontier.pop()
        if n in seen:
            continue
        seen.add(n)
        for label in ("runnable", "joined"):
            for fh in list(g.predecessors(n, label)):
                if scope is None or scope_of(fh) == scope:
                    g.relabel(fh, n, label, "upstream_failed")
        frontier.extend(g.successors(n, "flow"))


def _reaction_occurred(wf: Memory, e: ev.ReactionOccurred) -> None:
    wf.graph.add_edge(e.from_id, e.to_id, e.reaction, e.weight)
    if e.reaction in PRODUCTION_LABELS:
        wf.note_production(e.to_id)


def _workflow_annotated(wf: Memory, e: ev.WorkflowAnnotated) -> None:
    wf.annotations[e.key] = e.value


def _mapped_state(wf: Memory, e: ev.MappedState) -> None:
    for key, value in e.entries:
        wf.mapped[_key(key)] = value


FOLDS: dict[type, Callable[[Memory, Any], None]] = {
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


def apply_event(wf: Memory, e: Any) -> None:
    """Fold one runtime or snapshot event into ``wf`` (raises for unknown event types)."""
    fold = FOLDS.get(type(e))
    if fold is None:
        raise RunicError(f"no fold for event type {type(e).__name__}; it cannot be applied to a workflow")
    fold(wf, e)
