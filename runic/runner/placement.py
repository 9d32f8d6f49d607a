"""Placement: which worker host runs which workflow, and where a new one goes.

The runner actor's registry of workflows (:class:`Placement`), kept as a plain class so it is
tested without actors (as :mod:`runic.supervisor.strategy` is). **Thread territory:** only the
runner actor's thread uses it, inside its handlers; it holds no lock and does no I/O.

A workflow's :class:`Entry` records its host, its state (``starting`` while its host builds the
Worker, ``running`` once the host answered) and what is needed to resume it on a restarted host
(its options, callbacks and functions, as the caller gave them). A new workflow goes to the least
loaded pool host that is running; ties rotate, so equal hosts take turns. Choosing is
O(pool size); every other operation is O(1).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Hashable, Iterable

__all__ = ["Entry", "Placement"]


@dataclasses.dataclass
class Entry:
    """One workflow held by this Runner."""

    host: str
    state: str  # "starting" | "running"
    options: dict[Any, Any] | None = None
    callbacks_blob: bytes | None = None
    functions_blob: bytes | None = None
    dedicated: bool = False


class Placement:
    """The registry of the workflows a Runner holds (see the module docs)."""

    def __init__(self, pool: Iterable[str]) -> None:
        self.pool = list(pool)
        self.entries: dict[Hashable, Entry] = {}
        self.load: dict[str, int] = {}
        self._turn = 0

    def __contains__(self, workflow_id: object) -> bool:
        return workflow_id in self.entries

    def get(self, workflow_id: Hashable) -> Entry | None:
        return self.entries.get(workflow_id)

    def choose(self, running: Iterable[str]) -> str:
        """The least loaded pool host among ``running`` (all of the pool if none runs)."""
        up = set(running)
        candidates = [h for h in self.pool if h in up] or self.pool
        if not candidates:
            raise LookupError("this Runner has no worker host")
        self._turn += 1
        n = len(self.pool)
        index = {h: i for i, h in enumerate(self.pool)}
        return min(candidates, key=lambda h: (self.load.get(h, 0), (index.get(h, 0) - self._turn) % n))

    def put(self, workflow_id: Hashable, entry: Entry) -> Entry:
        """Record ``entry`` (replacing any earlier entry of the workflow)."""
        self.pop(workflow_id)
        self.entries[workflow_id] = entry
        self.load[entry.host] = self.load.get(entry.host, 0) + 1
        return entry

    def pop(self, workflow_id: Hashable) -> Entry | None:
        entry = self.entries.pop(workflow_id, None)
        if entry is not None:
            self.load[entry.host] = max(0, self.load.get(entry.host, 1) - 1)
        return entry

    def started(self, workflow_id: Hashable, host: str) -> Entry | None:
        """The host answered: the workflow runs (on ``host``, which may differ from the chosen one)."""
        entry = self.entries.get(workflow_id)
        if entry is None:
            return None
        entry.state = "running"
        if entry.host != host:
            self.load[entry.host] = max(0, self.load.get(entry.host, 1) - 1)
            self.load[host] = self.load.get(host, 0) + 1
            entry.host = host
        return entry

    def running(self, workflow_id: Hashable) -> Entry | None:
        """The entry of a workflow whose Worker runs (not one still starting)."""
        entry = self.entries.get(workflow_id)
        return entry if entry is not None and entry.state == "running" else None

    def on(self, host: str) -> list[Hashable]:
        """The workflows held on ``host``."""
        return [wid for wid, e in self.entries.items() if e.host == host]

    def running_ids(self) -> list[Hashable]:
        return [wid for wid, e in self.entries.items() if e.state == "running"]

    def held(self) -> set[Hashable]:
        return set(self.entries)

    def group(self, workflow_ids: Iterable[Hashable]) -> tuple[dict[str, list[Hashable]], list[Hashable],
                                                              list[Hashable]]:
        """``(running ids by host, ids still starting, ids not held)``."""
        by_host: dict[str, list[Hashable]] = {}
        starting: list[Hashable] = []
        absent: list[Hashable] = []
        for wid in workflow_ids:
            entry = self.entries.get(wid)
            if entry is None:
                absent.append(wid)
            elif entry.state == "running":
                by_host.setdefault(entry.host, []).append(wid)
            else:
                starting.append(wid)
        return by_host, starting, absent

    def describe(self, workflow_id: Hashable) -> Any:
        entry = self.entries.get(workflow_id)
        return None if entry is None else (entry.host, entry.state)
