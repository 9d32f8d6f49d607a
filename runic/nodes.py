"""Graph nodes and their three-phase behaviour: prepare, execute, activate/coordinate.

Node types: :class:`Root`, :class:`Step`, :class:`Condition`, :class:`Join`,
:class:`Accumulator`, :class:`FanOut` and :class:`FanIn`. Each node implements

* ``prepare(wf, fact)`` — read what it needs from the workflow into a
  :class:`~runic.runnable.CausalContext`; returns a :class:`~runic.runnable.Runnable`, or a
  :class:`Skip` (FanOut over a non-iterable input);
* ``execute(runnable)`` — do the work with the runnable alone and describe the outcome as
  events (never touching the workflow);
* ``activate(wf, runnable)`` — the ``RunnableActivated`` events for downstream nodes, and
  ``coordinate(wf, runnable)`` — for Join/FanIn (and an empty FanOut), the completion events
  derived at apply time, which is what makes completion safe when parents run concurrently.

Decisions where Runic's own behaviour is accidental, recorded here (see also
:mod:`runic.core`):

* Calling conventions come from flags set at build time (:func:`runic.functions.call_shape`),
  not from Runic's "context non-empty and arity >= 2" rule.
* A condition's result is coerced with ``bool()``: truthy activates (Runic activates only on a
  literal ``true``). A ``TypeError`` in a predicate (the input does not fit, Elixir's "no
  matching clause") means *not satisfied*; any other exception **fails** the condition's
  runnable like a failing step (recorded as a :class:`runic.Failure` with its traceback,
  retried under its policy, downstream work cancelled), so a bug in a condition is never
  mistaken for "no".
* ``async def`` functions (steps, conditions, reactions, reducers, ``init``) are awaited where
  they are called; a step returning a one-shot iterator (a generator...) has it turned into a
  list once (:mod:`runic.coroutines`).
* Joins pair facts *from the same scope* (the input, or the map item, they descend from), the
  earliest per parent; facts of other inputs wait for their own partners. Join and FanIn
  completions activate their children with ``RunnableActivated`` events, so replay sees them.
* The map-reduce reducer runs at apply time, with the component's run context (Runic passes
  none); an empty fan-out completes its reduce with ``init()`` (Runic never completes it).
* Accumulators are serialised: at most one runnable per accumulator is prepared per dispatch,
  so concurrent inputs never read the same old state.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from .events import (
    ActivationConsumed,
    ConditionSatisfied,
    FactProduced,
    FanInCompleted,
    FanOutFactEmitted,
    JoinCompleted,
    JoinEdgeRelabeled,
    JoinFactReceived,
    MapReduceTracked,
    RunnableActivated,
    StateInitiated,
    UpstreamFailed,
)
from .coroutines import awaited, settle
from .facts import Fact
from .functions import CallShape, intern_shape
from .hashing import content_hash
from .runnable import Apply, CausalContext, HookEvent, Runnable

if TYPE_CHECKING:  # pragma: no cover
    from .events import FailureRecorded
    from .graph import Graph

__all__ = [
    "Node", "Root", "Step", "Condition", "Join", "Accumulator", "FanOut", "FanIn",
    "Skip", "Cont", "Halt", "ROOT_HASH", "WAITING", "call_with_shape", "Host",
]

log = logging.getLogger("runic.core")

ROOT_HASH = content_hash("runic:root")
_ONE = intern_shape(CallShape(1, False, False))  # one positional parameter, no context: fn(x)
WAITING = "waiting"
_PLAIN = frozenset({int, float, str, bytes, bool, type(None), list, tuple, dict, set, frozenset})
PLAIN_RESULTS = _PLAIN
ONE_ARG = _ONE
"""The interned call shape ``fn(x)``: one positional parameter, no context."""
"""Result types a step returns as they are (no coroutine to await, no iterator to materialise)."""


class Cont:
    """Reducer return value: continue folding with ``value`` (same as returning it bare)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Halt:
    """Reducer return value: stop folding; ``value`` is the result."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Skip:
    """Returned by ``prepare`` when the activation is consumed without running anything."""

    __slots__ = ("events", "node", "fact")

    def __init__(self, node: "Node", fact: Fact, events: list[Any]) -> None:
        self.node = node
        self.fact = fact
        self.events = events


def call_with_shape(fn: Callable[..., Any], shape: CallShape, value: Any, context: Any, *extra: Any) -> Any:
    """Call ``fn`` with an input ``value`` following its build-time :class:`CallShape`; a
    coroutine result is awaited (``async def`` functions).

    ``extra`` positional arguments (an accumulator's state) follow the input. With two or more
    required positional parameters and no extra arguments, a list/tuple input is spread.
    """
    n = shape.positional
    if extra:
        args: tuple[Any, ...] = (value, *extra)
    elif n == 0:
        args = ()
    elif n == 1:
        args = (value,)
    elif isinstance(value, (list, tuple)):
        args = tuple(value)
    else:
        raise TypeError(
            f"{getattr(fn, '__name__', fn)!r} takes {n} positional arguments, so it needs a list "
            f"input to spread, got {type(value).__name__}"
        )
    if shape.context:
        return awaited(fn(*args, context=context))
    return awaited(fn(*args))


def _run_hooks(hooks: Iterable[Callable[..., Any]], event: HookEvent, ctx: CausalContext) -> list[Any]:
    """Run new-style hooks; return deferred apply functions; raise ``_HookError`` on error."""
    fns: list[Any] = []
    for hook in hooks:
        try:
            res = awaited(hook(event, ctx))
        except Exception as exc:
            raise _HookError(("hook_exception", exc)) from exc
        if res is None or res == "ok":
            continue
        if isinstance(res, Apply):
            fns.append(res.fn)
        elif isinstance(res, (list, tuple)) and res and all(isinstance(x, Apply) for x in res):
            fns.extend(x.fn for x in res)
        elif isinstance(res, tuple) and len(res) == 2 and res[0] == "error":
            raise _HookError(res[1])
        else:
            raise _HookError(("invalid_hook_return", res))
    return fns


class _HookError(Exception):
    def __init__(self, reason: Any) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- the seam

class Host(Protocol):
    """What a node reads from (and, in ``fold_into``, writes to) the workflow it belongs to.

    Nodes depend on this protocol, never on :class:`runic.Workflow` (which implements it), so
    this module sits below the workflow in the import order. Every method is called by the
    workflow's owner thread during prepare (``prepare``), apply (``coordinate``,
    ``fold_into``, ``complete_batch``); ``execute`` never sees the host.
    """

    graph: "Graph"
    mapped: dict[Any, Any]
    mapped_paths: set[int]

    def context_for(self, node: "Node", fact: Any, mapped: bool = False, **fields: Any) -> CausalContext: ...
    def plain_context(self, node: "Node", fact: Any) -> CausalContext: ...
    def effective_run_context(self, node: "Node") -> dict[str, Any]: ...
    def activation_label(self, node_hash: int) -> str: ...
    def latest_state_fact(self, accumulator_hash: int) -> Any: ...
    def batch_of(self, fact_hash: int) -> tuple[int, int] | None: ...
    def depth_of(self, fact_hash: int) -> int: ...
    def scope_of(self, fact_hash: int) -> int | None: ...
    def failure_event(self, node: Any, fact_hash: int, error: Any, *,
                      traceback: str | None = None) -> "FailureRecorded": ...
    def record_fact(self, fact: Any, weight: int) -> None: ...
    def record_production(self, producer: int, h: int, label: str, weight: int) -> None: ...
    def track_map_reduce(self, source: int, fan_out: int, fan_out_fact: int, step: int,
                         result: int) -> None: ...


# --------------------------------------------------------------------------- base

class Node:
    """Base of every vertex that can be invoked."""

    __slots__ = ("name", "hash")
    name: Any
    hash: int
    kind = "node"
    context_keys: dict[Any, Any] | None = None
    activation_label = "runnable"
    coordinates = False  # Join/FanIn/FanOut derive completion events at apply time
    serial = False  # at most one runnable of this node is prepared per dispatch (accumulators)

    def prepare(self, wf: "Host", fact: Fact) -> Runnable | Skip:
        return Runnable(self, fact, wf.context_for(self, fact))

    def execute(self, r: Runnable) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def activation_sources(self, r: Runnable) -> Iterable[int]:
        """Hashes of the facts this node's flow children are activated with after ``r``."""
        fact = r.result
        return (fact.hash,) if fact.__class__ is Fact else ()

    def describe(self, r: Runnable) -> list[Any]:
        """Build the events of a lazily described outcome (see ``fold_into``)."""
        raise NotImplementedError(f"{type(self).__name__} does not describe outcomes lazily")

    def fold_into(self, wf: "Host", r: Runnable) -> None:
        """Apply a lazily described outcome with the fold primitives, without building events."""
        raise NotImplementedError(f"{type(self).__name__} does not describe outcomes lazily")

    def coordinate(self, wf: "Host", r: Runnable) -> list[Any] | None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# --------------------------------------------------------------------------- root

