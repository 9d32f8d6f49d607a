"""The store actor: ``<runner>.Store``, the first child of a Runner's supervision tree.

As in Runic, the store process owns the table *lifecycle*, not the data path: workers and the
Runner call the store directly through their own store handles, never through this actor.

* **MnesiaStore** — on start the actor opens the store, which creates the database schema and
  the runner's tables if they are missing (idempotent: a restart, or a second actor for the same
  runner, is harmless). The data lives in the database file (disc), or for RAM tables in a file
  in the actor system's scratch directory, never in the actor: killing and restarting the actor
  loses nothing, and the tables keep answering other processes meanwhile. RAM tables disappear
  with the actor system (its scratch directory is removed when it stops).
* **MemoryStore** — the tables live in the memory of the actor's own process, like ETS tables
  owned by their process: they are created on start and dropped on stop, so a restart of the
  actor starts them empty. Only code running in that process sees them. A Runner uses
  MemoryStore in-process (it opens ``MemoryStore(name)`` itself and keeps its workers in its
  process); for RAM tables shared by several processes use ``MnesiaStore(disc_copies=False)``.
* **PostgresStore** (and ``MnesiaStore`` with database ``nodes``) — on start the actor creates
  the schema and the runner's tables in the database if they are missing; the data lives in
  the database, so restarting the actor loses nothing.

The actor is started with the store *class* (or its ``"module:Class"`` path, or a short name),
resolved through :mod:`runic.store.registry`; what it does with the tables follows what the
class declares (:attr:`~runic.store.BaseStore.shared`), not which class it is. Store classes
give their child spec themselves (:meth:`~runic.store.BaseStore.child_spec`), naming this actor
by path, so that no store module imports this one.

The actor answers :class:`StoreInfo` with :class:`StoreInfoReply` (what it opened, where).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from ..supervisor import ChildActor, ChildSpec
from .base import BaseStore
from .registry import STORES, store_class

__all__ = ["StoreActor", "StoreInfo", "StoreInfoReply", "store_child_spec", "STORE_KINDS"]

log = logging.getLogger("runic.store")

STORE_KINDS = tuple(STORES)
"""The short store names (:data:`runic.store.registry.STORES`)."""


def store_child_spec(kind: str | type, opts: dict[str, Any]) -> ChildSpec:
    """The child spec ``<runner>.Store`` that starts a :class:`StoreActor` for the store
    ``kind`` names (a short name, a ``"module:Class"`` path or a class; see
    :meth:`runic.store.BaseStore.child_spec`)."""
    spec: ChildSpec = store_class(kind).child_spec(opts)
    return spec


@dataclass
class StoreInfo:
    """Ask a :class:`StoreActor` what it opened. Reply: :class:`StoreInfoReply`."""

    ref: Any = None


@dataclass
class StoreInfoReply:
    """What a store actor opened: its kind, runner, storage type, file and table names, and
    the number of rows it sees in each table (``sizes``, read when it answered)."""

    runner_name: str
    kind: str
    storage_type: str
    path: str | None
    tables: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    pid: int = 0
    ref: Any = None


class StoreActor(ChildActor):
    """The supervised store process of a runner (see the module documentation).

    Started with ``{"store": <store class, "module:Class" path or short name>, "runner_name":
    ..., **store options}`` (what :meth:`runic.store.BaseStore.child_spec` gives).
    Its ``info`` (as ``which_children`` shows it) has ``role="store"``, ``kind``,
    ``runner_name``, ``storage_type``, ``path`` and ``tables``.
    """

    def on_start(self, opts: dict) -> dict:
        """Open the store: create the schema and the runner's tables (idempotent)."""
        store_opts = dict(opts)
        cls = store_class(store_opts.pop("store", None))
        self.store: BaseStore | None = cls(**store_opts)
        store = self.store
        if store.shared and store.storage_type == "ram_copies" and store.local_dir is None:
            log.warning(
                "store actor %s: no actor-system scratch directory; RAM tables of %r stay "
                "private to the store actor's process", self.child_id, store.runner_name
            )
        log.info("store actor %s (pid %d) opened %r", self.child_id, os.getpid(), store)
        return {"role": "store", **self._describe_store()}

    def on_stop(self, reason: str) -> None:
        """Close the handle; MemoryStore tables die with their owner, as ETS tables do."""
        store = getattr(self, "store", None)
        if store is None:
            return
        self.store = None
        if not store.shared and not store.closed:  # tables that live in this process die with it
            store.drop_tables()
        store.close()
        log.info("store actor %s stopped (%s)", self.child_id, reason)

    def _describe_store(self) -> dict[str, Any]:
        store = self.store
        assert store is not None
        return {
            "kind": store.kind,
            "runner_name": store.runner_name,
            "storage_type": store.storage_type,
            "path": getattr(store, "path", None) or getattr(store, "where", None),
            "tables": sorted(store.table_names.values()),
        }

    def receiveMsg_StoreInfo(self, msg: StoreInfo, sender: Any) -> None:  # noqa: N802 - thespian
        """Answer with a :class:`StoreInfoReply`."""
        store = self.store
        assert store is not None
        sizes = {name: store.table_info(name, "size") for name in store.table_names.values()}
        self.send(sender, StoreInfoReply(**self._describe_store(), sizes=sizes, pid=os.getpid(),
                                         ref=msg.ref))
