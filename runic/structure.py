"""A workflow's structure: components, their nodes and flow edges, hooks and run context.

:class:`Structure` extends :class:`~runic.memory.Memory` with what a workflow *is* before it
runs: the components registered by name (``components``, ``parts``: the nodes each owns,
``owners``: the components owning each node, innermost last), the flow edges between nodes, the
before/after hooks, the run context and the definition-level settings recorded in the build log
(name, scheduler policies, output ports). It also implements the seam the nodes depend on
(:class:`runic.nodes.Host`: building a node's :class:`~runic.runnable.CausalContext`, naming a
failure after its component) and the one components call while connecting themselves
(``add_node``, ``add_flow``, ``register``, ``add_component``: :class:`runic.components.Builder`).

Decisions recorded here (see also :mod:`runic.evaluation`):

* Run context is scoped by the owning component's name, then the node's name, over
  ``_global``. Default workflow names stay ``None``.
* Adding a *different* component under a name already taken raises
  :class:`~runic.errors.DuplicateComponentError`; components whose name was generated get a
  unique one instead. Adding the same definition again only draws another parent edge.
* A component under several parents gets one :class:`~runic.nodes.Join` in front of it unless
  it joins its parents itself.

Only the workflow's owner thread calls these methods.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Self

from .context import RunContextError, declared_keys, missing_keys, scoped_context, with_declared_keys
from .errors import ComponentNotFoundError, DuplicateComponentError, WorkflowDefinitionError
from .events import ComponentAdded, ComponentRemoved, Event, FailureRecorded
from .memory import Memory
from .nodes import ROOT_HASH, Join, Node, Root
from .runnable import CausalContext

__all__ = ["Structure", "ComponentLike", "ROOT"]

ROOT = Root()
"""The single Root vertex every workflow starts with (shared: it holds no state)."""


class ComponentLike(Protocol):
    """What the structure needs of a component (:class:`runic.components.Component`)."""

    name: str
    hash: int
    kind: str
    auto_named: bool
    joins_parents_itself: bool

    def connect(self, wf: Any, parents: list[int], parent_components: list[Any]) -> None: ...
    def attach_points(self, wf: Any) -> list[int]: ...
    def recipe(self) -> dict[str, Any]: ...
    def renamed(self, name: str) -> Any: ...


class Structure(Memory):
    """Components, nodes, flow edges, hooks and run context (see the module docs)."""

    def __init__(self, name: Any = None) -> None:
        super().__init__()
        self.name = name
        self.graph.add_vertex(ROOT_HASH, ROOT)
        self.components: dict[str, Any] = {}
        self.parts: dict[str, list[tuple[str, int]]] = {}
        self.owners: dict[int, list[str]] = {}
        self.before_hooks: dict[int, list[Callable[..., Any]]] = {}
        self.after_hooks: dict[int, list[Callable[..., Any]]] = {}
        self.mapped_paths: set[int] = set()
        self.build_events: list[Event] = []
        self.scheduler_policies: list[Any] = []
        self.output_ports: dict[str, Any] | None = None
        self.run_context: dict[str, Any] = {}

    def _copy_structure_into(self, new: "Structure") -> None:
        """Give ``new`` (a shallow copy of this object) its own copies of the containers."""
        self._copy_memory_into(new)
        new.components = dict(self.components)
        new.parts = {k: list(v) for k, v in self.parts.items()}
        new.owners = {k: list(v) for k, v in self.owners.items()}
        new.before_hooks = {k: list(v) for k, v in self.before_hooks.items()}
        new.after_hooks = {k: list(v) for k, v in self.after_hooks.items()}
        new.mapped_paths = set(self.mapped_paths)
        new.build_events = list(self.build_events)
        new.scheduler_policies = list(self.scheduler_policies)
        new.run_context = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.run_context.items()}
        new.output_ports = dict(self.output_ports) if self.output_ports else None

    # ================================================================== building
    def add_component(self, component: Any, to: Any, log_event: bool = False) -> Any:
        """Add one component (already a Component) under ``to``; returns the component actually
        added (renamed when its generated name was taken). Logs a ``ComponentAdded`` event when
        ``log_event``."""
        parents, parent_components = self._resolve_parents(to)
        component = self._claim_name(component)
        if len(parents) > 1 and not component.joins_parents_itself:
            join = Join(parents)
            self.graph.add_vertex(join.hash, join)
            for p in parents:
                self.add_flow(p, join.hash)
            parents, parent_components = [join.hash], [None]
        component.connect(self, parents, parent_components)
        if log_event:
            self.build_events.append(
                ComponentAdded(component.name, component.kind, component.hash, _to_ref(to), component.recipe())
            )
        return component

    def _claim_name(self, component: Any) -> Any:
        existing = self.components.get(component.name)
        if existing is None or existing is component:
            return component
        if existing.hash == component.hash and not component.auto_named:
            return component  # the same definition again: another parent edge, as in Runic
        if not component.auto_named:
            raise DuplicateComponentError(
                f"a different component is already named {component.name!r} in workflow "
                f"{self.name!r}; give this {component.kind} another name"
            )
        base = f"{component.name}-{component.hash:016x}"[: len(component.name) + 9]
        candidate, n = base, 2
        while candidate in self.components:
            candidate, n = f"{base}-{n}", n + 1
        return component.renamed(candidate)

    def _resolve_parents(self, to: Any) -> tuple[list[int], list[Any]]:
        if to is None:
            return [ROOT_HASH], [None]
        if isinstance(to, list):
            hashes: list[int] = []
            comps: list[Any] = []
            for t in to:
                h, c = self._resolve_parents(t)
                hashes.extend(h)
                comps.extend(c)
            return hashes, comps
        if isinstance(to, tuple) and len(to) == 2 and isinstance(to[1], str):
            name, kind = to
            for part_kind, node_hash in self.parts.get(name, ()):
                if part_kind == kind:
                    return [node_hash], [None]
            raise ComponentNotFoundError(to, self.name)
        if isinstance(to, int):
            if to not in self.graph.vertices:
                raise ComponentNotFoundError(to, self.name)
            return [to], [None]
        if isinstance(to, str):
            comp = self.components.get(to)
            if comp is None:
                raise ComponentNotFoundError(to, self.name)
            return comp.attach_points(self), [comp] * len(comp.attach_points(self))
        name = getattr(to, "name", None)
        if name is not None and name in self.components:
            return self._resolve_parents(name)
        if isinstance(to, Node) and to.hash in self.graph.vertices:
            return [to.hash], [None]
        raise ComponentNotFoundError(getattr(to, "name", to), self.name)

    # the seam components use while connecting ---------------------------------
    def add_node(self, node: Node) -> None:
        """Add a node vertex (an existing vertex with the same hash is kept)."""
        self.graph.add_vertex(node.hash, node)

    def add_flow(self, parent: int, child: int) -> None:
        """Draw a ``flow`` edge; refuses a node under itself."""
        if parent == child:
            node = self.graph.vertices.get(child)
            raise WorkflowDefinitionError(
                f"cannot connect {getattr(node, 'name', child)!r} under itself; "
                "build a new component (or give it another name) to repeat a step"
            )
        self.graph.add_edge(parent, child, "flow")

    def register(self, name: str, component: Any, parts: list[tuple[str, int]]) -> None:
        """Register ``component`` under ``name`` as the owner of ``parts`` (``(kind, hash)``)."""
        self.components[name] = component
        known = self.parts.setdefault(name, [])
        for p in parts:
            if p not in known:
                known.append(p)
        for _, node_hash in parts:
            owners = self.owners.setdefault(node_hash, [])
            if name not in owners:
                owners.insert(0, name)

    def remove_component(self, name: str, *, log: bool = True) -> Self:
        """Remove a component and the nodes only it owns, reconnecting each of their flow
        parents to each of their flow children. Unknown names leave the workflow unchanged."""
        comp = self.components.get(name)
        if comp is None:
            return self
        g = self.graph
        owned = [h for _, h in self.parts.get(name, ())]
        doomed = [h for h in dict.fromkeys(owned) if self.owners.get(h, [name]) == [name]]
        doomed_set = set(doomed)
        parents = {p for h in doomed for p in g.predecessors(h, "flow") if p not in doomed_set}
        children = {c for h in doomed for c in g.successors(h, "flow") if c not in doomed_set}
        for h in doomed:
            g.delete_vertex(h)
            self.owners.pop(h, None)
            self.before_hooks.pop(h, None)
            self.after_hooks.pop(h, None)
            self.mapped_paths.discard(h)
        for p in parents:
            for c in children:
                if p != c:
                    g.add_edge(p, c, "flow")
        for h in owned:
            if h in self.owners and name in self.owners[h]:
                self.owners[h].remove(name)
        del self.components[name]
        self.parts.pop(name, None)
        if log:
            self.build_events.append(ComponentRemoved(name, comp.hash))
        return self

    # ================================================================== lookup
    def get_component(self, name: Any, default: Any = None) -> Any:
        """The component registered under ``name`` (or ``default``). ``(name, kind)`` returns
        the list of that component's sub-nodes of that kind; a list of names returns a list."""
        if isinstance(name, list):
            return [self.get_component(n, default) for n in name]
        if isinstance(name, tuple) and len(name) == 2:
            comp_name, kind = name
            return [self.graph.vertices[h] for k, h in self.parts.get(comp_name, ()) if k == kind]
        return self.components.get(name, default)

    def __getitem__(self, name: str) -> Any:
        comp = self.components.get(name)
        if comp is None:
            raise ComponentNotFoundError(name, self.name)
        return comp

    def __contains__(self, name: object) -> bool:
        return name in self.components

    def sub_components(self, name: str) -> list[tuple[str, Node]]:
        """``[(kind, node)]`` of the nodes a component owns."""
        self[name]
        return [(k, self.graph.vertices[h]) for k, h in self.parts.get(name, ())]

    def steps(self) -> list[Node]:
        return [v for v in self.graph.vertices.values() if getattr(v, "kind", None) == "step"]

    def conditions(self) -> list[Node]:
        return [v for v in self.graph.vertices.values() if getattr(v, "kind", None) == "condition"]

    def next_steps(self, node: Any) -> list[Node]:
        """The ``flow`` children of a node (a node, hash or component name)."""
        h = self._node_hash(node)
        return [self.graph.vertices[c] for c in self.graph.successors(h, "flow")]

    def _node_hash(self, node: Any) -> int:
        if isinstance(node, int):
            return node
        if isinstance(node, str):
            return int(self[node].attach_points(self)[0])
        return int(node.hash)

    def nodes(self) -> list[Node]:
        return [v for v in self.graph.vertices.values() if isinstance(v, Node)]

    # ================================================================== hooks
    def attach_before_hook(self, target: Any, hook: Callable[..., Any]) -> Self:
        """Run ``hook(HookEvent, CausalContext)`` before the target node's work."""
        for h in self._hook_targets(target):
            self.before_hooks.setdefault(h, []).append(hook)
        return self

    def attach_after_hook(self, target: Any, hook: Callable[..., Any]) -> Self:
        """Run ``hook(HookEvent, CausalContext)`` after the target node's work (it sees the result)."""
        for h in self._hook_targets(target):
            self.after_hooks.setdefault(h, []).append(hook)
        return self

    def _hook_targets(self, target: Any) -> list[int]:
        if isinstance(target, int):
            return [target]
        if isinstance(target, tuple):
            return [n.hash for n in self.get_component(target)]
        if isinstance(target, str):
            comp = self[target]
            return [h for k, h in self.parts.get(target, ()) if k not in ("fan_out",)] if comp.kind == "rule" \
                else [comp.hash if comp.hash in self.graph.vertices else comp.attach_points(self)[0]]
        return [target.hash]

    def get_hooks(self, node: Any) -> tuple[list[Any], list[Any]]:
        h = self._node_hash(node)
        return list(self.before_hooks.get(h, ())), list(self.after_hooks.get(h, ()))

    # ================================================================== run context
    def put_run_context(self, ctx: dict[Any, Any]) -> Self:
        """Shallow-merge ``ctx`` into the run context (a component's entry is replaced whole).
        Keys: component names, or ``"_global"`` for values every component sees."""
        self.run_context.update(ctx)
        return self

    def get_run_context(self, name: str | None = None) -> dict[Any, Any]:
        """The whole run context, or the one component ``name`` sees (``_global`` merged)."""
        if name is None:
            return self.run_context
        return scoped_context(self.run_context, [name])

    def effective_run_context(self, node: Node) -> dict[str, Any]:
        """The run context ``node`` sees (scoped, declared keys filled in)."""
        keys = getattr(node, "context_keys", None)
        if not self.run_context and not keys:
            return CausalContext.run_context
        names = list(self.owners.get(node.hash, ()))
        if node.name is not None and node.name not in names:
            names.insert(0, node.name)
        return with_declared_keys(scoped_context(self.run_context, names), keys)

    def required_context_keys(self) -> dict[str, list[tuple[str, Any]]]:
        """``{component: [(key, "required" | ("optional", default))]}`` for declared keys."""
        return declared_keys(self.nodes(), self.owners)

    def validate_run_context(self, ctx: dict[Any, Any] | None = None) -> None:
        """Raise :class:`RunContextError` listing, per component, the required keys that
        ``ctx`` (default: the current run context) does not provide (``_global`` counts)."""
        missing = missing_keys(self.required_context_keys(), self.run_context if ctx is None else ctx)
        if missing:
            raise RunContextError(missing)

    # ================================================================== the node seam
    def activation_label(self, node_hash: int) -> str:
        """The label a node's activations get (``matchable`` for Root and conditions)."""
        node = self.graph.vertices.get(node_hash)
        return node.activation_label if node is not None else "runnable"

    def context_for(self, node: Node, fact: Any, mapped: bool = False, **fields: Any) -> CausalContext:
        """The causal context of ``node`` activated by ``fact`` (``mapped``: on a map path)."""
        h = node.hash
        if not (fields or mapped or self.run_context or self.before_hooks or self.after_hooks
                or node.context_keys):
            return CausalContext(h, fact, self._depth.get(fact.hash, 0))
        return self._full_context(node, fact, mapped, fields)

    def plain_context(self, node: Node, fact: Any) -> CausalContext:
        """The context of a node without hooks, run context or map bookkeeping."""
        if self.run_context or self.before_hooks or self.after_hooks or node.context_keys:
            return self._full_context(node, fact, False, {})
        return CausalContext(node.hash, fact, self._depth.get(fact.hash, 0))

    def _full_context(self, node: Node, fact: Any, mapped: bool, fields: dict[Any, Any]) -> CausalContext:
        h = node.hash
        before = self.before_hooks.get(h)
        after = self.after_hooks.get(h)
        if before or after:
            fields["hooks"] = (tuple(before or ()), tuple(after or ()))
        if self.run_context or getattr(node, "context_keys", None):
            fields["run_context"] = self.effective_run_context(node)
        if mapped:
            batch = self.batch_of(fact.hash)
            if batch is not None:
                fields["fan_out_context"] = (batch[0], batch[1], self._scope[fact.hash])
        return CausalContext(h, fact, self._depth.get(fact.hash, 0), **fields)

    # ================================================================== failures
    def component_of(self, node_hash: int, node: Any) -> tuple[str | None, str | None]:
        """``(name, kind)`` of the component a node belongs to: the innermost component that
        registered it (a step in a map is itself, a rule's condition is the rule)."""
        owners = self.owners.get(node_hash)
        if owners:
            comp = self.components.get(owners[-1])
            return owners[-1], getattr(comp, "kind", None) or getattr(node, "kind", None)
        return getattr(node, "name", None), getattr(node, "kind", None)

    def failure_event(self, node: Any, fact_hash: int, error: Any, *, traceback: str | None = None) -> FailureRecorded:
        """A final, halting failure of ``node`` on ``fact_hash`` as an event (for failures that
        did not go through the policy driver: a reducer at apply time, a crashed task)."""
        return FailureRecorded(self.failure_record(node, getattr(node, "hash", 0), fact_hash, error,
                                                    traceback=traceback))

    def owned_nodes(self, name: Any) -> list[int]:
        """Hashes of the nodes a component (name or component) owns; ``[]`` for ``None``."""
        if name is None:
            return []
        if isinstance(name, str):
            if name not in self.components:
                raise ComponentNotFoundError(name, self.name)
            return [h for _, h in self.parts.get(name, ())]
        return self.owned_nodes(getattr(name, "name", None))


def _to_ref(to: Any) -> Any:
    """How ``to`` is recorded in a ``ComponentAdded`` event (names, not objects)."""
    if to is None or isinstance(to, (str, int)):
        return to
    if isinstance(to, tuple) and len(to) == 2 and isinstance(to[1], str):
        return (_to_ref(to[0]), to[1])
    if isinstance(to, list):
        return [_to_ref(t) for t in to]
    name = getattr(to, "name", None)
    if name is not None:
        return name
    return getattr(to, "hash", None)
