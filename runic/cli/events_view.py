"""One line per event for ``runic events``: what happened, to which step, with which value.

Stripped fact values (``FactProduced`` written by a Runner) are loaded from the store's fact
table, so the stream reads as it happened.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import events as ev
from ..errors import ErrorInfo
from ..facts import STRIPPED, Fact, FactRef
from ..store import NotFoundError
from .inspection import NodeInfo
from .render import error_text, fact_id, short

__all__ = ["describe_event", "event_fields"]

_VALUE_LIMIT = 70


def _node(labels: dict[int, NodeInfo], h: Any) -> str:
    info = labels.get(h) if isinstance(h, int) else None
    if info is not None:
        return info.label
    return fact_id(h) if isinstance(h, int) else str(h)


def _value(value: Any, fact_hash: Any, store: Any) -> Any:
    if value is STRIPPED and store is not None and isinstance(fact_hash, int):
        try:
            return store.load_fact(fact_hash)
        except NotFoundError:
            return "<value not in the fact table>"
    return value


def _fact_value(f: Any) -> str:
    if isinstance(f, Fact):
        return short(f.value, _VALUE_LIMIT)
    if isinstance(f, FactRef):
        return fact_id(f.hash)
    return short(f, _VALUE_LIMIT)


def describe_event(e: Any, labels: dict[int, NodeInfo], store: Any = None) -> str:
    """A one-line description of ``e`` (node hashes named by ``labels``)."""
    t = type(e)
    if t is ev.WorkflowDefined:
        return f"workflow {e.name!r}, {len(e.policies or [])} scheduler policies"
    if t is ev.ComponentAdded:
        to = "" if e.to is None else f" ← {e.to if not isinstance(e.to, list) else ', '.join(map(str, e.to))}"
        return f"{e.kind} {e.name}{to}"
    if t is ev.ComponentRemoved:
        return f"{e.name}"
    if t is ev.FactProduced:
        origin = "input" if e.ancestry is None else f"by {_node(labels, e.ancestry[0])}"
        value = _value(e.value, e.hash, store)
        return f"{fact_id(e.hash)} {origin}: {short(value, _VALUE_LIMIT)}"
    if t is ev.RunnableActivated:
        return f"{_node(labels, e.node_hash)} ← {fact_id(e.fact_hash)} ({e.activation_kind})"
    if t is ev.ActivationConsumed:
        return f"{_node(labels, e.node_hash)} consumed {fact_id(e.fact_hash)}"
    if t is ev.ConditionSatisfied:
        return f"{_node(labels, e.condition_hash)} satisfied by {fact_id(e.fact_hash)}"
    if t is ev.RunnableDispatched:
        return f"{_node(labels, e.node_hash)} attempt {e.attempt + 1} on {_fact_value(e.input_fact)}"
    if t is ev.RunnableCompleted:
        return f"{_node(labels, e.node_hash)} attempt {e.attempt + 1} done in {e.duration_ms} ms"
    if t is ev.RunnableFailed:
        return f"{_node(labels, e.node_hash)} failed after {e.attempts} attempt(s), {e.failure_action}: {error_text(e.error)}"
    if t is ev.FailureRecorded:
        f = e.failure
        first = (f.message.strip().splitlines() or [""])[0]
        return (f"{_node(labels, f.node_hash)} attempt {f.attempts} failed ({f.action}): "
                f"{f.error_type.rsplit('.', 1)[-1]}: {first[:_VALUE_LIMIT]}")
    if t is ev.UpstreamFailed:
        return f"{_node(labels, e.node_hash)} on {fact_id(e.fact_hash)}: {error_text(e.error)}"
    if t is ev.JoinFactReceived:
        return f"{_node(labels, e.join_hash)} received {fact_id(e.fact_hash)} from {_node(labels, e.parent_hash)}"
    if t is ev.JoinCompleted:
        return f"{_node(labels, e.join_hash)} → {fact_id(e.result_fact_hash)}: {short(e.result_value, _VALUE_LIMIT)}"
    if t is ev.JoinEdgeRelabeled:
        return f"{_node(labels, e.join_hash)} {fact_id(e.fact_hash)}: {e.from_label} → {e.to_label}"
    if t is ev.FanOutFactEmitted:
        return f"{_node(labels, e.fan_out_hash)} → {fact_id(e.emitted_fact_hash)}: {short(e.emitted_value, _VALUE_LIMIT)}"
    if t is ev.FanInCompleted:
        return f"{_node(labels, e.fan_in_hash)} → {fact_id(e.result_fact_hash)}: {short(e.result_value, _VALUE_LIMIT)}"
    if t is ev.MapReduceTracked:
        return (f"{_node(labels, e.step_hash)} item {fact_id(e.fan_out_fact_hash)} → {fact_id(e.result_fact_hash)} "
                f"(map {_node(labels, e.fan_out_hash)})")
    if t is ev.StateInitiated:
        return f"{_node(labels, e.accumulator_hash)} starts at {short(e.init_value, _VALUE_LIMIT)}"
    if t is ev.WorkflowAnnotated:
        return f"{e.key} = {short(e.value, _VALUE_LIMIT)}"
    if dataclasses.is_dataclass(e):
        return ", ".join(f"{f.name}={short(getattr(e, f.name), 30)}" for f in dataclasses.fields(e))
    return repr(e)


def _plain(value: Any) -> Any:
    if isinstance(value, Fact):
        return {"hash": value.hash, "value": _plain(value.value)}
    if isinstance(value, FactRef):
        return {"hash": value.hash}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (BaseException, ErrorInfo)):
        return error_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # a runic.Failure
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return repr(value)


def event_fields(e: Any, store: Any = None) -> dict:
    """The fields of ``e`` as plain data (stripped fact values loaded from ``store``)."""
    if not dataclasses.is_dataclass(e):
        return {"repr": repr(e)}
    out = {f.name: _plain(getattr(e, f.name)) for f in dataclasses.fields(e)}
    if type(e) is ev.FactProduced:
        out["value"] = _plain(_value(e.value, e.hash, store))
    if type(e) is ev.ComponentAdded:
        out.pop("recipe", None)
    return out
