"""Live progress of a workflow, read from its event stream in the store.

The command line never asks the worker host how it is doing: it polls the store's cursor and
folds the new events (:class:`ProgressModel`), so what it shows is exactly what is durable, and
it keeps working while the worker host is being killed and restarted.

Per node (component), the table shows:

* ``dispatched`` — activations handed to the worker (``RunnableActivated``);
* ``running`` — dispatched and not finished yet: executing, or waiting for a free slot
  (``max_concurrency``); work in flight when a host dies stays here until it is redone;
* ``done`` — activations finished (``ActivationConsumed``);
* ``retried`` — extra attempts after a failure (``RunnableDispatched`` with ``attempt > 0``;
  recorded for runnables in ``execution_mode="durable"``);
* ``failed`` — activations that failed for good or were skipped (``UpstreamFailed``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..events import (
    BUILD_EVENTS,
    ActivationConsumed,
    RunnableActivated,
    RunnableCompleted,
    RunnableDispatched,
    RunnableFailed,
    UpstreamFailed,
)
from .inspection import NodeInfo, node_labels, structure_of
from .render import plain

__all__ = ["Row", "ProgressModel", "Watcher", "LiveView", "progress_table"]

log = logging.getLogger(__name__)


@dataclass
class Row:
    """The counters of one node."""

    info: NodeInfo
    dispatched: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    running: int = 0


@dataclass
class ProgressModel:
    """Counters folded from a workflow's events (see the module docs)."""

    events: int | None = 0
    """Events folded so far (``None`` for a model of a live workflow value, which has no stream)."""
    build_events: list = field(default_factory=list)
    pending: set = field(default_factory=set)
    completed: list = field(default_factory=list)  # (seq, runnable_id, node_hash) per RunnableCompleted
    counts: dict = field(default_factory=dict)  # node hash -> [dispatched, done, retried, failed]
    node_info: dict | None = None
    """Node hash -> :class:`NodeInfo` (built from the build events on first use; reset when they change)."""

    def feed(self, events: Iterable[Any]) -> int:
        """Fold events (in stream order, continuing from :attr:`events`); returns how many."""
        n = 0
        for e in events:
            n += 1
            self.events = (self.events or 0) + 1
            t = type(e)
            if isinstance(e, BUILD_EVENTS):
                self.build_events.append(e)
                self.node_info = None
            elif t is RunnableActivated:
                self.pending.add((e.fact_hash, e.node_hash))
                self._count(e.node_hash)[0] += 1
            elif t is ActivationConsumed:
                c = self._count(e.node_hash)
                key = (e.fact_hash, e.node_hash)
                if key in self.pending:
                    self.pending.discard(key)
                else:  # consumed without a recorded activation: still one dispatched
                    c[0] += 1
                c[1] += 1
            elif t is UpstreamFailed:
                c = self._count(e.node_hash)
                key = (e.fact_hash, e.node_hash)
                if key in self.pending:
                    self.pending.discard(key)
                else:
                    c[0] += 1
                c[3] += 1
            elif t is RunnableDispatched:
                if e.attempt:
                    self._count(e.node_hash)[2] += 1
            elif t is RunnableCompleted:
                self.completed.append((self.events, e.runnable_id, e.node_hash))
            elif t is RunnableFailed:
                pass  # its UpstreamFailed counts the failure
        return n

    def _count(self, node_hash: int) -> list:
        c = self.counts.get(node_hash)
        if c is None:
            c = self.counts[node_hash] = [0, 0, 0, 0]
        return c

    # ------------------------------------------------------------------ views
    def labels(self) -> dict[int, NodeInfo]:
        """Node labels from the build events seen so far."""
        if self.node_info is None:
            try:
                self.node_info = node_labels(structure_of(self.build_events)) if self.build_events else {}
            except Exception as exc:  # noqa: BLE001 - progress must never break a run
                log.debug("cannot rebuild the structure for progress labels: %s", exc)
                self.node_info = {}
        return self.node_info

    def rows(self) -> list[Row]:
        """One row per node: every node of the structure, in order, then unknown nodes."""
        labels = self.labels()
        running: dict[int, int] = {}
        for _fact, node in self.pending:
            running[node] = running.get(node, 0) + 1
        out = []
        seen = set()
        for h, info in labels.items():
            c = self.counts.get(h, [0, 0, 0, 0])
            out.append(Row(info, c[0], c[1], c[2], c[3], running.get(h, 0)))
            seen.add(h)
        for h, c in self.counts.items():
            if h not in seen:
                out.append(Row(NodeInfo(h, f"node {h:016x}", "?"), c[0], c[1], c[2], c[3], running.get(h, 0)))
        return out

    def running_labels(self) -> list[str]:
        """The nodes with work in flight, as ``label`` or ``label ×n``, in workflow order."""
        labels = self.labels()
        counts: dict[int, int] = {}
        for _f, n in self.pending:
            counts[n] = counts.get(n, 0) + 1
        order = {h: i for i, h in enumerate(labels)}
        out = []
        for n in sorted(counts, key=lambda h: (order.get(h, len(order)), h)):
            label = labels[n].label if n in labels else f"node {n:016x}"
            out.append(label if counts[n] == 1 else f"{label} ×{counts[n]}")
        return out

    def in_flight(self) -> int:
        """Activations dispatched and not finished."""
        return len(self.pending)

    def totals(self) -> Row:
        """The sum of every row."""
        total = Row(NodeInfo(0, "total", ""))
        for r in self.rows():
            total.dispatched += r.dispatched
            total.done += r.done
            total.retried += r.retried
            total.failed += r.failed
            total.running += r.running
        return total

    def completed_ids(self, up_to: int | None = None) -> set[int]:
        """Runnable ids completed in the first ``up_to`` events (all, if ``None``)."""
        return {rid for seq, rid, _n in self.completed if up_to is None or seq <= up_to}

    def completions_after(self, seq: int, ids: set[int]) -> list[int]:
        """Completions recorded after event ``seq`` of runnables in ``ids`` (repeated work)."""
        return [rid for s, rid, _n in self.completed if s > seq and rid in ids]