class Root(Node):
    """The single entry vertex: logs inputs and activates its flow children."""

    __slots__ = ()
    kind = "root"
    activation_label = "matchable"

    def __init__(self) -> None:
        self.name = None
        self.hash = ROOT_HASH

    def execute(self, r: Runnable) -> None:
        f = r.input_fact
        r.complete(f, [FactProduced(f.hash, f.value, f.ancestry, "input", 0)])

    def activation_sources(self, r: Runnable) -> Iterable[int]:
        return (r.input_fact.hash,)


# --------------------------------------------------------------------------- step

class Step(Node):
    """A function node: ``fn(input) -> output`` (see :func:`call_with_shape`)."""

    __slots__ = ("work", "work_hash", "shape", "context_keys", "fref")
    kind = "step"

    def __init__(self, work: Callable[..., Any], name: str, hash: int, work_hash: int, shape: CallShape,  # noqa: A002
                 context_keys: dict[Any, Any] | None = None, fref: Any = None) -> None:
        self.work = work
        self.name = name
        self.hash = hash
        self.work_hash = work_hash
        self.shape = shape
        self.context_keys = context_keys or None
        self.fref = fref

    def prepare(self, wf: "Host", fact: Fact) -> Runnable:
        if self.hash in wf.mapped_paths:
            return Runnable(self, fact, wf.context_for(self, fact, True))
        return Runnable(self, fact, wf.plain_context(self, fact))

    def execute(self, r: Runnable) -> None:
        ctx = r.context
        before, after = ctx.hooks
        inp = r.input_fact
        if not before and not after and self.shape is _ONE:  # the common case, kept lean
            try:
                value = self.work(inp.value)
                if value.__class__ not in _PLAIN:
                    value = settle(value)
            except Exception as exc:
                r.fail(exc)
                return
            r.complete(Fact(value, (self.hash, inp.hash)), None)
            return
        fns: list[Any] = []
        try:
            if before:
                fns = _run_hooks(before, HookEvent("before", self, self.hash, inp), ctx)
            value = settle(call_with_shape(self.work, self.shape, inp.value, ctx.context))
        except _HookError as he:
            r.fail(("hook_error", he.reason))
            return
        except Exception as exc:
            r.fail(exc)
            return
        fact = Fact(value, (self.hash, inp.hash))
        if after:
            try:
                fns = fns + _run_hooks(after, HookEvent("after", self, self.hash, inp, fact), ctx)
            except _HookError as he:
                r.fail(("hook_error", he.reason))
                return
        r.complete(fact, None, fns)  # events described lazily (describe / fold_into)

    def describe(self, r: Runnable) -> list[Any]:
        ctx = r.context
        fact = r.result
        inp = r.input_fact
        events = [FactProduced(fact.hash, fact.value, fact.ancestry, "produced", ctx.ancestry_depth + 1),
                  ActivationConsumed(inp.hash, self.hash, "runnable")]
        foc = ctx.fan_out_context
        if foc is not None:
            events.append(MapReduceTracked(foc[0], foc[1], foc[2], self.hash, fact.hash))
        return events

    def fold_into(self, wf: "Host", r: Runnable) -> None:
        ctx = r.context
        fact = r.result
        depth = ctx.ancestry_depth + 1
        h = fact.hash
        wf.record_fact(fact, depth)
        wf.record_production(self.hash, h, "produced", depth)
        wf.graph.relabel(r.input_fact.hash, self.hash, "runnable", "ran")
        foc = ctx.fan_out_context
        if foc is not None:
            wf.track_map_reduce(foc[0], foc[1], foc[2], self.hash, h)


