"""Stores: where the Runner persists workflows.

* :class:`Store` — the protocol (snapshot ``save``/``load``/``checkpoint``, event-sourced
  ``append``/``stream``, snapshots, content-addressed facts, ``delete``/``list``/``exists``);
* :class:`MemoryStore` — in-process tables, the analogue of Runic's ETS store;
* :class:`MnesiaStore` — Mnesia-shaped transactional tables on SQLite, on disc
  (``disc_copies=True``) or in RAM; with ``nodes`` naming database hosts, the same tables on
  PostgreSQL;
* :class:`PostgresStore` — the same tables on a PostgreSQL cluster (several machines, failover
  to a standby); needs psycopg (``pip install 'runic-workflows[postgres]'``), imported on first
  use of the name;
* :mod:`runic.store.registry` — the one place that maps a name (``"memory"``, ``"mnesia"``,
  ``"postgres"``), a ``"module:Class"`` path or a class to a store class, and opens stores;
* :func:`supports_stream` — whether a store is event-sourced (has ``append`` and ``stream``).

Every store also offers ownership epochs (``acquire``/``owner`` and ``epoch=`` on writes, whose
stale use raises :class:`FencedError`), workflow statuses (``set_status``/``status``/
``list_status``), node leases (``register_node``/``renew_node``/``release_node``/
``declare_dead``/``nodes``/``orphans``, whose stale use raises :class:`NodeFencedError`) and
garbage collection of fact values (``delete``, ``gc``). Every stored row carries a checksum
verified on read. What an adapter can do is declared on its class (:attr:`BaseStore.shared`,
:attr:`BaseStore.streams`, :attr:`BaseStore.local_dir`, :meth:`BaseStore.on_writer_start`), so
the Runner never needs to know the adapter classes. ``StoreClass.child_spec(opts)`` gives the
store actor a supervision tree starts before the Runner. See ``docs/stores.md``.
"""

from .base import STATUSES, BaseStore, EventStream, Ownership, Store, supports_stream
from typing import TYPE_CHECKING, Any

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
    StoreTimelineError,
    StoreUnavailableError,
)
from .memory import MemoryStore
from .mnesia import MnesiaStore
from .registry import open_store, store_class

if TYPE_CHECKING:
    from .postgres import PostgresStore


def __getattr__(name: str) -> Any:
    """``PostgresStore`` is imported on first use: it needs psycopg, an optional dependency."""
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Store",
    "BaseStore",
    "EventStream",
    "Ownership",
    "MemoryStore",
    "MnesiaStore",
    "PostgresStore",
    "open_store",
    "store_class",
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
    "StoreUnavailableError",
    "StoreTimelineError",
]
