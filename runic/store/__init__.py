"""Stores: where the Runner persists workflows.

* :class:`Store` — the protocol (snapshot ``save``/``load``/``checkpoint``, event-sourced
  ``append``/``stream``, snapshots, content-addressed facts, ``delete``/``list``/``exists``);
* :class:`MemoryStore` — in-process tables, the analogue of Runic's ETS store;
* :class:`MnesiaStore` — Mnesia-shaped transactional tables on SQLite, on disc
  (``disc_copies=True``) or in RAM;
* :func:`supports_stream` — whether a store is event-sourced (has ``append`` and ``stream``).

Every store also offers ownership epochs (``acquire``/``owner`` and ``epoch=`` on writes, whose
stale use raises :class:`FencedError`), workflow statuses (``set_status``/``status``/
``list_status``), node leases (``register_node``/``renew_node``/``release_node``/
``declare_dead``/``nodes``/``orphans``, whose stale use raises :class:`NodeFencedError`) and
garbage collection of fact values (``delete``, ``gc``). Every stored row carries a checksum
verified on read. ``MnesiaStore.child_spec(opts)`` / ``MemoryStore.child_spec(opts)`` give the
store actor a supervision tree starts before the Runner. See ``docs/stores.md``.
"""

from .base import STATUSES, BaseStore, EventStream, Ownership, Store, supports_stream
from .errors import (
    CorruptStoreError,
    FencedError,
    ForeignStoreError,
    NodeFencedError,
    NotFoundError,
    SchemaVersionError,
    StoreAccessError,
    StoreArgumentError,
    StoreBusyError,
    StoreClosedError,
    StoreDecodeError,
    StoreEncodeError,
    StoreError,
    StoreReplacedError,
)
from .memory import MemoryStore
from .mnesia import MnesiaStore

__all__ = [
    "Store",
    "BaseStore",
    "EventStream",
    "Ownership",
    "MemoryStore",
    "MnesiaStore",
    "STATUSES",
    "supports_stream",
    "StoreError",
    "NotFoundError",
    "FencedError",
    "StoreEncodeError",
    "StoreDecodeError",
    "CorruptStoreError",
    "ForeignStoreError",
    "SchemaVersionError",
    "StoreAccessError",
    "StoreBusyError",
    "StoreClosedError",
    "StoreArgumentError",
    "StoreReplacedError",
    "NodeFencedError",
]