# --------------------------------------------------------------------------- condition

class Condition(Node):
    """A predicate node: when it holds, its children receive the same input fact."""

    __slots__ = ("work", "work_hash", "shape", "context_keys", "fref")
    kind = "condition"
    activation_label = "matchable"

    def __init__(self, work: Callable[..., Any], name: str | None, hash: int, work_hash: int, shape: CallShape,  # noqa: A002
                 context_keys: dict[Any, Any] | None = None, fref: Any = None) -> None:
        self.work = work
        self.name = name
        self.hash = hash
        self.work_hash = work_hash
        self.shape = shape
        self.context_keys = context_keys or None
        self.fref = fref

    def check(self, value: Any, context: Any = None) -> bool:
        """Evaluate the predicate on ``value``: a ``TypeError`` (the input does not fit) counts
        as "not satisfied"; any other exception propagates (it fails the runnable)."""
        try:
            return bool(call_with_shape(self.work, self.shape, value, context or {}))
        except TypeError:
            return False

    def execute(self, r: Runnable) -> None:
        ctx = r.context
        before, after = ctx.hooks
        inp = r.input_fact
        fns: list[Any] = []
        try:
            if before:
                fns = _run_hooks(before, HookEvent("before", self, self.hash, inp), ctx)
            satisfied = self.check(inp.value, ctx.context)
            if after:
                fns = fns + _run_hooks(after, HookEvent("after", self, self.hash, inp, satisfied), ctx)
        except _HookError as he:
            r.fail(("hook_error", he.reason))
            return
        except Exception as exc:
            r.fail(exc)
            return
        consumed = ActivationConsumed(inp.hash, self.hash, "matchable")
        if satisfied:
            events = [ConditionSatisfied(inp.hash, self.hash, ctx.ancestry_depth + 1), consumed]
        else:
            events = [consumed]
        r.complete(satisfied, events, fns)

    def activation_sources(self, r: Runnable) -> Iterable[int]:
        return (r.input_fact.hash,) if r.result is True else ()


