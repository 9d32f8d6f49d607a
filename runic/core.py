"""The :class:`Workflow`: the facade over structure, memory, evaluation, logs and export.

A workflow is a *mutable runtime object* (unlike Runic's immutable value): every method that
changes it returns the workflow itself so calls chain, and :meth:`Workflow.copy` gives an
independent copy. Only its owner (a caller, or one Worker) mutates it.

The class is assembled from layers, each in its own module and importing only the layers below
it (the import rule is written down in ``docs/architecture.md`` and guarded by
``tests/test_architecture.py``):

* :class:`runic.memory.Memory` — facts, edges and the fold indexes;
* :class:`runic.structure.Structure` — components, nodes, hooks, run context, and the seams
  nodes and components use;
* :class:`runic.evaluation.Evaluation` — planning, dispatch, apply, ``react``;
* this module — building from components (:meth:`Workflow.add`, :meth:`Workflow.merge`, the
  :func:`workflow` builder), scheduler policies, results, and the event-sourcing and export
  entry points, which delegate to :mod:`runic.replay` and :mod:`runic.export`.

Decisions recorded here: one build log in chronological order (a join is one ``ComponentAdded``
with the full parent list; ``from_events`` folds ``ComponentRemoved``); scheduler policies are
validated when they are added or passed (an unknown key fails at once, not at run time), and
:meth:`Workflow.check_policy_targets` refuses policies for names that are not in the workflow.
"""

from __future__ import annotations

import copy as _copy
import difflib
from typing import Any, Callable, Iterable, Mapping, Self, Sequence

from . import export, replay
from .components import Component, Rule, add_tree, step
from .context import REQUIRED, RunContextError
from .errors import InvalidPolicyError, WorkflowDefinitionError
from .events import Event, WorkflowAnnotated
from .evaluation import Evaluation
from .facts import Fact, FactRef
from .graph import PRODUCTION_LABELS
from .nodes import Node
from .policy import validate_entry, validate_policies

__all__ = ["Workflow", "REQUIRED", "RunContextError", "workflow", "to_workflow"]


class Workflow(Evaluation):
    """A dataflow workflow: components wired in a graph, plus the facts they produced."""

    def __init__(self, name: Any = None, *, scheduler_policies: Sequence[Any] | None = None,
                 output_ports: dict[str, Any] | None = None) -> None:
        super().__init__(name)
        self.scheduler_policies = _validated(scheduler_policies)
        self.output_ports = dict(output_ports) if output_ports else None

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, components={list(self.components)})"

    # ================================================================== building
    def add(self, component: Any, to: Any = None, *, log: bool = True) -> Self:
        """Add a component under ``to`` (``None`` = Root, a component name, ``(name, kind)``,
        a node hash, a component, or a list of those = a join). Also accepts a plain function
        (becomes a step), a ``(parent, [children])`` pipeline tuple and a list of components."""
        add_tree(self, component, to, log)
        return self

    def merge(self, other: Any) -> Self:
        """Connect ``other`` (a workflow, component, function or list of them) into this
        workflow at Root: structure, memory, registrations, hooks and run context (``other``
        wins on conflicts); the build logs are concatenated and this workflow's name is kept."""
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
            self.register(name, other.components.get(name), parts)
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
        self._merge_memory_from(other)
        return self

    # ================================================================== policies
    def add_scheduler_policy(self, matcher: Any, policy: dict[Any, Any]) -> Self:
        """Prepend a policy (higher priority than those already stored). ``matcher`` may also
        be a component (it matches by the component's name). Raises
        :class:`~runic.errors.InvalidPolicyError` for an unknown key or a bad value."""
        self.scheduler_policies.insert(0, validate_entry(_matcher(matcher), policy))
        return self

    def append_scheduler_policy(self, matcher: Any, policy: dict[Any, Any]) -> Self:
        """Append a policy (lower priority than those already stored); validated like
        :meth:`add_scheduler_policy`."""
        self.scheduler_policies.append(validate_entry(_matcher(matcher), policy))
        return self

    def set_scheduler_policies(self, policies: Sequence[Any]) -> Self:
        """Replace the policies by ``[(matcher, policy), ...]`` (each validated)."""
        self.scheduler_policies = _validated(policies)
        return self

    def policy_target_names(self) -> list[str]:
        """The names a string policy matcher can select: every named node (steps, a rule's
        reaction and ``"<rule>.condition"``, accumulators, maps, reduces) and component."""
        names = {v.name for v in self.graph.vertices.values() if isinstance(v, Node) and v.name is not None}
        names.update(self.components)
        return sorted(str(n) for n in names)

    def check_policy_targets(self, policies: Sequence[Any] | None = None) -> Self:
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

    def productions(self, component: Any = None) -> list[Fact | FactRef]:
        """Produced facts (inputs excluded), oldest first; restricted to a component's nodes."""
        g = self.graph
        if component is None:
            hashes = self.production_order()
        else:
            hashes = []
            for node_hash in self.owned_nodes(component):
                for label in PRODUCTION_LABELS:
                    hashes.extend(g.successors(node_hash, label))
            hashes.sort(key=self.production_rank)
        v = g.vertices
        return [v[h] for h in hashes if h in v]

    def raw_productions(self, component: Any = None) -> list[Any]:
        """The values of :meth:`productions` (fact references without values are skipped)."""
        return [f.value for f in self.productions(component) if f.__class__ is Fact]

    def productions_by_component(self) -> dict[str, list[Any]]:
        return {name: self.productions(name) for name in self.components}

    def raw_productions_by_component(self) -> dict[str, list[Any]]:
        return {name: self.raw_productions(name) for name in self.components}

    def results(self, components: Sequence[str] | None = None, *, facts: bool = False,
                all: bool = False) -> dict[Any, Any]:  # noqa: A002
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
        return any(g.successors(h, lbl) for h in self.owned_nodes(name) for lbl in PRODUCTION_LABELS)

    def _result_of(self, name: str, facts: bool, many: bool) -> Any:
        if name not in self.components:
            return [] if many else None
        prods = self.productions(name)
        if not facts:
            prods = [f.value for f in prods if f.__class__ is Fact]
        if many:
            return prods
        return prods[-1] if prods else None

    # ================================================================== event sourcing
    def enable_event_emission(self) -> Self:
        """Buffer every runtime event folded from now on in ``uncommitted_events``."""
        self.emit_events = True
        return self

    def disable_event_emission(self) -> Self:
        self.emit_events = False
        return self

    def annotate(self, key: str, value: Any) -> Self:
        """Record ``annotations[key] = value`` as a :class:`~runic.events.WorkflowAnnotated`
        event (buffered when emitting, so it reaches the store with the rest of the stream)."""
        self._apply_events([WorkflowAnnotated(key, value)])
        return self

    def drain_events(self) -> list[Event]:
        """Take the buffered runtime events (chronological) and clear the buffer."""
        events, self.uncommitted_events = self.uncommitted_events, []
        return events

    def build_log(self) -> list[Event]:
        """Build events, oldest first."""
        return replay.build_log(self)

    def event_log(self) -> list[Event]:
        """Build log + a snapshot of memory + lifecycle events: enough to rebuild the state."""
        return replay.event_log(self)

    def apply_event(self, event: Event, functions: Any = None) -> Self:
        """Fold one event (build, runtime, snapshot or lifecycle)."""
        replay.apply_any(self, event, functions)
        return self

    @classmethod
    def from_log(cls, events: Iterable[Event], functions: Any = None) -> Self:
        """Rebuild a workflow from a log (``build_log``, ``event_log`` or a stream)."""
        return replay.from_events(events, functions=functions, new=cls)

    @classmethod
    def from_events(cls, events: Iterable[Event], functions: Any = None, *, base: "Workflow | None" = None,
                    fact_mode: str = "full", stub_missing: bool = False) -> "Workflow":
        """Rebuild by folding events in order. With ``base``, build events are skipped and the
        base's structure is used. ``fact_mode="ref"`` turns stripped values into FactRefs.
        ``stub_missing=True`` (inspection only) stands in for functions that cannot be restored."""
        return replay.from_events(events, functions=functions, base=base, fact_mode=fact_mode,
                                  stub_missing=stub_missing, new=cls)

    # ================================================================== export
    def to_mermaid(self) -> str:
        """A Mermaid flowchart of the workflow, marking what ran and what it produced."""
        return export.to_mermaid(self)

    def to_dot(self) -> str:
        """A Graphviz DOT graph of the workflow, marking what ran and what it produced."""
        return export.to_dot(self)


