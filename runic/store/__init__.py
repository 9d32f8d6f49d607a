"""Stores: where the Runner persists workflows (spec §6, API.md "Stores").

* :class:`Store` — the protocol (snapshot ``save``/``load``/``checkpoint``, event-sourced
  ``append``/``stream``, snapshots, content-addressed facts, ``delete``/``list``/``exists``);
* :class:`MemoryStore` — in-process tables, the analogue of Runic's ETS store;
* :class:`MnesiaStore` — Mnesia-shaped transactional tables on SQLite, on disc
  (``disc_copies=True``) or in RAM;
* :func:`supports_stream` — whether a store is event-sourced (has ``append`` and ``stream``).

Every store also offers ownership epochs (``acquire``/``owner`` and ``epoch=`` on writes, whose
stale use raises :class:`FencedError`) and workflow statuses (``set_status``/``status``/
``list_status``). ``MnesiaStore.child_spec(opts)`` / ``MemoryStore.child_spec(opts)`` give the
store actor a supervision tree starts before the Runner. See ``docs/stores.md``.
"""

from .base import STATUSES, BaseStore, EventStream, Store, supports_stream
from .errors import (
    CorruptStoreError,
    FencedError,
    ForeignStoreError,
    NotFoundError,
    SchemaVersionError,
    StoreAccessError,
    StoreArgumentError,
    StoreBusyError,
    StoreClosedError,
    StoreDecodeError,
    StoreEncodeError,
    StoreError,
)
from .memory import MemoryStore
from .mnesia import MnesiaStore

__all__ = [
    "Store",
    "BaseStore",
    "EventStream",
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
]