# --------------------------------------------------------------------------- join

class Join(Node):
    """Waits for one fact from every parent (in the same scope), then produces their values
    as a list in ``joins`` order."""

    __slots__ = ("joins",)
    kind = "join"
    coordinates = True

    def __init__(self, joins: list[int]) -> None:
        self.joins = list(joins)
        self.name = None
        self.hash = content_hash(("join", tuple(self.joins)))

    def prepare(self, wf: "Host", fact: Fact) -> Runnable:
        parent = fact.ancestry[0] if fact.ancestry else None
        if parent not in self.joins:
            # the fact came through a pass-through parent (a condition): find which one
            for p in self.joins:
                if wf.graph.has_edge(fact.hash, p, "satisfied"):
                    parent = p
                    break
        return Runnable(self, fact, wf.context_for(self, fact, join_context=parent))

    def execute(self, r: Runnable) -> None:
        ctx = r.context
        inp = r.input_fact
        r.complete(WAITING, [
            JoinFactReceived(inp.hash, self.hash, ctx.join_context, ctx.ancestry_depth + 1),
            ActivationConsumed(inp.hash, self.hash, "runnable"),
        ])

    def activation_sources(self, r: Runnable) -> Iterable[int]:
        return ()

    def coordinate(self, wf: "Host", r: Runnable) -> list[Any]:
        graph = wf.graph
        trigger = r.input_fact
        scope = wf.scope_of(trigger.hash)
        parents = set(self.joins)
        by_parent: dict[int, int] = {}
        weights = graph.predecessors(self.hash, "joined")
        for fh in weights:
            if wf.scope_of(fh) != scope:
                continue
            parent = wf.mapped.get(("join_parent", fh, self.hash))
            if parent in parents and parent not in by_parent:
                by_parent[parent] = fh
        if len(by_parent) < len(parents):
            return []
        facts = graph.vertices
        values = [getattr(facts[by_parent[p]], "value", None) for p in self.joins]
        ancestry = (self.hash, trigger.hash)
        result = Fact(values, ancestry)
        depth = max(wf.depth_of(fh) for fh in by_parent.values()) + 1
        derived: list[Any] = [JoinCompleted(self.hash, result.hash, values, ancestry, depth)]
        used = set(by_parent.values())
        for fh in list(weights):
            if fh in used:
                derived.append(JoinEdgeRelabeled(fh, self.hash, "joined", "join_satisfied"))
        return derived + [RunnableActivated(result.hash, child, wf.activation_label(child))
                          for child in graph.successors(self.hash, "flow")]