def _matcher(matcher: Any) -> Any:
    """A component given as a policy matcher stands for its name."""
    return matcher.name if isinstance(matcher, Component) else matcher


def _validated(policies: Any) -> list[Any]:
    """Validated ``(matcher, dict)`` pairs (components given as matchers become their names)."""
    if policies is None:
        return []
    if isinstance(policies, (list, tuple)):
        policies = [(_matcher(e[0]), e[1]) if isinstance(e, (tuple, list)) and len(e) == 2 else e
                    for e in policies]
    return validate_policies(policies)


def to_workflow(value: Any) -> Workflow:
    """Convert a value to a workflow (for ``merge``): workflows pass through, components and
    functions become one-component workflows, other values a step returning that constant."""
    if isinstance(value, Workflow):
        return value
    wf = Workflow()
    if isinstance(value, (Component, tuple)) or callable(value):
        wf.add(value)
        return wf
    wf.add(step(_constant(value)))
    return wf


def _constant(value: Any) -> Callable[[], Any]:
    def constant() -> Any:
        return value

    return constant


def workflow(name: Any = None, steps: Iterable[Any] | None = None, rules: Iterable[Any] | None = None, *,
             scheduler_policies: list[Any] | None = None, output_ports: dict[Any, Any] | None = None,
             before_hooks: Mapping[Any, Any] | None = None, after_hooks: Mapping[Any, Any] | None = None) -> Workflow:
    """Build a workflow from ``steps`` (components, ``(parent, [children])`` pipelines,
    ``([parents], [children])`` joins) and ``rules`` (added at Root), then hooks."""
    wf = Workflow(name, scheduler_policies=scheduler_policies, output_ports=output_ports)
    for entry in steps or ():
        add_tree(wf, entry, None, True)
    for r in rules or ():
        if not isinstance(r, Rule):
            raise WorkflowDefinitionError(f"rules= takes runic.rule(...) values, got {type(r).__name__}")
        wf.add(r)
    for target, hooks in (before_hooks or {}).items():
        for h in (hooks if isinstance(hooks, (list, tuple)) else [hooks]):
            wf.attach_before_hook(target, h)
    for target, hooks in (after_hooks or {}).items():
        for h in (hooks if isinstance(hooks, (list, tuple)) else [hooks]):
            wf.attach_after_hook(target, h)
    return wf
