"""A workflow's memory: the graph of facts and edges, and the indexes folds keep over it.

:class:`Memory` is the lowest layer of a :class:`runic.Workflow` (which extends it). It holds
what evaluation *produced* — fact vertices and their edges in :attr:`Memory.graph`, the
map/reduce/accumulator bookkeeping in :attr:`Memory.mapped`, the failure records, the
annotations — and three derived indexes that make the hot path O(1):

* ``depth`` of a fact — its causal depth (0 for inputs), taken from the event's weight;
* ``scope`` of a fact — the input it descends from, or the map item it descends from (a fact
  emitted by a fan-out starts a scope). Joins pair facts of one scope and failures only cancel
  pending work of their own scope;
* production order — so "latest" means most recently produced.

Every change to memory goes through the primitives here (:meth:`Memory.record_fact`,
:meth:`Memory.log_fact`, :meth:`Memory.record_production`, :meth:`Memory.track_map_reduce`):
the event folds (:mod:`runic.folds`) and the hot-path ``fold_into`` of nodes both call them, so
live execution and replay cannot diverge. The indexes are this class's own state: other modules
read them through the query methods (:meth:`depth_of`, :meth:`scope_of`,
:meth:`production_order`), never by attribute.

Decisions: a workflow *is* a Memory (inheritance, not a ``wf.memory`` attribute) because the hot
path reads these fields once per step and an extra attribute hop costs measurably there; the
layering is kept by the import rule (this module imports nothing above it), not by the object
graph. Only the workflow's owner (one thread) mutates it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .driver import wall_ms
from .facts import STRIPPED, Fact, FactRef
from .failures import Failure, failure_for
from .graph import Graph

if TYPE_CHECKING:  # pragma: no cover
    from .events import Event

__all__ = ["Memory"]


class Memory:
    """Facts, edges and the fold indexes of one workflow (see the module docs)."""

    graph: Graph
    #: map/reduce and accumulator bookkeeping (keys are tuples, see :mod:`runic.folds`)
    mapped: dict[Any, Any]
    #: every failed attempt, oldest first (append-only: remember ``len(wf.failures)`` to look
    #: at the failures since some point)
    failures: list[Failure]
    annotations: dict[str, Any]
    #: when true, every runtime event folded is also buffered in :attr:`uncommitted_events`
    emit_events: bool
    uncommitted_events: list["Event"]

    def __init__(self) -> None:
        self.graph = Graph()
        self.mapped = {}
        self.failures = []
        self.annotations = {}
        self.emit_events = False
        self.uncommitted_events = []
        self._depth: dict[int, int] = {}
        self._scope: dict[int, int] = {}
        self._prod_seq: dict[int, int] = {}
        self._seq = 0
        self._fact_mode = "full"

    def _copy_memory_into(self, new: "Memory") -> None:
        """Give ``new`` (a shallow copy of this object) its own copies of memory's containers."""
        new.graph = self.graph.copy()
        new.mapped = {k: (v.copy() if isinstance(v, (dict, list, set)) else v) for k, v in self.mapped.items()}
        new.failures = list(self.failures)
        new.annotations = dict(self.annotations)
        new.uncommitted_events = list(self.uncommitted_events)
        new._depth = dict(self._depth)
        new._scope = dict(self._scope)
        new._prod_seq = dict(self._prod_seq)

    def _merge_memory_from(self, other: "Memory") -> None:
        """Take ``other``'s indexes for the facts this memory does not know yet (``merge``)."""
        for src, dst in ((other._depth, self._depth), (other._scope, self._scope)):
            for k, v in src.items():
                dst.setdefault(k, v)
        for fh in other._prod_seq:
            if fh not in self._prod_seq:
                self._seq += 1
                self._prod_seq[fh] = self._seq
        self.failures.extend(other.failures)

    # ================================================================== primitives
    def record_fact(self, fact: Any, weight: int) -> None:
        """Add a fact (or FactRef) vertex with its depth and scope (no-op if already recorded)."""
        h = fact.hash
        depth = self._depth
        if h in depth:
            return
        g = self.graph
        g.vertices.setdefault(h, fact)
        depth[h] = weight
        ancestry = fact.ancestry
        if ancestry is None:
            self._scope[h] = h
        else:
            producer = g.vertices.get(ancestry[0])
            if producer is not None and producer.kind == "fan_out":
                self._scope[h] = h
            else:
                scope = self._scope
                scope[h] = scope.get(ancestry[1], h)

    def log_fact(self, h: int, value: Any, ancestry: Any, weight: int) -> None:
        """Record a fact given by its fields (a FactRef when the value was stripped and the
        memory is being rebuilt in ``"ref"`` mode)."""
        if h in self._depth:
            return
        existing = self.graph.vertices.get(h)
        if existing is not None:
            self.record_fact(existing, weight)
        elif value is STRIPPED and self._fact_mode == "ref":
            self.record_fact(FactRef(h, ancestry), weight)
        else:
            self.record_fact(Fact(value, ancestry, h), weight)

    def record_production(self, producer: int, h: int, label: str, weight: int) -> None:
        """Draw ``producer -[label]-> fact`` and note the production order."""
        if producer in self.graph.vertices:
            self.graph.add_edge(producer, h, label, weight)
            self.note_production(h)
            if label == "state_produced":
                self.mapped[("latest_state_fact", producer)] = h

    def note_production(self, h: int) -> None:
        """Put fact ``h`` last in the production order."""
        self._seq += 1
        self._prod_seq[h] = self._seq

    def track_map_reduce(self, source: int, fan_out: int, fan_out_fact: int, step: int, result: int) -> None:
        """Record that ``step`` turned map item ``fan_out_fact`` into ``result``."""
        mapped = self.mapped
        seen = mapped.get((source, step))
        if seen is None:
            seen = mapped[(source, step)] = {}
        seen[fan_out_fact] = result
        mapped[("fan_out_for_batch", source)] = fan_out

    def set_fact_mode(self, mode: str) -> None:
        """``"ref"`` while rebuilding from a stream whose values were stripped (see
        :meth:`log_fact`), ``"full"`` otherwise."""
        self._fact_mode = mode

    # ================================================================== queries
    def depth_of(self, fact_hash: int) -> int:
        """The recorded causal depth of a fact (0 when unknown)."""
        return self._depth.get(fact_hash, 0)

    def scope_of(self, fact_hash: int) -> int | None:
        """The scope of a fact (see the module docs), ``None`` when unknown."""
        return self._scope.get(fact_hash)

    def production_order(self) -> list[int]:
        """Hashes of the produced facts (inputs excluded), in the order they were produced."""
        return list(self._prod_seq)

    def production_rank(self, fact_hash: int) -> int:
        """Position of a fact in the production order (0 when it was never produced)."""
        return self._prod_seq.get(fact_hash, 0)

    def is_produced(self, fact_hash: int) -> bool:
        return fact_hash in self._prod_seq

    def ancestry_depth(self, fact: Any) -> int:
        """Causal depth of a fact: 0 for an input, 1 + its parent's otherwise."""
        h = getattr(fact, "hash", fact)
        d = self._depth.get(h)
        if d is not None:
            return d
        depth = 0
        cur = fact
        seen = 0
        while seen < 1_000_000:  # iterative: a causal chain may be deeper than the stack
            anc = getattr(cur, "ancestry", None)
            if anc is None:
                return depth
            parent = self.graph.vertices.get(anc[1])
            depth += 1
            if parent is None:
                return depth
            known = self._depth.get(parent.hash)
            if known is not None:
                return depth + known
            cur = parent
            seen += 1
        return depth

    causal_depth = ancestry_depth

    def root_ancestor_hash(self, fact: Any) -> int | None:
        """Hash of the input at the root of a fact's causal chain (``None`` if broken)."""
        cur = fact if not isinstance(fact, int) else self.graph.vertices.get(fact)
        seen = 0
        while cur is not None and seen < 1_000_000:
            anc = cur.ancestry
            if anc is None:
                return int(cur.hash)
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
        seq = self._prod_seq
        best = max(produced, key=lambda fh: (produced[fh], seq.get(fh, 0)))
        return self.graph.vertices.get(best)

    def facts(self) -> list[Fact]:
        """Every Fact vertex (inputs included, value-less references excluded)."""
        return [v for v in self.graph.vertices.values() if v.__class__ is Fact]

    def purge_memory(self) -> Any:
        """Delete every fact (and its edges), keeping the structure; returns ``self``."""
        for h in [h for h, v in self.graph.vertices.items() if isinstance(v, (Fact, FactRef))]:
            self.graph.delete_vertex(h)
        self.mapped = {}
        self._depth.clear()
        self._scope.clear()
        self._prod_seq.clear()
        return self

    # ================================================================== failure records
    def component_of(self, node_hash: int, node: Any) -> tuple[str | None, str | None]:
        """``(name, kind)`` of the component a node belongs to. Memory alone knows no
        components: the node's own name and kind (a workflow overrides this)."""
        return getattr(node, "name", None), getattr(node, "kind", None)

    def failure_record(self, node: Any, node_hash: int, fact_hash: int, error: Any, *,
                       traceback: str | None = None, attempts: int = 1, action: str = "halt",
                       final: bool = True) -> Failure:
        """A :class:`runic.Failure` of ``node`` on ``fact_hash``, named after its component."""
        name, kind = self.component_of(node_hash, node)
        if node is None:
            kind = kind or "node"
        return failure_for(node, fact_hash, error, attempts=attempts, final=final, action=action,
                           at=wall_ms(), traceback=traceback or None,
                           component=str(name) if name is not None else f"node-{node_hash & 0xFFFFFFFF:08x}",
                           component_kind=kind)

    def normalised(self, f: Failure) -> Failure:
        """``f`` named after the component that owns its node."""
        name, kind = self.component_of(f.node_hash, self.graph.vertices.get(f.node_hash))
        if name is None or (name == f.component and kind == f.component_kind):
            return f
        return dataclasses.replace(f, component=str(name), component_kind=kind or f.component_kind)

    def has_final_failure(self, node_hash: int, fact_hash: int) -> bool:
        """Whether a final failure of ``node_hash`` on ``fact_hash`` is recorded."""
        for f in reversed(self.failures):
            if f.final and f.node_hash == node_hash and f.fact_hash == fact_hash:
                return True
        return False
