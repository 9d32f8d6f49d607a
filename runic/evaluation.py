"""Evaluation: Runic's three phases over a workflow's structure and memory.

:class:`Evaluation` extends :class:`~runic.structure.Structure` with planning (feeding inputs
through Root), dispatch (:meth:`~Evaluation.prepare_for_dispatch` reads the workflow into
:class:`~runic.runnable.Runnable` values; executing a runnable needs no workflow), applying
(:meth:`~Evaluation.apply_runnable` folds an outcome back) and the in-process drivers
:meth:`~Evaluation.react` and :meth:`~Evaluation.react_until_satisfied` (in the caller's
thread, or on threads with ``parallel=True``: only ``execute`` runs on those threads; prepare
and apply always run in the caller's thread).

Decisions where Runic's behaviour is accidental, taken here:

* ``apply_runnable`` is idempotent: applying a runnable whose activation is no longer pending
  (already applied, or cancelled by an upstream failure) changes nothing (Runic draws the
  edges twice).
* Failures are recorded, never replayed as work: every failed attempt is a
  :class:`~runic.events.FailureRecorded` event (``Workflow.failures``, append-only), and a
  runnable that failed for good, or was skipped by ``on_failure="skip"``, is an
  :class:`~runic.events.UpstreamFailed` event, so replay reproduces the failure instead of
  running the step again; the downstream work it cancels is limited to the failed fact's scope
  (its input, or its map item), where Runic cancels pending work of every input.
* Dispatch visits pending activations in the order they were activated.
* :meth:`~Evaluation.react_until_satisfied` takes a fast path when nothing observes its
  generations (no scheduler policy, no deadline, not parallel, no ``checkpoint``, no
  ``max_cycles``): a generation made only of *plain* steps (no hooks or run context in the
  workflow, one positional parameter, no declared context keys, not on a map path, the input
  a Fact) is run one activation at a time, in activation order: prepared, executed and applied
  inline, with the fold primitives written out and no Runnable built; any other generation
  runs the classic way (:meth:`~Evaluation._cycle`). Steps run in the same order, and their
  facts, edges, production order and emitted events are the ones the generations give (the
  property test in ``tests/core/test_fast_path.py`` compares both paths on random
  workflows); the one difference is that a step whose activation an earlier failure of its
  generation cancelled is no longer executed and then ignored. :data:`FIFO_FAST_PATH`
  switches it off (tests and the benchmark compare both).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Self, Sequence

from . import folds
from .coroutines import materialise
from .driver import execute_with_policy, now_ms
from .errors import RunicError, WorkflowDefinitionError, WorkflowFailedError
from .events import (
    Event,
    FailureRecorded,
    RunnableActivated,
    RunnableCompleted,
    RunnableDispatched,
    RunnableFailed,
    UpstreamFailed,
)
from .facts import NOTHING, Fact, FactRef
from .failures import Failure
from .coroutines import settle
from .events import ActivationConsumed, FactProduced
from .nodes import ONE_ARG, PLAIN_RESULTS, ROOT_HASH, Node, Skip
from .nodes import Step as StepNode
from .policy import merge_policies, order_by_priority, resolve
from .runnable import COMPLETED, FAILED, SKIPPED, CausalContext, Runnable
from .structure import ROOT, Structure

__all__ = ["Evaluation", "FIFO_FAST_PATH"]

log = logging.getLogger("runic.core")

FIFO_FAST_PATH = True
"""Whether :meth:`Evaluation.react_until_satisfied` may take the FIFO fast path (see the
module docs); switched off only to compare it with the three-phase generations."""

_FAST_CLASSES: dict[type, bool] = {}


def _is_plain_step_class(cls: type) -> bool:
    """Whether nodes of ``cls`` behave exactly like :class:`runic.nodes.Step` (a subclass that
    overrides how a step prepares, executes or folds takes the classic path)."""
    known = _FAST_CLASSES.get(cls)
    if known is None:
        known = _FAST_CLASSES[cls] = bool(
            issubclass(cls, StepNode) and cls.prepare is StepNode.prepare
            and cls.execute is StepNode.execute and cls.fold_into is StepNode.fold_into
            and cls.activation_sources is StepNode.activation_sources and not cls.coordinates)
    return known


class Evaluation(Structure):
    """Planning, dispatch, apply and the in-process drivers (see the module docs)."""

    def __init__(self, name: Any = None) -> None:
        super().__init__(name)
        #: lifecycle events of durable execution (dispatched/completed/failed), oldest first
        self.runnable_events: list[Event] = []

    def copy(self) -> Self:
        """An independent copy (functions and fact values are shared, everything else copied)."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        self._copy_structure_into(new)
        new.runnable_events = list(self.runnable_events)
        return new

    # ================================================================== planning
    def _invoke_root(self, value: Any) -> None:
        fact = value if value.__class__ is Fact else Fact(materialise(value))
        r = Runnable(ROOT, fact, CausalContext(ROOT_HASH, fact))
        ROOT.execute(r)
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

    def plan(self, input: Any = NOTHING, *, run_context: dict[Any, Any] | None = None) -> Self:  # noqa: A002
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

    def plan_eagerly(self, input: Any = NOTHING, *, run_context: dict[Any, Any] | None = None) -> Self:  # noqa: A002
        """Plan ``input`` and evaluate every reachable predicate now, leaving only execute-type
        work pending. Without an input: re-feed unconsumed produced facts through Root first."""
        if run_context:
            self.put_run_context(run_context)
        if input is NOTHING:
            g = self.graph
            leftovers = []
            for fh in self.production_order():
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

    def invoke(self, node: Any, fact: Any) -> Self:
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
                             policies: Sequence[Any] | None = None) -> tuple[Self, list[Runnable]]:
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
        g = self.graph
        g.compact_pending()
        pending = g.pending
        v = g.vertices
        runnables: list[Runnable] = []
        serial: set[int] = set()
        if skip:
            for _fh, nh in skip:
                node = v.get(nh)
                if node is not None and node.serial:
                    serial.add(nh)
        # Walk ``pending`` lazily from its head (a Worker takes one or two runnables from
        # thousands): no copy of the keys. A Skip changes ``pending``, so the walk stops there,
        # applies it and starts again from the head, passing over the keys it has prepared.
        visited: set[tuple[int, int]] | None = None
        while True:
            found_skip: Skip | None = None
            for key in pending:
                if limit is not None and len(runnables) >= limit:
                    break
                if (skip and key in skip) or (visited is not None and key in visited):
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
                    found_skip = prepared
                    break
                runnables.append(prepared)
            if found_skip is None:
                return self, runnables
            self._apply_skip(found_skip)
            visited = {(r.input_fact.hash, r.node.hash) for r in runnables}

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

    def apply_runnable(self, r: Runnable) -> Self:
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
            self._apply_events([FailureRecorded(self.normalised(f)) for f in r.failures])
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
                failed.append(self.failure_event(node, r.input_fact.hash, r.error, traceback=r.traceback))
            log.warning("runnable %r failed: %s", r.node_name,
                        failed[0].failure.summary() if failed else r.failures[-1].summary())  # type: ignore[attr-defined]
            failed.append(UpstreamFailed(r.input_fact.hash, node.hash, node.activation_label, r.error))
            self._apply_events(failed)
        return self

    def record_failure(self, failure: Failure) -> Self:
        """Record a failure found outside a runnable's execution (for example a result the
        store cannot encode) as a :class:`~runic.events.FailureRecorded` event: appended to
        :attr:`failures` (named after its node's component) and buffered when emitting. It
        does not cancel any work: apply a failed runnable for that."""
        if not isinstance(failure, Failure):
            raise WorkflowDefinitionError(f"record_failure takes a runic.Failure, got {type(failure).__name__}")
        self._apply_events([FailureRecorded(self.normalised(failure))])
        return self

    def halted_failures(self, since: int = 0) -> list[Failure]:
        """The failures (from index ``since`` of :attr:`failures`) that halted their runnable:
        final, and neither skipped nor answered by a fallback. A workflow with any has failed."""
        return [f for f in self.failures[since:] if f.halted]

    def raise_for_failures(self, since: int = 0, workflow_id: Any = None) -> Self:
        """Raise :class:`~runic.errors.WorkflowFailedError` (naming ``workflow_id``, default the
        workflow's name) when :meth:`halted_failures` ``(since)`` is not empty."""
        halted = self.halted_failures(since)
        if halted:
            raise WorkflowFailedError(self.name if workflow_id is None else workflow_id, halted)
        return self

    def append_runnable_events(self, events: Iterable[Event]) -> Self:
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
    def react(self, input: Any = NOTHING, *, run_context: dict[Any, Any] | None = None,  # noqa: A002
              scheduler_policies: list[Any] | None = None, scheduler_policies_mode: str = "merge",
              parallel: bool = False, max_concurrency: int | None = None,
              deadline_at: int | None = None) -> Self:
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

    def _cycle(self, policies: list[Any], parallel: bool, max_concurrency: int | None, deadline_at: int | None) -> None:
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
    def _execute(r: Runnable, policies: list[Any], deadline_at: int | None) -> tuple[Runnable, list[Any]]:
        """Execute one runnable, under its resolved policy when there are policies."""
        if not policies and deadline_at is None:
            try:
                return r.execute(), []
            except Exception as exc:  # a node bug: fail the runnable, never leave it pending
                return r.reset().fail(exc), []
        policy = resolve(r, policies)
        return execute_with_policy(r, policy, deadline_at=deadline_at,
                                   emit_events=policy.execution_mode == "durable")

    def react_until_satisfied(self, input: Any = NOTHING, *, run_context: dict[Any, Any] | None = None,  # noqa: A002
                              scheduler_policies: list[Any] | None = None,
                              scheduler_policies_mode: str = "merge", parallel: bool = False,
                              max_concurrency: int | None = None, deadline_ms: int | None = None,
                              checkpoint: Callable[[Self], Any] | None = None,
                              max_cycles: int | None = None) -> Self:
        """React until nothing is pending. ``checkpoint(wf)`` runs after each cycle;
        ``deadline_ms`` bounds the whole run; ``max_cycles`` guards non-terminating graphs
        (raises :class:`RunicError` when exceeded)."""
        if (FIFO_FAST_PATH and deadline_ms is None and not parallel and checkpoint is None
                and max_cycles is None):
            policies = merge_policies(scheduler_policies, self.scheduler_policies, scheduler_policies_mode)
            if not policies:
                if run_context:
                    self.put_run_context(run_context)
                if input is not NOTHING:
                    self._invoke_root(input)
                self._run_fifo()
                return self
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

    def _run_fifo(self) -> None:
        """Run pending work to completion (the fast path; see the module docs). Runs in the
        caller's thread.

        Generation by generation, like :meth:`_cycle`: when every activation pending at the
        start of a generation is a plain step, each is prepared, executed and applied in turn,
        in activation order (a plain step reads nothing an earlier apply of its generation
        changes); otherwise the generation runs the classic way. The graph updates of a plain
        step (``Memory.record_fact``, ``record_production``, the ``runnable -> ran`` relabel,
        the children's activations) are written out here on the graph's dictionaries, since
        the calls cost as much as the updates: they must stay the updates those methods make
        (the property test in ``tests/core/test_fast_path.py`` compares both paths)."""
        g = self.graph
        pending = g.pending
        v = g.vertices
        depth = self._depth
        scope = self._scope
        prod = self._prod_seq
        mapped_paths = self.mapped_paths
        plain_results = PLAIN_RESULTS
        plain_classes = _FAST_CLASSES
        is_plain = _is_plain_step_class
        for label in ("produced", "ran", "runnable", "flow"):
            if label not in g.out:
                g.out[label] = {}
                g.inn[label] = {}
        out_prod, inn_prod = g.out["produced"], g.inn["produced"]
        out_ran, inn_ran = g.out["ran"], g.inn["ran"]
        out_run, inn_run = g.out["runnable"], g.inn["runnable"]
        out_flow = g.out["flow"]
        props_map = g.props
        workflow_plain = not (self.before_hooks or self.after_hooks or self.run_context)
        emit = self.emit_events
        seq = self._seq  # kept in locals, written back before anything else reads them
        deleted = g.pending_deleted
        # the next generation when it is known to be all plain steps (collected while the
        # previous one activated them), else None: read it from the pending index
        known: list[tuple[int, int, Any, Any]] | None = None
        while pending:
            if deleted > 32:
                g.pending_deleted = deleted
                g.compact_pending()
                deleted = g.pending_deleted
            if known is not None:
                batch, known = known, None
            else:
                batch = self._plain_generation(workflow_plain)
            if not batch:
                self._seq, g.pending_deleted = seq, deleted
                self._cycle([], False, None, None)
                seq, deleted, emit = self._seq, g.pending_deleted, self.emit_events
                # a generation may run hooks' deferred functions, which can change the workflow
                workflow_plain = not (self.before_hooks or self.after_hooks or self.run_context)
                for label in ("produced", "ran", "runnable", "flow"):
                    if label not in g.out:
                        g.out[label] = {}
                        g.inn[label] = {}
                continue
            failed = False  # only a failure's apply can cancel other activations of the batch
            following: list[tuple[int, int, Any, Any]] | None = []  # None: not all plain
            for fh, nh, node, inp in batch:
                if failed and (fh, nh) not in pending:
                    continue  # cancelled by a failure earlier in this generation
                try:
                    value = node.work(inp.value)
                    if value.__class__ not in plain_results:
                        value = settle(value)
                except Exception as exc:  # the step failed: the classic apply records it
                    r = Runnable(node, inp, CausalContext(nh, inp, depth.get(fh, 0)))
                    r.fail(exc)
                    failed = True
                    self._seq, g.pending_deleted = seq, deleted
                    self.apply_runnable(r)
                    seq, deleted, emit = self._seq, g.pending_deleted, self.emit_events
                    continue
                d = depth.get(fh, 0) + 1
                ancestry = (nh, fh)
                fact = Fact(value, ancestry)
                h = fact.hash
                # Memory.record_fact: a step's fact keeps its input's scope
                if h in depth:
                    dh = depth[h]
                else:
                    v.setdefault(h, fact)
                    depth[h] = dh = d
                    scope[h] = scope.get(fh, h)
                # Memory.record_production: nh -[produced]-> h
                tos = out_prod.get(nh)
                if tos is None:
                    out_prod[nh] = {h: d}
                else:
                    tos[h] = d
                froms = inn_prod.get(h)
                if froms is None:
                    inn_prod[h] = {nh: d}
                else:
                    froms[nh] = d
                seq += 1
                prod[h] = seq
                # Graph.relabel(fh, nh, "runnable", "ran")
                tos = out_run[fh]
                w = tos.pop(nh)
                if not tos:
                    del out_run[fh]
                froms = inn_run[nh]
                del froms[fh]
                if not froms:
                    del inn_run[nh]
                del pending[(fh, nh)]
                deleted += 1
                tos = out_ran.get(fh)
                if tos is None:
                    out_ran[fh] = {nh: w}
                else:
                    tos[nh] = w
                froms = inn_ran.get(nh)
                if froms is None:
                    inn_ran[nh] = {fh: w}
                else:
                    froms[fh] = w
                if props_map:
                    props = props_map.pop((fh, nh, "runnable"), None)
                    if props is not None:
                        props_map[(fh, nh, "ran")] = props
                if emit:
                    self.uncommitted_events.extend((FactProduced(h, value, ancestry, "produced", d),
                                                    ActivationConsumed(fh, nh, "runnable")))
                # Evaluation._activate(nh, h)
                children = out_flow.get(nh)
                if children:
                    weight = dh + 1
                    for c in children:
                        clabel = v[c].activation_label
                        if clabel == "runnable":
                            tos = out_run.get(h)
                            if tos is None:
                                out_run[h] = {c: weight}
                            else:
                                tos[c] = weight
                            froms = inn_run.get(c)
                            if froms is None:
                                inn_run[c] = {h: weight}
                            else:
                                froms[h] = weight
                            key = (h, c)
                            if key not in pending:
                                pending[key] = "runnable"
                                if following is not None:
                                    child = v[c]
                                    ccls = child.__class__
                                    plain = plain_classes.get(ccls)
                                    if plain is None:
                                        plain = is_plain(ccls)
                                    if (plain and child.shape is ONE_ARG and not child.context_keys
                                            and c not in mapped_paths and v[h].__class__ is Fact):
                                        following.append((h, c, child, v[h]))
                                    else:
                                        following = None
                        else:
                            g.add_edge(h, c, clabel, weight)
                            following = None
                        if emit:
                            self.uncommitted_events.append(RunnableActivated(h, c, clabel))
            if not failed and following is not None and len(following) == len(pending):
                known = following  # exactly what is pending: the next generation, all plain
        self._seq, g.pending_deleted = seq, deleted

    def _plain_generation(self, workflow_plain: bool) -> list[tuple[int, int, Any, Any]]:
        """``[(fact_hash, node_hash, node, fact)]`` of every pending activation when all are
        plain steps (see the module docs), in activation order; ``[]`` otherwise."""
        v = self.graph.vertices
        mapped_paths = self.mapped_paths
        batch: list[tuple[int, int, Any, Any]] = []
        if not workflow_plain:
            return batch
        for (fh, nh), label in self.graph.pending.items():
            node: Any = v.get(nh)
            inp = v.get(fh)
            cls = node.__class__
            plain = _FAST_CLASSES.get(cls)
            if plain is None:
                plain = _is_plain_step_class(cls)
            if not (plain and label == "runnable" and node.shape is ONE_ARG and inp.__class__ is Fact
                    and not node.context_keys and nh not in mapped_paths):
                return []
            batch.append((fh, nh, node, inp))
        return batch
