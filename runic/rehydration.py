"""Lean replay: fact values kept in a store's fact table, loaded only where needed.

The Runner writes every produced value to the store's fact table and streams ``FactProduced``
events with the value replaced by :data:`~runic.facts.STRIPPED`. Rebuilding with
``Workflow.from_events(events, fact_mode="ref")`` then gives value-less
:class:`~runic.facts.FactRef` vertices, which this module turns back into facts:

* :class:`FactResolver` loads values through a store (with a cache);
* :func:`classify` splits facts into *hot* (needed to continue: inputs of pending work, the
  frontier, pending join inputs, accumulators' current states, results of map batches still
  waiting for their reduce) and *cold* (everything else);
* :func:`resolve_hot` / :func:`resolve_all` swap FactRefs back to Facts; :func:`dehydrate`
  does the opposite for cold facts; :func:`rehydrate` = classify + dehydrate.

Resume modes: ``"full"`` resolves every fact; ``"hybrid"`` only the hot ones (cold facts stay
references and are omitted from ``raw_productions``); ``"lazy"`` resolves nothing up front and
the Runner resolves inputs just before it prepares work (:func:`resolve_pending`), which fixes
Runic's failure at prepare time on value-less inputs (its nodes need a value to prepare).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

from .facts import Fact, FactRef

if TYPE_CHECKING:  # pragma: no cover
    from .memory import Memory

__all__ = ["FactResolver", "classify", "dehydrate", "resolve_hot", "resolve_all", "resolve_pending",
           "rehydrate", "fact_refs"]

log = logging.getLogger(__name__)


class FactResolver:
    """Resolves :class:`FactRef` values through a store's ``load_fact`` (cached)."""

    def __init__(self, store: Any, cache: dict[Any, Any] | None = None) -> None:
        self.store = store
        self.cache: dict[int, Any] = cache if cache is not None else {}

    def resolve(self, fact: Fact | FactRef) -> Fact:
        """A Fact for ``fact``: Facts pass through, references are loaded; raises the store's
        ``NotFoundError`` when the value is not in the fact table."""
        if fact.__class__ is Fact:
            return fact
        h = fact.hash
        if h in self.cache:
            return Fact(self.cache[h], fact.ancestry, h)
        value = self.store.load_fact(h)
        self.cache[h] = value
        return Fact(value, fact.ancestry, h)

    def try_resolve(self, fact: Fact | FactRef) -> Fact | FactRef:
        """Like :meth:`resolve`, but a value that cannot be loaded leaves the reference."""
        try:
            return self.resolve(fact)
        except LookupError:
            log.warning("no stored value for fact %x; keeping a reference", fact.hash)
            return fact

    def preload(self, hashes: Iterable[int]) -> None:
        """Load values into the cache, skipping cached and missing ones."""
        wanted = [h for h in hashes if h not in self.cache]
        bulk = getattr(self.store, "load_facts", None)
        if bulk is not None:
            self.cache.update(bulk(wanted))
            return
        for h in wanted:
            try:
                self.cache[h] = self.store.load_fact(h)
            except LookupError:
                continue


def fact_refs(wf: "Memory") -> list[int]:
    """Hashes of every value-less fact vertex."""
    return [h for h, v in wf.graph.vertices.items() if v.__class__ is FactRef]


def _facts(wf: "Memory") -> dict[int, Any]:
    return {h: v for h, v in wf.graph.vertices.items() if v.__class__ in (Fact, FactRef)}


def classify(wf: "Memory") -> tuple[set[int], set[int]]:
    """``(hot, cold)``: a disjoint split of every fact hash (see the module docs)."""
    facts = _facts(wf)
    g = wf.graph
    hot: set[int] = set()
    for (fh, _node) in g.pending:  # 1. inputs of pending work
        hot.add(fh)
    parents = {v.ancestry[1] for v in facts.values() if v.ancestry is not None}
    hot.update(h for h in facts if h not in parents)  # 2. the frontier
    for key, value in wf.mapped.items():  # 3. accumulators' states, pending map batches
        if isinstance(key, tuple) and key and key[0] == "latest_state_fact":
            hot.add(value)
        elif isinstance(value, dict):
            hot.update(v for v in value.values() if isinstance(v, int))
    for _fh, _join, _w in g.edges("joined"):  # 4. pending join inputs
        hot.add(_fh)
    hot &= facts.keys()
    return hot, set(facts) - hot


def dehydrate(wf: "Memory", cold: Iterable[int]) -> "Memory":
    """Replace the cold Facts by FactRefs (same hash and ancestry; edges untouched)."""
    v = wf.graph.vertices
    for h in cold:
        f = v.get(h)
        if f.__class__ is Fact:
            v[h] = FactRef(h, f.ancestry)
    return wf


def resolve_hot(wf: "Memory", hashes: Iterable[int], resolver: FactResolver) -> "Memory":
    """Swap the given FactRefs back to Facts (unresolvable ones stay references)."""
    v = wf.graph.vertices
    refs = [h for h in hashes if v.get(h).__class__ is FactRef]
    if not refs:
        return wf
    resolver.preload(refs)
    for h in refs:
        v[h] = resolver.try_resolve(v[h])
    return wf


def resolve_all(wf: "Memory", resolver: FactResolver) -> "Memory":
    """Resolve every FactRef (full rehydration)."""
    return resolve_hot(wf, fact_refs(wf), resolver)


def resolve_pending(wf: "Memory", resolver: FactResolver) -> "Memory":
    """Resolve what the next dispatch needs: inputs of pending work, pending join inputs,
    accumulator states and pending map results (lazy mode, before every prepare)."""
    v = wf.graph.vertices
    wanted = [fh for (fh, _n) in wf.graph.pending if v.get(fh).__class__ is FactRef]
    if not wanted and not any(x.__class__ is FactRef for x in v.values()):
        return wf
    hot, _cold = classify(wf)
    return resolve_hot(wf, hot, resolver)


def rehydrate(wf: "Memory", store: Any) -> tuple["Memory", FactResolver]:
    """Classify and dehydrate in one pass; return the workflow and a resolver for ``store``."""
    _hot, cold = classify(wf)
    return dehydrate(wf, cold), FactResolver(store)