# --------------------------------------------------------------------------- accumulator

class Accumulator(Node):
    """Keeps state across inputs: ``reducer(input, state) -> new_state``; ``init()`` is the
    initial state (a literal is wrapped). Downstream nodes receive the new state fact."""

    __slots__ = ("init", "reducer", "reduce_hash", "shape", "context_keys", "init_ref", "reducer_ref")
    kind = "accumulator"
    serial = True

    def __init__(self, init: Callable[[], Any], reducer: Callable[..., Any], name: str, hash: int,  # noqa: A002
                 reduce_hash: int, shape: CallShape, context_keys: dict[Any, Any] | None = None,
                 init_ref: Any = None, reducer_ref: Any = None) -> None:
        self.init = init
        self.reducer = reducer
        self.name = name
        self.hash = hash
        self.reduce_hash = reduce_hash
        self.shape = shape
        self.context_keys = context_keys or None
        self.init_ref = init_ref
        self.reducer_ref = reducer_ref

    def prepare(self, wf: "Host", fact: Fact) -> Runnable:
        latest = wf.latest_state_fact(self.hash)
        if latest is None:
            return Runnable(self, fact, wf.context_for(self, fact))
        return Runnable(self, fact, wf.context_for(
            self, fact, last_known_state=getattr(latest, "value", None), is_state_initialized=True))

    def execute(self, r: Runnable) -> None:
        ctx = r.context
        inp = r.input_fact
        depth = ctx.ancestry_depth + 1
        before, after = ctx.hooks
        events: list[Any] = []
        fns: list[Any] = []
        try:
            if before:
                fns = _run_hooks(before, HookEvent("before", self, self.hash, inp), ctx)
            if ctx.is_state_initialized:
                state = ctx.last_known_state
            else:
                state = awaited(self.init())
                init_fact = Fact(state, (self.hash, content_hash(state)))
                events.append(StateInitiated(self.hash, init_fact.hash, state, init_fact.ancestry, depth))
            new_state = call_with_shape(self.reducer, self.shape, inp.value, ctx.context, state)
        except _HookError as he:
            r.fail(("hook_error", he.reason))
            return
        except Exception as exc:
            r.fail(exc)
            return
        fact = Fact(new_state, (self.hash, inp.hash))
        events.append(FactProduced(fact.hash, new_state, fact.ancestry, "state_produced", depth))
        events.append(ActivationConsumed(inp.hash, self.hash, "runnable"))
        if after:
            try:
                fns = fns + _run_hooks(after, HookEvent("after", self, self.hash, inp, fact), ctx)
            except _HookError as he:
                r.fail(("hook_error", he.reason))
                return
        r.complete(fact, events, fns)


