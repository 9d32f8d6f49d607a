"""User-level components and the builders that make them.

Components are recipes: immutable values that know how to lower themselves into nodes and edges
(``connect``), where children attach under them (``attach_points``) and how to describe
themselves in a ``ComponentAdded`` event (``recipe``) so that :func:`from_recipe` can rebuild
them from a log.

===================  =========================================  ==============================
builder              lowers to                                  children attach under
===================  =========================================  ==============================
:func:`step`         Step                                       the step
:func:`condition`    Condition                                  the condition
:func:`rule`         Condition -> Step (the reaction)           the reaction step
:func:`accumulator`  Accumulator                                the accumulator (state facts)
:func:`state_machine` Accumulator -> one Rule per reactor       the accumulator
:func:`map`          FanOut -> the body's components            the body's leaves
:func:`reduce`       FanIn (map-reduce mode after a map)        the fan-in
===================  =========================================  ==============================

Identity: a component's hash is the content hash of its kind, name and the content hashes of
its functions and literal parameters, so the same definition hashes the same in every process.
A component without an explicit name gets one from its function (``fn.__name__``) or its kind
and hash (``step_1a2b3c4d``); :meth:`runic.Workflow.add` makes generated names unique.
"""

from __future__ import annotations

import copy as _copy
import re
from typing import TYPE_CHECKING, Any, Callable, Generator, Mapping, Protocol

from . import nodes
from .context import REQUIRED
from .errors import NoMatchError, WorkflowDefinitionError
from .functions import FunctionRef, call_shape, content_id, describe, function_hash
from .hashing import content_hash
from .structure import Structure

if TYPE_CHECKING:  # pragma: no cover
    from .graph import Graph