def _cell(n: int, style: str = "") -> Text:
    return Text(str(n) if n else "·", style=style if n else "dim")


def progress_table(model: ProgressModel) -> Table:
    """The table of :class:`ProgressModel` rows (see the module docs for the columns)."""
    table = Table(expand=False, pad_edge=False, show_edge=False)
    table.add_column("step")
    table.add_column("kind", style="dim")
    for col in ("dispatched", "running", "done", "retried", "failed"):
        table.add_column(col, justify="right")
    for r in model.rows():
        state = "yellow" if r.running else "red" if r.failed else "green" if r.done else ""
        table.add_row(plain(r.info.label, style=state), plain(r.info.kind), _cell(r.dispatched), _cell(r.running, "yellow"),
                      _cell(r.done, "green"), _cell(r.retried, "magenta"), _cell(r.failed, "red"))
    t = model.totals()
    table.add_section()
    table.add_row(Text("total", style="bold"), "in memory" if model.events is None else f"{model.events} events", _cell(t.dispatched), _cell(t.running, "yellow"),
                  _cell(t.done, "green"), _cell(t.retried, "magenta"), _cell(t.failed, "red"))
    return table


class Watcher:
    """Reads a workflow's new events from the store into a :class:`ProgressModel`."""

    def __init__(self, store: Any, workflow_id: Hashable, model: ProgressModel | None = None) -> None:
        self.store = store
        self.workflow_id = workflow_id
        self.model = model or ProgressModel()
        self.cursor = 0

    def poll(self) -> int:
        """Fold the events appended since the last poll; returns how many."""
        if self.store.cursor(self.workflow_id) <= self.cursor:
            return 0
        fresh = list(self.store.stream(self.workflow_id, start=self.cursor + 1))
        self.cursor += len(fresh)
        return self.model.feed(fresh)

    def status(self) -> str | None:
        """The workflow's status in the store."""
        return self.store.status(self.workflow_id)


class LiveView:
    """The live table on a terminal (redrawn in place); elsewhere, the table is printed when
    :meth:`snapshot` is called and once at the end."""

    def __init__(self, console: Console, model: ProgressModel, title: str) -> None:
        self.console = console
        self.model = model
        self.title = title
        self.live: Live | None = None
        self.status_line = ""

    def render(self) -> RenderableType:
        parts: list[RenderableType] = [Text.from_markup(self.title, style="bold"), progress_table(self.model)]
        if self.status_line:
            parts.append(plain(self.status_line, style="dim"))
        return Group(*parts)

    def __enter__(self) -> "LiveView":
        if self.console.is_terminal:
            self.live = Live(self.render(), console=self.console, refresh_per_second=10, transient=False)
            self.live.start()
        return self

    def update(self, status_line: str | None = None) -> None:
        """Redraw (terminal only) with an optional status line under the table."""
        if status_line is not None:
            self.status_line = status_line
        if self.live is not None:
            self.live.update(self.render())

    def note(self, text: Any) -> None:
        """Print a line of the story above the table."""
        self.console.print(text, soft_wrap=True)

    def snapshot(self) -> None:
        """Outside a terminal: print the table as it is now (on a terminal it is always shown)."""
        if self.live is None:
            self.console.print(self.render())

    def __exit__(self, *exc: object) -> None:
        self.status_line = ""
        if self.live is not None:
            self.live.update(self.render())
            self.live.stop()
            self.live = None
        else:
            self.console.print(self.render())