# --------------------------------------------------------------------------- map / reduce

def _is_collection(value: Any) -> bool:
    """Whether a fan-out can emit the elements of ``value`` (checked without iterating it, so a
    one-shot iterator is consumed only once, by :func:`_iterable_items`)."""
    if isinstance(value, (str, bytes, bytearray, memoryview)) or value is None:
        return False
    try:
        iter(value)  # an iterator returns itself; a collection a new iterator: nothing consumed
    except TypeError:
        return False
    return True


def _iterable_items(value: Any) -> list[Any] | None:
    """The elements a fan-out emits, or ``None`` when ``value`` is not a collection."""
    if not _is_collection(value):
        return None
    if isinstance(value, dict):
        return list(value.items())
    try:
        return list(value)
    except TypeError:
        return None


class FanOut(Node):
    """Emits one fact per element of an iterable input (not ``str``/``bytes``; dicts emit
    ``(key, value)`` pairs; generators are materialised once)."""

    __slots__ = ()
    kind = "fan_out"
    coordinates = True

    def __init__(self, name: str, hash: int) -> None:  # noqa: A002
        self.name = name
        self.hash = hash

    def prepare(self, wf: "Host", fact: Fact) -> Runnable | Skip:
        if not _is_collection(fact.value):
            log.warning("map %r received a %s, which is not a collection; skipping it",
                        self.name, type(fact.value).__name__)
            return Skip(self, fact, [ActivationConsumed(fact.hash, self.hash, "runnable")])
        return Runnable(self, fact, wf.context_for(self, fact))

    def execute(self, r: Runnable) -> None:
        inp = r.input_fact
        items = _iterable_items(inp.value)
        if items is None:
            r.fail(TypeError(f"map {self.name!r} needs a collection, got {type(inp.value).__name__}"))
            return
        depth = r.context.ancestry_depth + 1
        events: list[Any] = []
        facts: list[Any] = []
        for elem in items:
            f = Fact(elem, (self.hash, inp.hash))
            facts.append(f)
            events.append(FanOutFactEmitted(self.hash, inp.hash, f.hash, elem, f.ancestry, depth))
        events.append(ActivationConsumed(inp.hash, self.hash, "runnable"))
        r.complete(facts, events)

    def activation_sources(self, r: Runnable) -> Iterable[int]:
        return [f.hash for f in r.result]

    def coordinate(self, wf: "Host", r: Runnable) -> list[Any] | None:
        if r.result:
            return None
        # empty collection: complete every reduce waiting on this fan-out with init()
        derived: list[Any] = []
        source = r.input_fact.hash
        for fan_in_hash in wf.graph.successors(self.hash, "fan_in"):
            fan_in = wf.graph.vertices.get(fan_in_hash)
            if fan_in is None:
                continue
            derived.extend(fan_in.complete_batch(wf, source, self.hash, [], None, r.context.ancestry_depth + 1))
        return derived