__all__ = [
    "Component", "Step", "Condition", "Rule", "Accumulator", "StateMachine", "Map", "Reduce",
    "step", "condition", "rule", "accumulator", "state_machine", "map", "reduce",
    "add_tree", "to_component", "Builder",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _default_name(fn: Any, kind: str, h: int) -> str:
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and _IDENT.match(name) and name != "<lambda>":
        return name
    return f"{kind}_{h:016x}"[: len(kind) + 9]


def _context_key(keys: Mapping[Any, Any] | None) -> Any:
    if not keys:
        return None
    out = []
    for k, d in sorted(keys.items()):
        out.append((k, ["fn", function_hash(d)] if callable(d) else ["v", repr(d)]))
    return out


def _normalise_context(context: Any) -> dict[Any, Any] | None:
    if context is None:
        return None
    if isinstance(context, (list, tuple, set)):
        return {k: REQUIRED for k in context}
    if isinstance(context, Mapping):
        return dict(context)
    raise WorkflowDefinitionError("context= takes a list of keys or a dict of key -> default")


def _context_recipe(keys: dict[Any, Any] | None) -> Any:
    if not keys:
        return None
    out: dict[str, Any] = {}
    for k, d in keys.items():
        if d is REQUIRED:
            out[k] = {"required": True}
        elif callable(d):
            out[k] = {"fn": describe(d)}
        else:
            out[k] = {"value": d}
    return out


class Builder(Protocol):
    """What a component calls on the workflow while connecting itself (``connect``) and
    attaching children (``attach_points``). :class:`runic.Workflow` implements it (in
    :class:`runic.structure.Structure`); components never import the workflow."""

    graph: "Graph"
    components: dict[str, Any]
    parts: dict[str, list[tuple[str, int]]]
    mapped: dict[Any, Any]
    mapped_paths: set[int]

    def add_node(self, node: nodes.Node) -> None: ...
    def add_flow(self, parent: int, child: int) -> None: ...
    def register(self, name: str, component: Any, parts: list[tuple[str, int]]) -> None: ...
    def add_component(self, component: Any, to: Any, log_event: bool = False) -> Any: ...
    def merge(self, other: Any) -> Any: ...


class Component:
    """Base class every component extends (see the module docs)."""

    kind = "component"
    name: str
    hash: int
    auto_named: bool = False
    joins_parents_itself = False

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        raise NotImplementedError

    def attach_points(self, wf: Builder) -> list[int]:
        raise NotImplementedError

    def recipe(self) -> dict[Any, Any]:
        raise NotImplementedError

    def renamed(self, name: str) -> "Component":
        raise NotImplementedError

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The component's functions by part name (used for ``functions=`` lookups)."""
        return {}


# --------------------------------------------------------------------------- step / condition

class _Callable:
    """Makes a function component callable like its function (``@runic.step`` keeps ``charge``
    usable as ``charge(order)`` in unit tests). ``__runic_function__`` is what restoring a
    function by import path unwraps to when the module attribute is the component;
    ``__wrapped__`` lets ``inspect.signature`` see the function's signature. These are class
    properties, so a component costs nothing more per instance."""

    work: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.work(*args, **kwargs)

    @property
    def __runic_function__(self) -> Callable[..., Any]:
        return self.work

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.work

    @property
    def __name__(self) -> str:
        return str(getattr(self.work, "__name__", None) or getattr(self, "name", ""))


class Step(_Callable, nodes.Step, Component):
    """A step component: a function node (``runic.step(fn)``); calling it calls the function."""

    __slots__ = ("auto_named",)

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        wf.add_node(self)
        for p in parents:
            wf.add_flow(p, self.hash)
        wf.register(self.name, self, [("step", self.hash)])

    def attach_points(self, wf: Builder) -> list[int]:
        return [self.hash]

    def recipe(self) -> dict[Any, Any]:
        return {"work": self.fref, "context": _context_recipe(self.context_keys)}

    def renamed(self, name: str) -> "Step":
        return make_step(self.work, name, self.context_keys, fref=self.fref, auto=self.auto_named)

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {"work": self.work}


def make_step(fn: Callable[..., Any], name: str | None, context_keys: dict[Any, Any] | None, *, fref: FunctionRef | None = None,
               auto: bool | None = None, hash: int | None = None) -> Step:  # noqa: A002
    fref = fref or describe(fn)
    auto_named = name is None if auto is None else auto
    name = name or _default_name(fn, "step", fref.hash)
    h = hash if hash is not None else content_id("step", name, fref.hash, _context_key(context_keys))
    s = Step(fn, name, h, fref.hash, call_shape(fn), context_keys, fref)
    s.auto_named = auto_named
    return s


def step(fn: Callable[..., Any] | Step | None = None, name: str | None = None, *, context: Any = None) -> Any:
    """A step: ``fn(x) -> y``. A function of two or more positional parameters receives a list
    input spread over them; one with a ``context`` keyword receives the component's run
    context. ``context=`` declares context keys: a list (required) or ``{key: default}``.
    ``async def`` functions are awaited.

    Also a decorator: ``@runic.step`` and ``@runic.step(name="charge", context=...)`` turn a
    module-level function into the step component, which still calls the function when called
    (``charge(order)``) and restores by its import path."""
    if fn is None:
        def decorate(f: Callable[..., Any]) -> Step:
            if not callable(f):
                raise WorkflowDefinitionError(f"@runic.step decorates a function, got {type(f).__name__}")
            return make_step(_function_of(f), name, _normalise_context(context))

        return decorate
    if isinstance(fn, Step):
        return fn if name is None else fn.renamed(name)
    if not callable(fn):
        raise WorkflowDefinitionError(f"runic.step needs a callable, got {type(fn).__name__}; name a step "
                                      "with runic.step(fn, name=...) or @runic.step(name=...)")
    return make_step(_function_of(fn), name, _normalise_context(context))


def _function_of(fn: Any) -> Any:
    """The function inside a function component (``@runic.step``/``@runic.condition``), or ``fn``."""
    return fn.work if isinstance(fn, _Callable) else fn


class Condition(_Callable, nodes.Condition, Component):
    """A predicate component (``runic.condition(fn)``); children run when it holds. Calling it
    calls the predicate."""

    __slots__ = ("auto_named",)

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        wf.add_node(self)
        for p in parents:
            wf.add_flow(p, self.hash)
        wf.register(self.name, self, [("condition", self.hash)])

    def attach_points(self, wf: Builder) -> list[int]:
        return [self.hash]

    def recipe(self) -> dict[Any, Any]:
        return {"work": self.fref, "context": _context_recipe(self.context_keys)}

    def renamed(self, name: str) -> "Condition":
        return make_condition(self.work, name, self.context_keys, fref=self.fref, auto=self.auto_named)

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {"work": self.work}


def make_condition(fn: Callable[..., Any], name: str | None, context_keys: dict[Any, Any] | None, *, fref: FunctionRef | None = None,
                    auto: bool | None = None, hash: int | None = None, owner: str | None = None) -> Condition:  # noqa: A002
    fref = fref or describe(fn)
    auto_named = name is None if auto is None else auto
    name = name or _default_name(fn, "condition", fref.hash)
    h = hash if hash is not None else content_id("condition", owner, name, fref.hash, _context_key(context_keys))
    c = Condition(fn, name, h, fref.hash, call_shape(fn), context_keys, fref)
    c.auto_named = auto_named
    return c


def condition(fn: Callable[..., Any] | None = None, name: str | None = None, *, context: Any = None) -> Any:
    """A condition: ``fn(x) -> bool``; its children receive the same input when it holds.
    Also a decorator, like :func:`step` (``@runic.condition``, ``@runic.condition(name=..)``)."""
    if fn is None:
        def decorate(f: Callable[..., Any]) -> Condition:
            if not callable(f):
                raise WorkflowDefinitionError(f"@runic.condition decorates a function, got {type(f).__name__}")
            return make_condition(_function_of(f), name, _normalise_context(context))

        return decorate
    if isinstance(fn, Condition):
        return fn if name is None else fn.renamed(name)
    if not callable(fn):
        raise WorkflowDefinitionError(f"runic.condition needs a callable, got {type(fn).__name__}")
    return make_condition(_function_of(fn), name, _normalise_context(context))


# --------------------------------------------------------------------------- rule

class Rule(Component):
    """``condition(x) -> bool`` gating ``reaction(x) -> y``. The reaction step carries the
    rule's name (so name-matched policies and results address it); the condition node is
    named ``"<rule>.condition"``."""

    kind = "rule"

    def __init__(self, cond: Condition, reaction: Step, name: str, hash: int, auto_named: bool) -> None:  # noqa: A002
        self.condition = cond
        self.reaction = reaction
        self.name = name
        self.hash = hash
        self.auto_named = auto_named

    @property
    def condition_hash(self) -> int:
        return self.condition.hash

    @property
    def reaction_hash(self) -> int:
        return self.reaction.hash

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        wf.add_node(self.condition)
        wf.add_node(self.reaction)
        for p in parents:
            wf.add_flow(p, self.condition.hash)
        wf.add_flow(self.condition.hash, self.reaction.hash)
        wf.register(self.name, self, [("condition", self.condition.hash), ("reaction", self.reaction.hash)])

    def attach_points(self, wf: Builder) -> list[int]:
        return [self.reaction.hash]

    def recipe(self) -> dict[Any, Any]:
        return {"condition": self.condition.fref, "reaction": self.reaction.fref,
                "condition_hash": self.condition.hash, "reaction_hash": self.reaction.hash,
                "context": _context_recipe(self.reaction.context_keys)}

    def renamed(self, name: str) -> "Rule":
        return make_rule(self.condition.work, self.reaction.work, name, self.reaction.context_keys,
                          auto=self.auto_named, frefs=(self.condition.fref, self.reaction.fref))

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {"condition": self.condition.work, "reaction": self.reaction.work}

    def check(self, value: Any) -> bool:
        """Whether the rule's condition holds for ``value``."""
        return self.condition.check(value)

    def run(self, value: Any) -> Any:
        """Evaluate the rule on ``value`` alone: the reaction's result, or raise
        :class:`LookupError` when the condition does not hold."""
        if not self.check(value):
            raise NoMatchError(f"rule {self.name!r}: condition not satisfied")
        return nodes.call_with_shape(self.reaction.work, self.reaction.shape, value, {})


def make_rule(cond_fn: Callable[..., Any], reaction_fn: Callable[..., Any], name: str | None, context_keys: dict[Any, Any] | None, *,
               auto: bool | None = None, frefs: tuple[Any, ...] | None = None, hash: int | None = None,  # noqa: A002
               node_hashes: tuple[Any, ...] | None = None) -> Rule:
    cref, rref = frefs or (describe(cond_fn), describe(reaction_fn))
    auto_named = name is None if auto is None else auto
    name = name or _default_name(reaction_fn, "rule", content_hash((cref.hash, rref.hash)))
    h = hash if hash is not None else content_id("rule", name, cref.hash, rref.hash, _context_key(context_keys))
    ch, rh = node_hashes or (None, None)
    cond = make_condition(cond_fn, f"{name}.condition", None, fref=cref, auto=False, owner=name, hash=ch)
    reaction = make_step(reaction_fn, name, context_keys, fref=rref, auto=False,
                          hash=rh if rh is not None else content_id("reaction", h))
    return Rule(cond, reaction, name, h, auto_named)


def rule(condition: Callable[..., Any], reaction: Callable[..., Any], name: str | None = None, *, context: Any = None) -> Rule:
    """A rule: when ``condition(x)`` holds, ``reaction(x)`` runs. ``condition`` is coerced
    with ``bool()``; a ``TypeError`` inside it (an input it does not handle) means "no"."""
    if not callable(condition) or not callable(reaction):
        raise WorkflowDefinitionError("runic.rule needs two callables: condition(x) and reaction(x)")
    return make_rule(_function_of(condition), _function_of(reaction), name, _normalise_context(context))


# --------------------------------------------------------------------------- accumulator

def _thunk(init: Any) -> Callable[[], Any]:
    if callable(init):
        return init  # type: ignore[no-any-return]

    def initial() -> Any:
        return _copy.deepcopy(init)

    return initial


def _init_key(init: Any) -> Any:
    return ["fn", function_hash(init)] if callable(init) else ["v", content_hash(init)]


def _init_recipe(init: Any) -> dict[Any, Any]:
    return {"fn": describe(init)} if callable(init) else {"value": init}


class Accumulator(nodes.Accumulator, Component):
    """State kept across inputs: ``reducer(x, state) -> new_state`` from ``init``."""

    __slots__ = ("auto_named", "init_value")
    init_value: Any

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        wf.add_node(self)
        for p in parents:
            wf.add_flow(p, self.hash)
        wf.register(self.name, self, [("accumulator", self.hash)])

    def attach_points(self, wf: Builder) -> list[int]:
        return [self.hash]

    def recipe(self) -> dict[Any, Any]:
        return {"init": _init_recipe(self.init_value), "reducer": self.reducer_ref,
                "context": _context_recipe(self.context_keys)}

    def renamed(self, name: str) -> "Accumulator":
        return make_accumulator(self.init_value, self.reducer, name, self.context_keys, auto=self.auto_named,
                                 reducer_ref=self.reducer_ref)

    def functions(self) -> dict[str, Callable[..., Any]]:
        out = {"reducer": self.reducer}
        if callable(self.init_value):
            out["init"] = self.init_value
        return out


def make_accumulator(init: Any, reducer: Callable[..., Any], name: str | None, context_keys: dict[Any, Any] | None, *,
                      auto: bool | None = None, reducer_ref: FunctionRef | None = None,
                      hash: int | None = None) -> Accumulator:  # noqa: A002
    rref = reducer_ref or describe(reducer)
    auto_named = name is None if auto is None else auto
    reduce_hash = content_hash((_init_key(init), rref.hash))
    name = name or f"accumulator_{reduce_hash:016x}"[:20]
    h = hash if hash is not None else content_id("accumulator", name, reduce_hash, _context_key(context_keys))
    shape = call_shape(reducer, default_positional=2)
    acc = Accumulator(_thunk(init), reducer, name, h, reduce_hash, shape, context_keys, None, rref)
    acc.auto_named = auto_named
    acc.init_value = init
    return acc


def accumulator(init: Any, reducer: Callable[..., Any], name: str | None = None, *, context: Any = None) -> Accumulator:
    """An accumulator: ``reducer(x, state) -> new_state``; ``init`` is a value or a zero-argument
    callable. Children receive each new state; productions include the initial state."""
    if not callable(reducer):
        raise WorkflowDefinitionError("runic.accumulator needs reducer(x, state) -> new_state")
    return make_accumulator(_function_of(init), _function_of(reducer), name, _normalise_context(context))


# --------------------------------------------------------------------------- state machine

class StateMachine(Component):
    """An accumulator plus reactor rules that fire on the new state."""

    kind = "state_machine"

    def __init__(self, name: str, acc: Accumulator, reactors: list[Rule], hash: int, init: Any,  # noqa: A002
                 reducer: Callable[..., Any]) -> None:
        self.name = name
        self.accumulator = acc
        self.reactors = reactors
        self.hash = hash
        self.init = init
        self.reducer = reducer

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        wf.add_component(self.accumulator, parents[0] if len(parents) == 1 else parents)
        for r in self.reactors:
            wf.add_component(r, self.accumulator.name)
        parts = [("accumulator", self.accumulator.hash)]
        for r in self.reactors:
            parts.append(("reactor", r.reaction.hash))
        wf.register(self.name, self, parts)
        for r in self.reactors:
            wf.register(self.name, self, [("reactor_condition", r.condition.hash)])

    def attach_points(self, wf: Builder) -> list[int]:
        return [self.accumulator.hash]

    def recipe(self) -> dict[Any, Any]:
        return {
            "accumulator": {"name": self.accumulator.name, "hash": self.accumulator.hash,
                            "recipe": self.accumulator.recipe()},
            "reactors": [{"name": r.name, "hash": r.hash, "recipe": r.recipe()} for r in self.reactors],
        }

    def renamed(self, name: str) -> "StateMachine":  # state machines are always named
        raise WorkflowDefinitionError(f"a different state machine is already named {self.name!r}")

    def functions(self) -> dict[str, Callable[..., Any]]:
        out: dict[str, Callable[..., Any]] = {"reducer": self.reducer}
        if callable(self.init):
            out["init"] = self.init
        return out


def _reactor_pairs(name: str, reactors: Any) -> list[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    items: list[tuple[str | None, Any]]
    if isinstance(reactors, Mapping):
        items = list(reactors.items())
    else:
        items = [(None, r) for r in (reactors or [])]
    out = []
    for i, (rname, r) in enumerate(items):
        if rname is None and isinstance(r, Rule) and not r.auto_named:
            rname = r.name
        rname = rname or f"{name}_reactor_{i}"
        if isinstance(r, Rule):
            out.append((rname, r.condition.work, r.reaction.work))
        elif isinstance(r, tuple) and len(r) == 2 and callable(r[0]) and callable(r[1]):
            out.append((rname, _function_of(r[0]), _function_of(r[1])))
        elif callable(r):
            out.append((rname, _always, _function_of(r)))
        else:
            raise WorkflowDefinitionError(
                f"state machine {name!r}: a reactor must be (condition, reaction), a rule or a callable"
            )
    return out


def _always(state: Any) -> bool:
    return True


def state_machine(name: str, init: Any, reducer: Callable[..., Any], reactors: Any = None) -> StateMachine:
    """A state machine: ``reducer(event, state) -> new_state`` from ``init``; each reactor
    (``(condition(state), reaction(state))``, a rule, or a callable that fires on every new
    state) runs on the new state. ``reactors`` may be a list (named ``<name>_reactor_<i>``)
    or a dict of name -> reactor."""
    if not name:
        raise WorkflowDefinitionError("runic.state_machine needs a name")
    if init is None or reducer is None or not callable(reducer):
        raise WorkflowDefinitionError(f"state machine {name!r} needs init and a reducer(event, state)")
    acc = make_accumulator(_function_of(init), _function_of(reducer), f"{name}_accumulator", None)
    rules = [make_rule(c, r, rname, None) for rname, c, r in _reactor_pairs(name, reactors)]
    h = content_id("state_machine", name, acc.hash, tuple(r.hash for r in rules))
    return StateMachine(name, acc, rules, h, init, reducer)


# --------------------------------------------------------------------------- map / reduce

def _body_entries(body: Any) -> list[Any]:
    """Normalise a map body to a list of add-tree entries."""
    if isinstance(body, list):
        return [_body_entry(b) for b in body]
    return [_body_entry(body)]


def _body_entry(b: Any) -> Any:
    if isinstance(b, tuple) and len(b) == 2 and isinstance(b[1], list):
        parent, children = b
        parent = [_body_entry(p) for p in parent] if isinstance(parent, list) else _body_entry(parent)
        return (parent, [_body_entry(c) for c in children])
    return to_component(b)


def _entry_recipe(entry: Any) -> Any:
    if isinstance(entry, tuple):
        parent, children = entry
        p = [_entry_recipe(x) for x in parent] if isinstance(parent, list) else _entry_recipe(parent)
        return {"parent": p, "children": [_entry_recipe(c) for c in children]}
    return {"kind": entry.kind, "name": entry.name, "hash": entry.hash, "recipe": entry.recipe()}


def _entry_key(entry: Any) -> Any:
    if isinstance(entry, tuple):
        parent, children = entry
        p = [_entry_key(x) for x in parent] if isinstance(parent, list) else _entry_key(parent)
        return (p, [_entry_key(c) for c in children])
    return entry.hash


class Map(Component):
    """Fan-out: the body runs once per element of a collection input."""

    kind = "map"

    def __init__(self, name: str, body: list[Any], hash: int, auto_named: bool) -> None:  # noqa: A002
        self.name = name
        self.body = body
        self.hash = hash
        self.auto_named = auto_named
        self.fan_out = nodes.FanOut(name, content_id("fan_out", name, hash))

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        fo = self.fan_out
        wf.add_node(fo)
        for p in parents:
            wf.add_flow(p, fo.hash)
        wf.register(self.name, self, [("fan_out", fo.hash)])
        leaves: list[int] = []
        for entry in self.body:
            leaves.extend(_add_entry(wf, entry, fo.hash))
        wf.register(self.name, self, [("leaf", h) for h in leaves])
        # every node on a flow path fan_out -> leaves is on a mapped path
        for leaf in leaves:
            _mark_mapped_path(wf, fo.hash, leaf)
        wf.mapped.setdefault(("map_leaves", self.name), list(dict.fromkeys(leaves)))

    def attach_points(self, wf: Builder) -> list[int]:
        return [h for k, h in wf.parts.get(self.name, ()) if k == "leaf"]

    def recipe(self) -> dict[Any, Any]:
        return {"body": [_entry_recipe(e) for e in self.body]}

    def renamed(self, name: str) -> "Map":
        return Map(name, self.body, content_id("map", name, _entry_key_list(self.body)), self.auto_named)


def _entry_key_list(body: list[Any]) -> Any:
    return tuple(repr(_entry_key(e)) for e in body)


def _add_entry(wf: Builder, entry: Any, parent: Any) -> list[int]:
    """Add a body entry under ``parent`` (node hash or names); return its leaf node hashes."""
    if isinstance(entry, tuple):
        head, children = entry
        if isinstance(head, list):
            names = []
            for h in head:
                _add_entry(wf, h, parent)
                names.append(h.name)
            head_to: Any = names
        else:
            added = wf.add_component(head, parent)
            head_to = added.name
        leaves: list[int] = []
        for c in children:
            leaves.extend(_add_entry(wf, c, head_to))
        return leaves
    added = wf.add_component(entry, parent)
    return list(added.attach_points(wf))


def _mark_mapped_path(wf: Builder, fan_out: int, node: int) -> None:
    g = wf.graph
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n in seen or n == fan_out:
            continue
        seen.add(n)
        wf.mapped_paths.add(n)
        stack.extend(g.predecessors(n, "flow"))


def map(body: Any, name: str | None = None) -> Map:  # noqa: A001 - mirrors Runic's builder
    """A map: the body (a function, a component, a ``(parent, [children])`` pipeline, a list
    of those, or another map) runs for each element of a collection input. Any iterable but
    ``str``/``bytes`` is a collection; dicts give ``(key, value)`` pairs."""
    entries = _body_entries(body)
    key = _entry_key_list(entries)
    auto_named = name is None
    name = name or f"map_{content_hash(key):016x}"[:12]
    return Map(name, entries, content_id("map", name, key), auto_named)


class Reduce(Component):
    """Fan-in: ``reducer(item, acc) -> acc`` from ``init``. After a map (``add(reduce,
    to=map)``, inside ``(map, [reduce])`` or with ``map=<name>``) it folds the map's results
    in emission order once every element has arrived; otherwise it folds a collection input.
    The reducer may return :class:`~runic.nodes.Halt` to stop early."""

    kind = "reduce"

    def __init__(self, init: Any, reducer: Callable[..., Any], name: str, hash: int, map_name: str | None,  # noqa: A002
                 auto_named: bool, reducer_ref: FunctionRef | None = None, node_hash: int | None = None) -> None:
        self.init = init
        self.reducer = reducer
        self.name = name
        self.hash = hash
        self.map_name = map_name
        self.auto_named = auto_named
        self.reducer_ref = reducer_ref or describe(reducer)
        self.fan_in = nodes.FanIn(_thunk(init), reducer, name,
                                  node_hash if node_hash is not None else content_id("fan_in", hash),
                                  call_shape(reducer, default_positional=2), map_name, None, None, self.reducer_ref)

    def connect(self, wf: Builder, parents: list[int], parent_components: list[Any]) -> None:
        fi = self.fan_in
        wf.add_node(fi)
        for p in parents:
            wf.add_flow(p, fi.hash)
        wf.register(self.name, self, [("fan_in", fi.hash)])
        the_map = None
        if self.map_name is not None:
            the_map = wf.components.get(self.map_name)
            if not isinstance(the_map, Map):
                raise WorkflowDefinitionError(
                    f"reduce {self.name!r} names map {self.map_name!r}, which is not a map in this workflow"
                )
        elif parent_components and isinstance(parent_components[0], Map):
            the_map = parent_components[0]
        if the_map is not None:
            fo = the_map.fan_out.hash
            wf.graph.add_edge(fo, fi.hash, "fan_in")
            for p in parents:
                _mark_mapped_path(wf, fo, p)

    def attach_points(self, wf: Builder) -> list[int]:
        return [self.fan_in.hash]

    def recipe(self) -> dict[Any, Any]:
        return {"init": _init_recipe(self.init), "reducer": self.reducer_ref, "map": self.map_name,
                "fan_in_hash": self.fan_in.hash}

    def renamed(self, name: str) -> "Reduce":
        return make_reduce(self.init, self.reducer, name, self.map_name, auto=self.auto_named,
                            reducer_ref=self.reducer_ref)

    def functions(self) -> dict[str, Callable[..., Any]]:
        out = {"reducer": self.reducer}
        if callable(self.init):
            out["init"] = self.init
        return out


def make_reduce(init: Any, reducer: Callable[..., Any], name: str | None, map_name: str | None, *,
                 auto: bool | None = None, reducer_ref: FunctionRef | None = None,
                 hash: int | None = None, node_hash: int | None = None) -> Reduce:  # noqa: A002
    rref = reducer_ref or describe(reducer)
    auto_named = name is None if auto is None else auto
    key = content_hash((_init_key(init), rref.hash, map_name))
    name = name or f"reduce_{key:016x}"[:15]
    h = hash if hash is not None else content_id("reduce", name, key)
    return Reduce(init, reducer, name, h, map_name, auto_named, rref, node_hash)


def reduce(init: Any, reducer: Callable[..., Any], name: str | None = None, map: str | None = None) -> Reduce:  # noqa: A002
    """A reduce: ``reducer(item, acc) -> acc`` starting from ``init`` (a value or a 0-argument
    callable); ``map=`` names the map whose results it folds when added elsewhere."""
    if not callable(reducer):
        raise WorkflowDefinitionError("runic.reduce needs reducer(item, acc) -> acc")
    return make_reduce(_function_of(init), _function_of(reducer), name, map)


# --------------------------------------------------------------------------- building trees

def to_component(value: Any) -> Component:
    """Turn a value into a component: components pass through, callables become steps."""
    if isinstance(value, Component):
        return value
    if callable(value):
        made: Component = step(value)
        return made
    raise WorkflowDefinitionError(
        f"cannot add {value!r} ({type(value).__name__}) to a workflow: expected a component, a "
        "function, a (parent, [children]) tuple or a list"
    )


def add_tree(wf: Builder, entry: Any, to: Any, log: bool) -> list[str]:
    """Add an entry of the ``steps=`` grammar under ``to``; return the names added at its top.

    Written as a generator driven by an explicit stack (:func:`_drive`) rather than by
    recursion, so a pipeline nested thousands of levels deep (``(s0, [(s1, [(s2, [...])])])``)
    builds; the order components are added in, and so the build log, is the recursive one
    (depth first, parents before children, children in order)."""
    stack = [_add_tree(wf, entry, to, log)]
    result: list[str] = []
    sent: list[str] | None = None
    while stack:
        try:
            sub_entry, sub_to = stack[-1].send(sent)  # type: ignore[arg-type]
        except StopIteration as done:
            stack.pop()
            sent = result = done.value
            continue
        stack.append(_add_tree(wf, sub_entry, sub_to, log))
        sent = None
    return result


_Step = Generator[tuple[Any, Any], "list[str]", "list[str]"]


def _add_tree(wf: Builder, entry: Any, to: Any, log: bool) -> _Step:
    """One level of :func:`add_tree`: ``yield (entry, to)`` adds a sub-entry and receives the
    names it added."""
    if isinstance(entry, list):
        names: list[str] = []
        for e in entry:
            names.extend((yield (e, to)))
        return names
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], list):
        head, children = entry
        if isinstance(head, list):
            parent_names: list[str] = []
            for h in head:
                parent_names.extend((yield (h, to)))
            target: Any = parent_names
        else:
            added = yield (head, to)
            if not added:
                raise WorkflowDefinitionError(
                    f"the head of a (parent, [children]) pipeline added no component ({head!r}); "
                    "put a component, a function or a pipeline first"
                )
            target = added[0]
        for c in children:
            yield (c, target)
        return target if isinstance(target, list) else [target]
    if isinstance(entry, Structure):
        if to is not None:
            raise WorkflowDefinitionError("a workflow can only be merged at Root; use wf.merge(other)")
        wf.merge(entry)
        return []
    return [wf.add_component(to_component(entry), to, log).name]
