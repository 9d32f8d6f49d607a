"""The :class:`Workflow`: structure, memory, three-phase evaluation and results.

A workflow is a *mutable runtime object* (unlike Runic's immutable value): every method that
changes it returns the workflow itself so calls chain, and :meth:`Workflow.copy` gives an
independent copy. Only its owner (a caller, or one Worker) mutates it.

Evaluation follows Runic's three phases: :meth:`prepare_for_dispatch` reads the workflow into
:class:`~runic.runnable.Runnable` values; executing a runnable needs no workflow;
:meth:`apply_runnable` folds the outcome back. :meth:`react` and :meth:`react_until_satisfied`
drive those phases in-process (in the caller's thread, or on threads with ``parallel=True``).

Decisions where Runic's behaviour is accidental, taken in this module (others are listed in
:mod:`runic.nodes`):

* ``apply_runnable`` is idempotent: applying a runnable whose activation is no longer pending
  (already applied, or cancelled by an upstream failure) changes nothing (Runic draws the
  edges twice).
* Failures are recorded, never replayed as work: every failed attempt is a
  :class:`~runic.events.FailureRecorded` event (``Workflow.failures``, append-only), and a
  runnable that failed for good, or was skipped by ``on_failure="skip"``, is an
  :class:`~runic.events.UpstreamFailed` event, so replay reproduces the failure instead of
  running the step again; the downstream work it cancels is limited to the failed fact's scope
  (its input, or its map item), where Runic cancels pending work of every input.
* Run context is scoped by the owning component's name, then the node's name, over
  ``_global``. Default workflow names stay ``None``. Adding a *different* component under a
  name already taken raises :class:`~runic.errors.DuplicateComponentError`; components whose
  name was generated get a unique one instead.
* One build log in chronological order; a join is one ``ComponentAdded`` with the full parent
  list; ``from_events`` folds ``ComponentRemoved``.
* Scheduler policies are validated when they are added or passed (an unknown key fails at
  once, not at run time); :meth:`check_policy_targets` refuses policies for names that are
  not in the workflow.
"""

from __future__ import annotations

import copy as _copy
import dataclasses
import difflib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Sequence

from . import folds
from .coroutines import materialise
from .driver import execute_with_policy, now_ms, wall_ms
from .errors import (
    ComponentNotFoundError,
    DuplicateComponentError,
    InvalidPolicyError,
    RunicError,
    WorkflowDefinitionError,
    WorkflowFailedError,
)
from .events import (
    ComponentAdded,
    ComponentRemoved,
    Event,
    FailureRecorded,
    RunnableActivated,
    RunnableCompleted,
    RunnableDispatched,
    RunnableFailed,
    UpstreamFailed,
)
from .facts import NOTHING, Fact, FactRef
from .graph import PRODUCTION_LABELS, Graph
from .failures import Failure, failure_for
from .nodes import ROOT_HASH, Node, Root, Skip
from .policy import merge_policies, order_by_priority, resolve, validate_entry, validate_policies
from .runnable import COMPLETED, FAILED, SKIPPED, CausalContext, Runnable

__all__ = ["Workflow", "REQUIRED"]

log = logging.getLogger("runic.core")

_ROOT = Root()


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "runic.REQUIRED"

    def __reduce__(self):
        return "REQUIRED"


REQUIRED = _Required()
"""Marks a declared context key that has no default (``runic.step(fn, context={"k": REQUIRED})``)."""