class FanIn(Node):
    """The node of a reduce. Simple mode folds an iterable input in one execution; map-reduce
    mode (linked to a map's FanOut by a ``fan_in`` edge) waits until every element the
    fan-out emitted has reached it, then folds the results in emission order."""

    __slots__ = ("init", "reducer", "shape", "map_name", "context_keys", "init_ref", "reducer_ref")
    kind = "fan_in"
    coordinates = True

    def __init__(self, init: Callable[[], Any], reducer: Callable[..., Any], name: str, hash: int,  # noqa: A002
                 shape: CallShape, map_name: str | None = None, context_keys: dict[Any, Any] | None = None,
                 init_ref: Any = None, reducer_ref: Any = None) -> None:
        self.init = init
        self.reducer = reducer
        self.name = name
        self.hash = hash
        self.shape = shape
        self.map_name = map_name
        self.context_keys = context_keys or None
        self.init_ref = init_ref
        self.reducer_ref = reducer_ref

    def fold(self, values: Iterable[Any], context: Any) -> Any:
        acc = awaited(self.init())
        for v in values:
            res = call_with_shape(self.reducer, self.shape, v, context, acc)
            if res.__class__ is Halt:
                return res.value
            acc = res.value if res.__class__ is Cont else res
        return acc

    def prepare(self, wf: "Host", fact: Fact) -> Runnable:
        fan_outs = wf.graph.predecessors(self.hash, "fan_in")
        if fan_outs:
            return Runnable(self, fact, wf.context_for(self, fact, fan_in_context=next(iter(fan_outs))))
        return Runnable(self, fact, wf.context_for(self, fact))

    def execute(self, r: Runnable) -> None:
        ctx = r.context
        inp = r.input_fact
        consumed = ActivationConsumed(inp.hash, self.hash, "runnable")
        if ctx.fan_in_context is not None:
            r.complete(WAITING, [consumed])
            return
        items = _iterable_items(inp.value)
        try:
            if items is None:
                raise TypeError(f"reduce {self.name!r} needs a collection, got {type(inp.value).__name__}")
            value = self.fold(items, ctx.context)
        except Exception as exc:
            r.fail(exc)
            return
        fact = Fact(value, (self.hash, inp.hash))
        r.complete(fact, [FactProduced(fact.hash, value, fact.ancestry, "reduced", ctx.ancestry_depth + 1), consumed])

    def coordinate(self, wf: "Host", r: Runnable) -> list[Any] | None:
        fan_out_hash = r.context.fan_in_context
        if fan_out_hash is None:
            return None
        trigger = r.input_fact
        batch = wf.batch_of(trigger.hash)
        if batch is None:
            return []
        source, fan_out = batch
        if fan_out != fan_out_hash:
            return []
        if wf.mapped.get(("fan_in_completed", source, self.hash)):
            return []
        expected = wf.mapped.get((source, fan_out))
        producer = trigger.ancestry[0] if trigger.ancestry else None
        seen = wf.mapped.get((source, producer))
        if not expected or not seen or not set(expected) <= set(seen):
            return []
        facts = wf.graph.vertices
        values = [getattr(facts.get(seen[e]), "value", None) for e in expected]
        return self.complete_batch(wf, source, fan_out, values, trigger,
                                   max(wf.depth_of(seen[e]) for e in expected) + 1,
                                   seen_key=(source, producer), sisters=[seen[e] for e in expected])

    def complete_batch(self, wf: "Host", source: int, fan_out: int, values: list[Any], trigger: Any,
                       depth: int, seen_key: Any = None, sisters: list[Any] | None = None) -> list[Any]:
        """Derive the events completing a map-reduce batch (also used for an empty batch).

        The activations of the batch's other results are consumed whether the reducer succeeds
        or fails, so a failing reducer fails the batch once (one failure recorded), not once
        per result still pending."""
        consumed: list[Any] = []
        for sister in sisters or ():
            if trigger is not None and sister == trigger.hash:
                continue
            if wf.graph.has_edge(sister, self.hash, "runnable"):
                consumed.append(ActivationConsumed(sister, self.hash, "runnable"))
        try:
            value = self.fold(values, wf.effective_run_context(self))
        except Exception as exc:
            log.warning("reduce %r failed: %s: %s", self.name, type(exc).__name__, exc)
            fact_hash = trigger.hash if trigger is not None else source
            failed: list[Any] = [wf.failure_event(self, fact_hash, exc)]
            if trigger is None:
                return failed
            return consumed + failed + [UpstreamFailed(trigger.hash, self.hash, "runnable", exc)]
        ancestry = (self.hash, source)  # a reduce result descends from the collection
        result = Fact(value, ancestry)
        derived: list[Any] = consumed
        derived.append(FanInCompleted(self.hash, source, result.hash, value, ancestry,
                                      (source, fan_out), seen_key, depth))
        derived.extend(RunnableActivated(result.hash, child, wf.activation_label(child))
                       for child in wf.graph.successors(self.hash, "flow"))
        return derived
