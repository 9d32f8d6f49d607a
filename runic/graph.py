"""A labelled directed multigraph holding a workflow's structure and memory.

Vertices are keyed by their content hash (nodes, facts and fact references alike). An edge is
identified by ``(from, to, label)``: adding it again replaces its weight, edges with different
labels between the same pair coexist. Adjacency is indexed *label first* in both directions
(``out[label][from][to] -> weight`` and ``inn[label][to][from] -> weight``) because every
question the runtime asks names its labels ("the flow children of n", "the joined edges into
j"). Iteration follows insertion order, a refinement of Runic's unordered maps that makes
dispatch and logs deterministic.

Activation edges (``runnable`` and ``matchable``) are additionally kept in :attr:`Graph.pending`,
an insertion-ordered index of ``(fact, node) -> label``, so "is anything runnable?" is O(1) and
dispatch visits pending work in the order it was activated. Taking work from the head of that
dict leaves deleted slots there, which every later walk from the head steps over (a map of
10,000 items made each dispatch O(pending)); :meth:`Graph.compact_pending` rebuilds the dict in
place once deletions outnumber the live entries, so a walk from the head stays O(1) amortised.
"""

from __future__ import annotations

from typing import Any, Iterator

__all__ = ["Graph", "ACTIVATION_LABELS", "PRODUCTION_LABELS"]

ACTIVATION_LABELS = frozenset({"runnable", "matchable"})
PRODUCTION_LABELS = ("produced", "state_produced", "state_initiated", "reduced")


class Graph:
    """Vertices plus label-indexed edges; see the module docs."""

    __slots__ = ("vertices", "out", "inn", "props", "pending", "pending_deleted")

    def __init__(self) -> None:
        self.vertices: dict[int, Any] = {}
        self.out: dict[str, dict[int, dict[int, int]]] = {}
        self.inn: dict[str, dict[int, dict[int, int]]] = {}
        self.props: dict[tuple[Any, ...], dict[Any, Any]] = {}
        self.pending: dict[tuple[int, int], str] = {}
        #: entries deleted from :attr:`pending` since it was last compacted
        self.pending_deleted = 0

    # ------------------------------------------------------------------ vertices
    def add_vertex(self, vid: int, value: Any) -> None:
        """Add a vertex; an existing vertex with the same id is kept (first writer wins)."""
        if vid not in self.vertices:
            self.vertices[vid] = value

    def delete_vertex(self, vid: int) -> None:
        """Remove a vertex and every edge touching it."""
        self.vertices.pop(vid, None)
        for label, by_from in list(self.out.items()):
            for to in list(by_from.get(vid, ())):
                self.remove_edge(vid, to, label)
        for label, by_to in list(self.inn.items()):
            for frm in list(by_to.get(vid, ())):
                self.remove_edge(frm, vid, label)

    # ------------------------------------------------------------------ edges
    def add_edge(self, frm: int, to: int, label: str, weight: int = 0,
                 props: dict[Any, Any] | None = None) -> None:
        out = self.out.get(label)
        if out is None:
            out = self.out[label] = {}
            self.inn[label] = {}
        tos = out.get(frm)
        if tos is None:
            out[frm] = {to: weight}
        else:
            tos[to] = weight
        inn = self.inn[label]
        froms = inn.get(to)
        if froms is None:
            inn[to] = {frm: weight}
        else:
            froms[frm] = weight
        if label == "runnable" or label == "matchable":
            self.pending[(frm, to)] = label
        if props is not None:
            self.props[(frm, to, label)] = props

    def has_edge(self, frm: int, to: int, label: str) -> bool:
        out = self.out.get(label)
        if out is None:
            return False
        tos = out.get(frm)
        return tos is not None and to in tos

    def edge_weight(self, frm: int, to: int, label: str) -> int | None:
        out = self.out.get(label)
        if out is None:
            return None
        tos = out.get(frm)
        return None if tos is None else tos.get(to)

    def remove_edge(self, frm: int, to: int, label: str) -> int | None:
        """Remove one edge; return its weight, or ``None`` if it did not exist."""
        out = self.out.get(label)
        if out is None:
            return None
        tos = out.get(frm)
        if tos is None or to not in tos:
            return None
        weight = tos.pop(to)
        if not tos:
            del out[frm]
        froms = self.inn[label][to]
        del froms[frm]
        if not froms:
            del self.inn[label][to]
        if label in ACTIVATION_LABELS and self.pending.pop((frm, to), None) is not None:
            self.pending_deleted += 1
        self.props.pop((frm, to, label), None)
        return weight

    def relabel(self, frm: int, to: int, old: str, new: str, weight: int | None = None) -> bool:
        """Turn edge ``(frm, to, old)`` into ``(frm, to, new)``; a missing edge is a no-op."""
        out = self.out.get(old)
        if out is None:
            return False
        tos = out.get(frm)
        if tos is None or to not in tos:
            return False
        w = tos.pop(to)
        if not tos:
            del out[frm]
        inn = self.inn[old]
        froms = inn[to]
        del froms[frm]
        if not froms:
            del inn[to]
        if old == "runnable" or old == "matchable":
            del self.pending[(frm, to)]
            self.pending_deleted += 1
        props = self.props.pop((frm, to, old), None) if self.props else None
        self.add_edge(frm, to, new, w if weight is None else weight, props)
        return True

    def compact_pending(self) -> None:
        """Rebuild :attr:`pending` in place (same object, same order) when more entries were
        deleted from it than it holds, so iterating it from the head skips no dead slots."""
        pending = self.pending
        if self.pending_deleted > 32 and self.pending_deleted > len(pending):
            items = list(pending.items())
            pending.clear()
            pending.update(items)
            self.pending_deleted = 0

    # ------------------------------------------------------------------ queries
    def successors(self, vid: int, label: str) -> dict[int, int]:
        out = self.out.get(label)
        if out is None:
            return {}
        return out.get(vid) or {}

    def predecessors(self, vid: int, label: str) -> dict[int, int]:
        inn = self.inn.get(label)
        if inn is None:
            return {}
        return inn.get(vid) or {}

    def edges(self, label: str) -> Iterator[tuple[int, int, int]]:
        for frm, tos in list(self.out.get(label, {}).items()):
            for to, w in list(tos.items()):
                yield frm, to, w

    def labels(self) -> list[str]:
        return [label for label, by_from in self.out.items() if by_from]

    def copy(self) -> "Graph":
        g = Graph()
        g.vertices = dict(self.vertices)
        g.out = {label: {k: dict(v) for k, v in by.items()} for label, by in self.out.items()}
        g.inn = {label: {k: dict(v) for k, v in by.items()} for label, by in self.inn.items()}
        g.props = {k: dict(v) for k, v in self.props.items()}
        g.pending = dict(self.pending)
        return g