class Workflow:
    """A dataflow workflow: components wired in a graph, plus the facts they produced."""

    def __init__(self, name: Any = None, *, scheduler_policies: Sequence | None = None,
                 output_ports: dict | None = None) -> None:
        self.name = name
        self.graph = Graph()
        self.graph.add_vertex(ROOT_HASH, _ROOT)
        self.components: dict[str, Any] = {}
        self.parts: dict[str, list[tuple[str, int]]] = {}
        self.owners: dict[int, list[str]] = {}
        self.before_hooks: dict[int, list[Callable]] = {}
        self.after_hooks: dict[int, list[Callable]] = {}
        self.mapped: dict[Any, Any] = {}
        self.mapped_paths: set[int] = set()
        self.build_events: list[Event] = []
        self.scheduler_policies: list = _validated(scheduler_policies)
        self.runnable_events: list[Event] = []
        self.emit_events = False
        self.uncommitted_events: list[Event] = []
        self.run_context: dict[str, Any] = {}
        self.output_ports: dict | None = dict(output_ports) if output_ports else None
        #: every failed attempt, oldest first (append-only: remember ``len(wf.failures)`` to
        #: look at the failures since some point)
        self.failures: list[Failure] = []
        self.annotations: dict[str, Any] = {}
        self._depth: dict[int, int] = {}
        self._scope: dict[int, int] = {}
        self._prod_seq: dict[int, int] = {}
        self._seq = 0
        self._fact_mode = "full"

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, components={list(self.components)})"

    # ================================================================== copying
    def copy(self) -> "Workflow":
        """An independent copy (functions and fact values are shared, everything else copied)."""
        new = Workflow.__new__(Workflow)
        new.__dict__.update(self.__dict__)
        new.graph = self.graph.copy()
        new.components = dict(self.components)
        new.parts = {k: list(v) for k, v in self.parts.items()}
        new.owners = {k: list(v) for k, v in self.owners.items()}
        new.before_hooks = {k: list(v) for k, v in self.before_hooks.items()}
        new.after_hooks = {k: list(v) for k, v in self.after_hooks.items()}
        new.mapped = {k: (_copy.copy(v) if isinstance(v, (dict, list, set)) else v) for k, v in self.mapped.items()}
        new.mapped_paths = set(self.mapped_paths)
        new.build_events = list(self.build_events)
        new.scheduler_policies = list(self.scheduler_policies)
        new.runnable_events = list(self.runnable_events)
        new.uncommitted_events = list(self.uncommitted_events)
        new.run_context = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.run_context.items()}
        new.output_ports = dict(self.output_ports) if self.output_ports else None
        new.failures = list(self.failures)
        new.annotations = dict(self.annotations)
        new._depth = dict(self._depth)
        new._scope = dict(self._scope)
        new._prod_seq = dict(self._prod_seq)
        return new

    # ================================================================== building
    def add(self, component: Any, to: Any = None, *, log: bool = True) -> "Workflow":
        """Add a component under ``to`` (``None`` = Root, a component name, ``(name, kind)``,
        a node hash, a component, or a list of those = a join). Also accepts a plain function
        (becomes a step), a ``(parent, [children])`` pipeline tuple and a list of components."""
        from .components import add_tree

        add_tree(self, component, to, log)
        return self

    def _add_component(self, component: Any, to: Any, log_event: bool) -> Any:
        """Add one component (already a Component); returns the component actually added."""
        parents, parent_components = self._resolve_parents(to)
        component = self._claim_name(component)
        if len(parents) > 1 and not component.joins_parents_itself:
            from .nodes import Join

            join = Join(parents)
            self.graph.add_vertex(join.hash, join)
            for p in parents:
                self._flow(p, join.hash)
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

    # helpers used by components while connecting ----------------------------
    def _add_node(self, node: Node) -> None:
        self.graph.add_vertex(node.hash, node)

    def _flow(self, parent: int, child: int) -> None:
        if parent == child:
            node = self.graph.vertices.get(child)
            raise WorkflowDefinitionError(
                f"cannot connect {getattr(node, 'name', child)!r} under itself; "
                "build a new component (or give it another name) to repeat a step"
            )
        self.graph.add_edge(parent, child, "flow")

    def _register(self, name: str, component: Any, parts: list[tuple[str, int]]) -> None:
        self.components[name] = component
        known = self.parts.setdefault(name, [])
        for p in parts:
            if p not in known:
                known.append(p)
        for _, node_hash in parts:
            owners = self.owners.setdefault(node_hash, [])
            if name not in owners:
                owners.insert(0, name)

    def remove_component(self, name: str, *, log: bool = True) -> "Workflow":
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

    def merge(self, other: Any) -> "Workflow":
        """Connect ``other`` (a workflow, component, function or list of them) into this
        workflow at Root: structure, memory, registrations, hooks and run context (``other``
        wins on conflicts); the build logs are concatenated and this workflow's name is kept."""
        from .components import to_workflow

        if isinstance(other, list):
            for item in other:
                self.merge(item)
            return self
        other = to_workflow(other)
        g, og = self.graph, other.graph
        for vid, value in og.vertices.items():
            g.add_vertex(vid, value)
        for label, by_from in og.out.items():
            for frm, tos in by_from.items():
                for to, weight in tos.items():
                    if label in ("runnable", "matchable") and g.has_edge(frm, to, "ran"):
                        continue
                    if label == "ran":
                        g.remove_edge(frm, to, "runnable")
                        g.remove_edge(frm, to, "matchable")
                    g.add_edge(frm, to, label, weight, og.props.get((frm, to, label)))
        self.components.update(other.components)
        for name, parts in other.parts.items():
            self._register(name, other.components.get(name), parts)
        for hooks, theirs in ((self.before_hooks, other.before_hooks), (self.after_hooks, other.after_hooks)):
            for k, v in theirs.items():
                hooks[k] = list(v)
        for key, value in other.mapped.items():
            mine = self.mapped.get(key)
            if isinstance(mine, list) and isinstance(value, list):
                self.mapped[key] = mine + [x for x in value if x not in mine]
            elif isinstance(mine, dict) and isinstance(value, dict):
                self.mapped[key] = {**mine, **value}
            else:
                self.mapped[key] = _copy.copy(value)
        self.mapped_paths |= other.mapped_paths
        for k, v in other.run_context.items():
            if isinstance(v, dict) and isinstance(self.run_context.get(k), dict):
                self.run_context[k] = {**self.run_context[k], **v}
            else:
                self.run_context[k] = v
        self.build_events.extend(other.build_events)
        self.runnable_events.extend(other.runnable_events)
        self.failures.extend(other.failures)
        for src, dst in ((other._depth, self._depth), (other._scope, self._scope)):
            for k, v in src.items():
                dst.setdefault(k, v)
        for fh in other._prod_seq:
            if fh not in self._prod_seq:
                self._seq += 1
                self._prod_seq[fh] = self._seq
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
            return self[node].attach_points(self)[0]
        return node.hash

    def nodes(self) -> list[Node]:
        return [v for v in self.graph.vertices.values() if isinstance(v, Node)]

    # ================================================================== hooks
    def attach_before_hook(self, target: Any, hook: Callable) -> "Workflow":
        """Run ``hook(HookEvent, CausalContext)`` before the target node's work."""
        for h in self._hook_targets(target):
            self.before_hooks.setdefault(h, []).append(hook)
        return self

    def attach_after_hook(self, target: Any, hook: Callable) -> "Workflow":
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

    def get_hooks(self, node: Any) -> tuple[list, list]:
        h = self._node_hash(node)
        return list(self.before_hooks.get(h, ())), list(self.after_hooks.get(h, ()))

    # ================================================================== run context
    def put_run_context(self, ctx: dict) -> "Workflow":
        """Shallow-merge ``ctx`` into the run context (a component's entry is replaced whole).
        Keys: component names, or ``"_global"`` for values every component sees."""
        self.run_context.update(ctx)
        return self

    def get_run_context(self, name: str | None = None) -> dict:
        """The whole run context, or the one component ``name`` sees (``_global`` merged)."""
        if name is None:
            return self.run_context
        return self._scoped_context([name])

    def _scoped_context(self, names: Iterable[str]) -> dict:
        rc = self.run_context
        out = dict(rc.get("_global") or {})
        for n in reversed(list(names)):
            entry = rc.get(n)
            if isinstance(entry, dict):
                out.update(entry)
        return out

    def _effective_run_context(self, node: Node) -> dict:
        keys = getattr(node, "context_keys", None)
        if not self.run_context and not keys:
            return CausalContext.run_context
        names = list(self.owners.get(node.hash, ()))
        if node.name is not None and node.name not in names:
            names.insert(0, node.name)
        ctx = self._scoped_context(names)
        if keys:
            for key, default in keys.items():
                if key not in ctx:
                    ctx[key] = None if default is REQUIRED else (default() if callable(default) else default)
        return ctx

    def required_context_keys(self) -> dict[str, list[tuple[str, Any]]]:
        """``{component: [(key, "required" | ("optional", default))]}`` for declared keys."""
        out: dict[str, list] = {}
        for node in self.nodes():
            keys = getattr(node, "context_keys", None)
            if not keys:
                continue
            owner = (self.owners.get(node.hash) or [node.name])[0]
            out.setdefault(owner, []).extend(
                (k, "required" if d is REQUIRED else ("optional", d)) for k, d in keys.items()
            )
        return out

    def validate_run_context(self, ctx: dict | None = None) -> None:
        """Raise :class:`RunContextError` listing, per component, the required keys that
        ``ctx`` (default: the current run context) does not provide (``_global`` counts)."""
        ctx = self.run_context if ctx is None else ctx
        missing: dict[str, list[str]] = {}
        glob = ctx.get("_global") or {}
        for comp, keys in self.required_context_keys().items():
            own = ctx.get(comp) or {}
            for key, kind in keys:
                if kind == "required" and key not in own and key not in glob:
                    missing.setdefault(comp, []).append(key)
        if missing:
            raise RunContextError(missing)

    # ================================================================== policies
    def add_scheduler_policy(self, matcher: Any, policy: dict) -> "Workflow":
        """Prepend a policy (higher priority than those already stored). ``matcher`` may also
        be a component (it matches by the component's name). Raises
        :class:`~runic.errors.InvalidPolicyError` for an unknown key or a bad value."""
        self.scheduler_policies.insert(0, validate_entry(_matcher(matcher), policy))
        return self

    def append_scheduler_policy(self, matcher: Any, policy: dict) -> "Workflow":
        """Append a policy (lower priority than those already stored); validated like
        :meth:`add_scheduler_policy`."""
        self.scheduler_policies.append(validate_entry(_matcher(matcher), policy))
        return self

    def set_scheduler_policies(self, policies: Sequence) -> "Workflow":
        """Replace the policies by ``[(matcher, policy), ...]`` (each validated)."""
        self.scheduler_policies = _validated(policies)
        return self

    def policy_target_names(self) -> list[str]:
        """The names a string policy matcher can select: every named node (steps, a rule's
        reaction and ``"<rule>.condition"``, accumulators, maps, reduces) and component."""
        names = {v.name for v in self.graph.vertices.values() if isinstance(v, Node) and v.name is not None}
        names.update(self.components)
        return sorted(str(n) for n in names)

    def check_policy_targets(self, policies: Sequence | None = None) -> "Workflow":
        """Raise :class:`~runic.errors.InvalidPolicyError` when a policy's matcher is a name
        (``"fetch"``) that names nothing in this workflow: the policy would silently never
        apply. Checks ``policies`` (runtime policies about to be used) or, by default, the
        stored ones. Regex, type and predicate matchers are not checked (they may select
        nothing on purpose)."""
        targets = self.policy_target_names()
        known = set(targets)
        pols = self.scheduler_policies if policies is None else validate_policies(policies)
        for i, (matcher, _spec) in enumerate(pols):
            if not isinstance(matcher, str) or matcher == "default" or matcher in known:
                continue
            near = difflib.get_close_matches(matcher, targets, n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            listed = ", ".join(repr(t) for t in targets[:20]) + (", ..." if len(targets) > 20 else "")
            raise InvalidPolicyError(
                f"scheduler policy #{i} is for {matcher!r}, which names no component of workflow "
                f"{self.name!r}{hint}; its names are: {listed or 'none'}. Fix the name, or use "
                "'default', a regex or ('type', kind) to match several"
            )
        return self

    # ================================================================== runtime helpers
    def _activation_label(self, node_hash: int) -> str:
        node = self.graph.vertices.get(node_hash)
        return node.activation_label if node is not None else "runnable"

    def _activations(self, parent_hash: int, fact_hash: int) -> list:
        children = self.graph.successors(parent_hash, "flow")
        if not children:
            return []
        v = self.graph.vertices
        return [RunnableActivated(fact_hash, c, v[c].activation_label) for c in children]

    def _context_for(self, node: Node, fact: Any, mapped: bool = False, **fields: Any) -> CausalContext:
        h = node.hash
        if not (fields or mapped or self.run_context or self.before_hooks or self.after_hooks
                or node.context_keys):
            return CausalContext(h, fact, self._depth.get(fact.hash, 0))
        return self._full_context(node, fact, mapped, fields)

    def _plain_context(self, node: Node, fact: Any) -> CausalContext:
        """The context of a node without hooks, run context or map bookkeeping."""
        if self.run_context or self.before_hooks or self.after_hooks or node.context_keys:
            return self._full_context(node, fact, False, {})
        return CausalContext(node.hash, fact, self._depth.get(fact.hash, 0))

    def _full_context(self, node: Node, fact: Any, mapped: bool, fields: dict) -> CausalContext:
        h = node.hash
        before = self.before_hooks.get(h)
        after = self.after_hooks.get(h)
        if before or after:
            fields["hooks"] = (tuple(before or ()), tuple(after or ()))
        if self.run_context or getattr(node, "context_keys", None):
            fields["run_context"] = self._effective_run_context(node)
        if mapped:
            batch = self.batch_of(fact.hash)
            if batch is not None:
                fields["fan_out_context"] = (batch[0], batch[1], self._scope[fact.hash])
        return CausalContext(h, fact, self._depth.get(fact.hash, 0), **fields)

    def ancestry_depth(self, fact: Any) -> int:
        """Causal depth of a fact: 0 for an input, 1 + its parent's otherwise."""
        h = getattr(fact, "hash", fact)
        d = self._depth.get(h)
        if d is not None:
            return d
        anc = getattr(fact, "ancestry", None)
        if anc is None:
            return 0
        parent = self.graph.vertices.get(anc[1])
        return 1 if parent is None else 1 + self.ancestry_depth(parent)

    causal_depth = ancestry_depth

    def root_ancestor_hash(self, fact: Any) -> int | None:
        """Hash of the input at the root of a fact's causal chain (``None`` if broken)."""
        cur = fact if not isinstance(fact, int) else self.graph.vertices.get(fact)
        seen = 0
        while cur is not None and seen < 1_000_000:
            anc = cur.ancestry
            if anc is None:
                return cur.hash
            cur = self.graph.vertices.get(anc[1])
            seen += 1
        return None

    def batch_of(self, fact_hash: int) -> tuple[int, int] | None:
        """``(source_fact, fan_out)`` of the map item a fact descends from, if any."""
        scope = self._scope.get(fact_hash)
        if scope is None:
            return None
        sf = self.graph.vertices.get(scope)
        anc = getattr(sf, "ancestry", None)
        if anc is None:
            return None
        producer = self.graph.vertices.get(anc[0])
        if producer is None or producer.kind != "fan_out":
            return None
        return anc[1], anc[0]

    def latest_state_fact(self, accumulator_hash: int) -> Any:
        """The accumulator's latest state fact (``None`` before its first run)."""
        h = self.mapped.get(("latest_state_fact", accumulator_hash))
        if h is not None:
            return self.graph.vertices.get(h)
        produced = self.graph.successors(accumulator_hash, "state_produced")
        if not produced:
            return None
        best = max(produced, key=lambda fh: (produced[fh], self._prod_seq.get(fh, 0)))
        return self.graph.vertices.get(best)

    # ================================================================== planning
    def _invoke_root(self, value: Any) -> None:
        fact = value if value.__class__ is Fact else Fact(materialise(value))
        r = Runnable(_ROOT, fact, CausalContext(ROOT_HASH, fact))
        _ROOT.execute(r)
        self._apply_events(r.events)
        self._activate(ROOT_HASH, fact.hash)

    def _activate(self, parent: int, fact_hash: int) -> None:
        """Activate ``parent``'s flow children with a fact (events buffered when emitting)."""
        g = self.graph
        children = g.out["flow"].get(parent) if "flow" in g.out else None
        if not children:
            return
        v = g.vertices
        weight = self._depth.get(fact_hash, 0) + 1
        buf = self.uncommitted_events if self.emit_events else None
        for c in children:
            label = v[c].activation_label
            g.add_edge(fact_hash, c, label, weight)
            if buf is not None:
                buf.append(RunnableActivated(fact_hash, c, label))

    def plan(self, input: Any = NOTHING, *, run_context: dict | None = None) -> "Workflow":  # noqa: A002
        """Log ``input`` as a fact and activate Root's children (predicates are not evaluated).
        Without an input, evaluate one level of pending predicates."""
        if run_context:
            self.put_run_context(run_context)
        if input is NOTHING:
            for fact_hash, node_hash in [k for k, lbl in self.graph.pending.items() if lbl == "matchable"]:
                self.invoke(node_hash, fact_hash)
            return self
        self._invoke_root(input)
        return self

    def plan_eagerly(self, input: Any = NOTHING, *, run_context: dict | None = None) -> "Workflow":  # noqa: A002
        """Plan ``input`` and evaluate every reachable predicate now, leaving only execute-type
        work pending. Without an input: re-feed unconsumed produced facts through Root first."""
        if run_context:
            self.put_run_context(run_context)
        if input is NOTHING:
            g = self.graph
            leftovers = []
            for fh in list(self._prod_seq):
                if fh not in g.vertices:
                    continue
                if any(g.successors(fh, lbl) for lbl in ("runnable", "matchable", "ran")):
                    continue
                leftovers.append(g.vertices[fh])
            for f in leftovers:
                self._invoke_root(f)
        else:
            self._invoke_root(input)
        self._eval_predicates()
        return self

    def _eval_predicates(self) -> None:
        g = self.graph
        while True:
            batch = [k for k, lbl in g.pending.items() if lbl == "matchable"]
            if not batch:
                return
            for fact_hash, node_hash in batch:
                self.invoke(node_hash, fact_hash)

    def invoke(self, node: Any, fact: Any) -> "Workflow":
        """Prepare, execute and apply one activation in a single step."""
        node_hash = self._node_hash(node)
        fact_obj = fact if isinstance(fact, (Fact, FactRef)) else self.graph.vertices[fact]
        prepared = self.graph.vertices[node_hash].prepare(self, fact_obj)
        if isinstance(prepared, Skip):
            self._apply_skip(prepared)
            return self
        prepared.execute()
        return self.apply_runnable(prepared)

    # ================================================================== dispatch
    def is_runnable(self) -> bool:
        """Whether any activation (``runnable`` or ``matchable`` edge) is pending."""
        return bool(self.graph.pending)

    def next_runnables(self) -> list[tuple[Node, Any]]:
        """``(node, fact)`` for every pending activation."""
        v = self.graph.vertices
        return [(v[n], v[f]) for (f, n) in self.graph.pending]

    def matches(self) -> list[Node]:
        """Nodes at the end of ``matchable`` or ``satisfied`` edges."""
        v = self.graph.vertices
        out = {n for (f, n), lbl in self.graph.pending.items() if lbl == "matchable"}
        for _, n, _ in self.graph.edges("satisfied"):
            out.add(n)
        return [v[n] for n in out]

    def prepare_for_dispatch(self, *, skip: Any = None, limit: int | None = None,
                             policies: Sequence | None = None) -> tuple["Workflow", list[Runnable]]:
        """Prepare every pending activation; return ``(self, runnables)`` in dispatch order:
        by the ``priority`` of their policies (``policies``, default the stored ones), then in
        activation order.

        Skips (a fan-out over a non-collection) are applied here. At most one runnable per
        accumulator is returned, so accumulator updates are never concurrent. Nothing is
        marked as dispatched: callers track in-flight work themselves and may pass ``skip``
        (a container of ``(fact_hash, node_hash)`` activations already in flight, which also
        holds back further runnables of an in-flight accumulator) and ``limit`` (at most that
        many runnables, e.g. the free slots: the highest priorities)."""
        pols = self.scheduler_policies if policies is None else policies
        prioritised = any(isinstance(spec, dict) and spec.get("priority", "normal") != "normal"
                          for _m, spec in pols)
        if prioritised:
            _, prepared = self.prepare_for_dispatch(skip=skip, policies=())
            ordered = order_by_priority(prepared, pols)
            return self, ordered if limit is None else ordered[:limit]
        v = self.graph.vertices
        runnables: list[Runnable] = []
        serial: set[int] = set()
        if skip:
            for _fh, nh in skip:
                node = v.get(nh)
                if node is not None and node.serial:
                    serial.add(nh)
        for key in list(self.graph.pending):
            if limit is not None and len(runnables) >= limit:
                break
            if skip and key in skip:
                continue
            fact_hash, node_hash = key
            node = v.get(node_hash)
            fact = v.get(fact_hash)
            if node is None or fact is None:
                continue
            if node.serial:
                if node_hash in serial:
                    continue
                serial.add(node_hash)
            prepared = node.prepare(self, fact)
            if prepared.__class__ is Skip:
                self._apply_skip(prepared)
            else:
                runnables.append(prepared)
        return self, runnables

    def prepared_runnables(self) -> list[Runnable]:
        """Like :meth:`prepare_for_dispatch` but returns only the runnables."""
        return self.prepare_for_dispatch()[1]

    # ================================================================== applying
    def _apply_events(self, events: Iterable[Event]) -> None:
        fold = folds.FOLDS
        buffer = self.uncommitted_events if self.emit_events else None
        for e in events:
            fold[e.__class__](self, e)
            if buffer is not None:
                buffer.append(e)

    def _apply_skip(self, skip: Skip) -> None:
        self._apply_events(skip.events)
        self._apply_events([UpstreamFailed(skip.fact.hash, skip.node.hash, skip.node.activation_label, None)])

    def apply_runnable(self, r: Runnable) -> "Workflow":
        """Fold an executed runnable back into the workflow (sequential per workflow).

        Completed: fold its events, run deferred hook functions, derive Join/FanIn completion
        (or activate downstream nodes). Failed or skipped: consume the activation and cancel
        pending work downstream in the same scope. A runnable whose activation is no longer
        pending is ignored, which makes applying idempotent."""
        node = r.node
        key = (r.input_fact.hash, node.hash)
        if key not in self.graph.pending:
            if node.hash != ROOT_HASH:
                return self
        if r.failures:
            self._apply_events([FailureRecorded(self._normalised(f)) for f in r.failures])
        status = r.status
        if status == COMPLETED:
            events = r._events
            if events is None:  # described lazily: apply with the primitives directly
                node.fold_into(self, r)
                if self.emit_events:
                    self.uncommitted_events.extend(r.events)
            else:
                result = r.result
                if result.__class__ is Fact:  # the fold finds the vertex instead of rebuilding it
                    self.graph.vertices.setdefault(result.hash, result)
                self._apply_events(events)
            for fn in r.hook_apply_fns:
                fn(self)
            derived = node.coordinate(self, r) if node.coordinates else None
            if derived is None:
                for fh in node.activation_sources(r):
                    self._activate(node.hash, fh)
            elif derived:
                self._apply_events(derived)
        elif status == SKIPPED:
            self._apply_events(r.events)
            self._apply_events([UpstreamFailed(r.input_fact.hash, node.hash, node.activation_label, None)])
        elif status == FAILED:
            failed: list[Event] = []
            if not any(f.final for f in r.failures):  # run without the policy driver
                failed.append(self._failure_event(node, r.input_fact.hash, r.error, traceback=r.traceback))
            log.warning("runnable %r failed: %s", r.node_name,
                        failed[0].failure.summary() if failed else r.failures[-1].summary())  # type: ignore[attr-defined]
            failed.append(UpstreamFailed(r.input_fact.hash, node.hash, node.activation_label, r.error))
            self._apply_events(failed)
        return self

    # ================================================================== failures
    def _component_of(self, node_hash: int, node: Any) -> tuple[str | None, str | None]:
        """``(name, kind)`` of the component a node belongs to: the innermost component that
        registered it (a step in a map is itself, a rule's condition is the rule)."""
        owners = self.owners.get(node_hash)
        if owners:
            comp = self.components.get(owners[-1])
            return owners[-1], getattr(comp, "kind", None) or getattr(node, "kind", None)
        return getattr(node, "name", None), getattr(node, "kind", None)

    def _normalised(self, f: Failure) -> Failure:
        """``f`` named after the component that owns its node."""
        name, kind = self._component_of(f.node_hash, self.graph.vertices.get(f.node_hash))
        if name is None or (name == f.component and kind == f.component_kind):
            return f
        return dataclasses.replace(f, component=str(name), component_kind=kind or f.component_kind)

    def _failure_record(self, node: Any, node_hash: int, fact_hash: int, error: Any, *,
                        traceback: str | None = None, attempts: int = 1, action: str = "halt",
                        final: bool = True) -> Failure:
        name, kind = self._component_of(node_hash, node)
        if node is None:
            kind = kind or "node"
        return failure_for(node, fact_hash, error, attempts=attempts, final=final, action=action,
                           at=wall_ms(), traceback=traceback or None,
                           component=str(name) if name is not None else f"node-{node_hash & 0xFFFFFFFF:08x}",
                           component_kind=kind)

    def _failure_event(self, node: Any, fact_hash: int, error: Any, *, traceback: str | None = None) -> FailureRecorded:
        """A final, halting failure of ``node`` on ``fact_hash`` as an event (for failures that
        did not go through the policy driver: a reducer at apply time, a crashed task)."""
        return FailureRecorded(self._failure_record(node, getattr(node, "hash", 0), fact_hash, error,
                                                    traceback=traceback))

    def record_failure(self, failure: Failure) -> "Workflow":
        """Record a failure found outside a runnable's execution (for example a result the
        store cannot encode) as a :class:`~runic.events.FailureRecorded` event: appended to
        :attr:`failures` (named after its node's component) and buffered when emitting. It
        does not cancel any work: apply a failed runnable for that."""
        if not isinstance(failure, Failure):
            raise WorkflowDefinitionError(f"record_failure takes a runic.Failure, got {type(failure).__name__}")
        self._apply_events([FailureRecorded(self._normalised(failure))])
        return self

    def halted_failures(self, since: int = 0) -> list[Failure]:
        """The failures (from index ``since`` of :attr:`failures`) that halted their runnable:
        final, and neither skipped nor answered by a fallback. A workflow with any has failed."""
        return [f for f in self.failures[since:] if f.halted]

    def raise_for_failures(self, since: int = 0, workflow_id: Any = None) -> "Workflow":
        """Raise :class:`~runic.errors.WorkflowFailedError` (naming ``workflow_id``, default the
        workflow's name) when :meth:`halted_failures` ``(since)`` is not empty."""
        halted = self.halted_failures(since)
        if halted:
            raise WorkflowFailedError(self.name if workflow_id is None else workflow_id, halted)
        return self

    def append_runnable_events(self, events: Iterable[Event]) -> "Workflow":
        """Record lifecycle events (durable execution), preserving their order."""
        events = list(events)
        self.runnable_events.extend(events)
        if self.emit_events:
            self.uncommitted_events.extend(events)
        return self

    def pending_runnables(self) -> list[RunnableDispatched]:
        """Dispatched runnables with no completion or failure recorded (one per attempt)."""
        resolved = {e.runnable_id for e in self.runnable_events
                    if isinstance(e, (RunnableCompleted, RunnableFailed))}
        seen: dict[tuple[int, int], RunnableDispatched] = {}
        for e in self.runnable_events:
            if isinstance(e, RunnableDispatched) and e.runnable_id not in resolved:
                seen[(e.runnable_id, e.attempt)] = e
        return list(seen.values())

    # ================================================================== reacting
    def react(self, input: Any = NOTHING, *, run_context: dict | None = None,  # noqa: A002
              scheduler_policies: list | None = None, scheduler_policies_mode: str = "merge",
              parallel: bool = False, max_concurrency: int | None = None,
              deadline_at: int | None = None) -> "Workflow":
        """One generation: plan ``input`` (Root only), then prepare, execute and apply every
        pending runnable once. ``parallel=True`` executes them on threads (at most
        ``max_concurrency``) and applies results in a deterministic order."""
        policies = merge_policies(scheduler_policies, self.scheduler_policies, scheduler_policies_mode)
        if run_context:
            self.put_run_context(run_context)
        if input is not NOTHING:
            self._invoke_root(input)
        if self.graph.pending:
            self._cycle(policies, parallel, max_concurrency, deadline_at)
        return self

    def _cycle(self, policies: list, parallel: bool, max_concurrency: int | None, deadline_at: int | None) -> None:
        """Prepare, execute and apply every pending runnable once (one generation)."""
        _, runnables = self.prepare_for_dispatch(policies=policies)
        if parallel and len(runnables) > 1:
            with ThreadPoolExecutor(max_workers=max_concurrency or None) as pool:
                results = list(pool.map(lambda r: self._execute(r, policies, deadline_at), runnables))
            for r, lifecycle in results:
                if lifecycle:
                    self.append_runnable_events(lifecycle)
                self.apply_runnable(r)
        elif policies or deadline_at is not None:
            for r in runnables:
                r, lifecycle = self._execute(r, policies, deadline_at)
                if lifecycle:
                    self.append_runnable_events(lifecycle)
                self.apply_runnable(r)
        else:  # the plain in-memory path: no policy resolution per runnable
            apply = self.apply_runnable
            for r in runnables:
                try:
                    r.node.execute(r)
                except Exception as exc:  # a node bug: fail the runnable, never leave it pending
                    r = r.reset().fail(exc)
                apply(r)

    @staticmethod
    def _execute(r: Runnable, policies: list, deadline_at: int | None) -> tuple[Runnable, list]:
        """Execute one runnable, under its resolved policy when there are policies."""
        if not policies and deadline_at is None:
            try:
                return r.execute(), []
            except Exception as exc:  # a node bug: fail the runnable, never leave it pending
                return r.reset().fail(exc), []
        policy = resolve(r, policies)
        return execute_with_policy(r, policy, deadline_at=deadline_at,
                                   emit_events=policy.execution_mode == "durable")

    def react_until_satisfied(self, input: Any = NOTHING, *, run_context: dict | None = None,  # noqa: A002
                              scheduler_policies: list | None = None,
                              scheduler_policies_mode: str = "merge", parallel: bool = False,
                              max_concurrency: int | None = None, deadline_ms: int | None = None,
                              checkpoint: Callable[["Workflow"], Any] | None = None,
                              max_cycles: int | None = None) -> "Workflow":
        """React until nothing is pending. ``checkpoint(wf)`` runs after each cycle;
        ``deadline_ms`` bounds the whole run; ``max_cycles`` guards non-terminating graphs
        (raises :class:`RunicError` when exceeded)."""
        deadline_at = now_ms() + deadline_ms if deadline_ms is not None else None
        self.react(input, run_context=run_context, scheduler_policies=scheduler_policies,
                   scheduler_policies_mode=scheduler_policies_mode, parallel=parallel,
                   max_concurrency=max_concurrency, deadline_at=deadline_at)
        if checkpoint is not None and input is not NOTHING:
            checkpoint(self)
        policies = merge_policies(scheduler_policies, self.scheduler_policies, scheduler_policies_mode)
        pending = self.graph.pending
        cycle = self._cycle
        cycles = 0
        while pending:
            cycles += 1
            if max_cycles is not None and cycles > max_cycles:
                raise RunicError(f"workflow {self.name!r} still runnable after {max_cycles} cycles")
            cycle(policies, parallel, max_concurrency, deadline_at)
            if checkpoint is not None:
                checkpoint(self)
        return self

    # ================================================================== results
    def _owned_nodes(self, name: Any) -> list[int]:
        if name is None:
            return []
        if isinstance(name, str):
            if name not in self.components:
                raise ComponentNotFoundError(name, self.name)
            return [h for _, h in self.parts.get(name, ())]
        return self._owned_nodes(getattr(name, "name", None))

    def productions(self, component: Any = None) -> list[Fact | FactRef]:
        """Produced facts (inputs excluded), oldest first; restricted to a component's nodes."""
        g = self.graph
        if component is None:
            hashes = list(self._prod_seq)
        else:
            hashes = []
            for node_hash in self._owned_nodes(component):
                for label in PRODUCTION_LABELS:
                    hashes.extend(g.successors(node_hash, label))
            seq = self._prod_seq
            hashes.sort(key=lambda h: seq.get(h, 0))
        v = g.vertices
        return [v[h] for h in hashes if h in v]

    def raw_productions(self, component: Any = None) -> list:
        """The values of :meth:`productions` (fact references without values are skipped)."""
        return [f.value for f in self.productions(component) if f.__class__ is Fact]

    def productions_by_component(self) -> dict[str, list]:
        return {name: self.productions(name) for name in self.components}

    def raw_productions_by_component(self) -> dict[str, list]:
        return {name: self.raw_productions(name) for name in self.components}

    def results(self, components: Sequence[str] | None = None, *, facts: bool = False,
                all: bool = False) -> dict:  # noqa: A002
        """``{name: latest value}`` (``all=True``: every value; ``facts=True``: Facts).

        ``components=None`` uses the workflow's output ports when it has them (``{port:
        value}``, cardinality ``many`` gives lists), else every component that produced
        something. Unknown names map to ``None``."""
        if components is None or (not components and self.output_ports):
            if self.output_ports:
                out = {}
                for port, spec in self.output_ports.items():
                    spec = spec if isinstance(spec, dict) else {"from": spec}
                    many = all or spec.get("cardinality", "one") == "many"
                    out[port] = self._result_of(spec.get("from", port), facts, many)
                return out
            components = [n for n in self.components if self._owned_has_production(n)]
        return {name: self._result_of(name, facts, all) for name in components}

    def _owned_has_production(self, name: str) -> bool:
        g = self.graph
        return any(g.successors(h, lbl) for h in self._owned_nodes(name) for lbl in PRODUCTION_LABELS)

    def _result_of(self, name: str, facts: bool, many: bool) -> Any:
        if name not in self.components:
            return [] if many else None
        prods = self.productions(name)
        if not facts:
            prods = [f.value for f in prods if f.__class__ is Fact]
        if many:
            return prods
        return prods[-1] if prods else None

    def facts(self) -> list[Fact]:
        """Every Fact vertex (inputs included, value-less references excluded)."""
        return [v for v in self.graph.vertices.values() if v.__class__ is Fact]

    def purge_memory(self) -> "Workflow":
        """Delete every fact (and its edges), keeping the structure."""
        for h in [h for h, v in self.graph.vertices.items() if isinstance(v, (Fact, FactRef))]:
            self.graph.delete_vertex(h)
        self.mapped = {}
        self._depth.clear()
        self._scope.clear()
        self._prod_seq.clear()
        return self

    # ================================================================== event sourcing
    def enable_event_emission(self) -> "Workflow":
        """Buffer every runtime event folded from now on in ``uncommitted_events``."""
        self.emit_events = True
        return self

    def disable_event_emission(self) -> "Workflow":
        self.emit_events = False
        return self

    def annotate(self, key: str, value: Any) -> "Workflow":
        """Record ``annotations[key] = value`` as a :class:`~runic.events.WorkflowAnnotated`
        event (buffered when emitting, so it reaches the store with the rest of the stream)."""
        from .events import WorkflowAnnotated

        self._apply_events([WorkflowAnnotated(key, value)])
        return self

    def drain_events(self) -> list[Event]:
        """Take the buffered runtime events (chronological) and clear the buffer."""
        events, self.uncommitted_events = self.uncommitted_events, []
        return events

    def build_log(self) -> list[Event]:
        """Build events, oldest first."""
        from .replay import build_log

        return build_log(self)

    def event_log(self) -> list[Event]:
        """Build log + a snapshot of memory + lifecycle events: enough to rebuild the state."""
        from .replay import event_log

        return event_log(self)

    def apply_event(self, event: Event, functions: Any = None) -> "Workflow":
        """Fold one event (build, runtime, snapshot or lifecycle)."""
        from .replay import apply_any

        apply_any(self, event, functions)
        return self

    @classmethod
    def from_log(cls, events: Iterable[Event], functions: Any = None) -> "Workflow":
        """Rebuild a workflow from a log (``build_log``, ``event_log`` or a stream)."""
        from .replay import from_events

        return from_events(events, functions=functions)

    @classmethod
    def from_events(cls, events: Iterable[Event], functions: Any = None, *, base: "Workflow | None" = None,
                    fact_mode: str = "full", stub_missing: bool = False) -> "Workflow":
        """Rebuild by folding events in order. With ``base``, build events are skipped and the
        base's structure is used. ``fact_mode="ref"`` turns stripped values into FactRefs.
        ``stub_missing=True`` (inspection only) stands in for functions that cannot be restored."""
        from .replay import from_events

        return from_events(events, functions=functions, base=base, fact_mode=fact_mode, stub_missing=stub_missing)

    # ================================================================== export
    def to_mermaid(self) -> str:
        """A Mermaid flowchart of the workflow, marking what ran and what it produced."""
        from .export import to_mermaid

        return to_mermaid(self)

    def to_dot(self) -> str:
        """A Graphviz DOT graph of the workflow, marking what ran and what it produced."""
        from .export import to_dot

        return to_dot(self)


class RunContextError(RunicError, ValueError):
    """Required run-context keys are missing (``missing``: component -> keys)."""

    def __init__(self, missing: dict[str, list[str]]) -> None:
        self.missing = missing
        parts = "; ".join(f"{c}: {', '.join(ks)}" for c, ks in missing.items())
        super().__init__(f"missing required run context keys ({parts}); pass them with "
                         "run_context={component: {key: value}} or under '_global'")


def _matcher(matcher: Any) -> Any:
    """A component given as a policy matcher stands for its name."""
    from .components import Component

    return matcher.name if isinstance(matcher, Component) else matcher


def _validated(policies: Any) -> list:
    """Validated ``(matcher, dict)`` pairs (components given as matchers become their names)."""
    if policies is None:
        return []
    if isinstance(policies, (list, tuple)):
        policies = [(_matcher(e[0]), e[1]) if isinstance(e, (tuple, list)) and len(e) == 2 else e
                    for e in policies]
    return validate_policies(policies)


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
