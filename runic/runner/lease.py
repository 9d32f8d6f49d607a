"""A Runner's node lease: who it is, that it is alive, and whose workflows are free to take.

Every Runner on a shared store is a **node** (``Runner.start_link(node=..., lease=5.0)``;
default ``"<host name>-<pid of the process that started it>"``). It registers the node in the
store's nodes table — a restarted node with the same name is a new *generation*, so its old
workflows are recognisably orphaned — renews the lease every ``lease / 3`` seconds (its expiry is
computed by the store's clock), and releases it on a clean shutdown. Workflows are owned by a
node and generation (recorded with each ownership epoch).

``recover="auto"`` takes over only **orphans**: workflows whose status is ``running`` and whose
owner node is dead, expired, of an older generation, or unknown — never those of a live node
(:meth:`NodeLease.orphans`; the runner actor's reaper uses the store's one-transaction
:meth:`~runic.store.BaseStore.takeover`). A node whose lease expired is dead for everyone; a
node on *this* machine whose process is gone is declared dead at once (no need to wait for its
lease), so a Runner restarted after a crash takes its workflows back immediately.

This class holds no actor: the runner actor calls it from its own thread, on timers
(:mod:`runic.runner.actor`), and tests drive it directly; the renewals themselves run on the
heartbeat thread (:mod:`runic.runner.heartbeat`). The store's primitives do the fencing:
:meth:`~runic.store.BaseStore.renew_node` raises :class:`~runic.store.NodeFencedError` once the
node was declared dead, and every write of a stale owner is refused by its epoch.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, Hashable

from ..actors import procs

__all__ = ["NodeLease", "default_node", "DEFAULT_LEASE_S"]

DEFAULT_LEASE_S = 5.0
"""A node's default lease, in seconds (renewed every third of it)."""

log = logging.getLogger("runic.runner")


def default_node(pid: int | None = None) -> str:
    """``"<host name>-<pid>"``: the node name of a Runner started by process ``pid``."""
    return f"{socket.gethostname()}-{pid if pid is not None else os.getpid()}"


class NodeLease:
    """The lease of one node on one store (see the module docs)."""

    def __init__(self, store: Any, node: str, lease_s: float, driver: tuple[int, int | None] | None = None,
                 runner: str | None = None, instance: str | None = None) -> None:
        self.store = store
        self.node = node
        self.lease_s = float(lease_s)
        self.driver = driver  # (pid, start time) of the process that started the Runner
        self.runner = runner
        self.instance = instance  # one Runner.start_link: its runner actor's restarts share it
        self.generation: int | None = None
        self.expires_at: int | None = None
        #: the nodes table as last read (:meth:`refresh`): name -> entry (no workflows)
        self.known: dict[str, dict[str, Any]] = {}

    def info(self) -> dict[Any, Any]:
        pid, start = self.driver or (os.getpid(), procs.start_time(os.getpid()))
        return {"host": socket.gethostname(), "pid": pid, "start": start, "runner": self.runner,
                "instance": self.instance}

    def start(self) -> int:
        """Register the node, or — the same Runner whose runner actor was restarted (same
        ``instance``), and still alive — take up its current generation again. Returns the
        generation."""
        mine = self.info()
        for entry in self.store.nodes():
            if entry["node"] == self.node and entry["alive"] and _same_runner(entry.get("info"), mine):
                self.generation = entry["generation"]
                self.renew()
                log.info("node %s: continuing generation %d", self.node, self.generation)
                return self.generation
        return self.register()

    def register(self) -> int:
        """Register a new generation of this node (also after it was declared dead)."""
        self.generation = self.store.register_node(self.node, self.lease_s, self.info())
        log.info("node %s: registered generation %d (lease %.1f s)", self.node, self.generation, self.lease_s)
        return self.generation

    def renew(self) -> int:
        """Extend the lease; raises :class:`~runic.store.NodeFencedError` once declared dead."""
        assert self.generation is not None
        self.expires_at = self.store.renew_node(self.node, self.generation, self.lease_s)
        return self.expires_at

    def release(self) -> None:
        """A clean shutdown: the node is dead now (its running workflows become orphans)."""
        if self.generation is not None:
            self.store.release_node(self.node, self.generation)

    def refresh(self) -> list[str]:
        """Read the nodes table (without their workflows) into :attr:`known`, and declare dead
        the live nodes of this machine whose process is gone; returns their names."""
        entries = self.store.nodes(workflows=False)
        dead = self._reap_local(entries)
        for entry in entries:
            if entry["node"] in dead:
                entry["alive"] = False
        self.known = {e["node"]: e for e in entries}
        return dead

    def alive(self, node: str | None, generation: int | None) -> bool:
        """Whether ``node`` ``generation`` held a live lease when the table was last read."""
        entry = self.known.get(node) if node is not None else None
        return entry is not None and entry["generation"] == generation and bool(entry["alive"])

    def reap_local(self) -> list[str]:
        """Declare dead the live nodes of this machine whose process is gone; their names."""
        return self._reap_local(self.store.nodes(workflows=False))

    def _reap_local(self, entries: list[dict[str, Any]]) -> list[str]:
        here = socket.gethostname()
        dead = []
        for entry in entries:
            info = entry.get("info") or {}
            if not entry["alive"] or entry["node"] == self.node or info.get("host") != here:
                continue
            pid, start = info.get("pid"), info.get("start")
            if isinstance(pid, int) and not procs.same_process(pid, start):
                if self.store.declare_dead(entry["node"], entry["generation"]):
                    log.warning("node %s (generation %d) is gone (process %d ended); declared dead",
                                entry["node"], entry["generation"], pid)
                    dead.append(entry["node"])
        return dead

    def mine(self) -> list[Hashable]:
        """The running workflows this node (this generation) owns."""
        for entry in self.store.nodes():
            if entry["node"] == self.node and entry["generation"] == self.generation:
                return list(entry["workflows"])
        return []

    def orphans(self, held: set[Hashable]) -> list[Hashable]:
        """Running workflows no live node owns, minus those this node holds already."""
        self.reap_local()
        return [wid for wid in self.store.orphans(["running"]) if wid not in held]


def _same_runner(info: Any, mine: dict[Any, Any]) -> bool:
    return isinstance(info, dict) and mine["instance"] is not None and info.get("instance") == mine["instance"] \
        and info.get("host") == mine["host"] and info.get("pid") == mine["pid"]
