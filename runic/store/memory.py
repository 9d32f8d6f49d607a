"""MemoryStore: the in-process store, the analogue of Runic's ETS store.

The tables of a runner live in the memory of **one Python process**, like ETS tables in one
Erlang VM. Every :class:`MemoryStore` created in that process with the same ``runner_name``
sees the same tables (ETS named tables); other processes — including processes forked from
this one afterwards — do not see them. Values are kept encoded by :mod:`runic.codec` (as ETS
copies terms), so a stored value never aliases the caller's object and an unencodable value
fails exactly as it does with the durable store.

Lifetime: a runner's tables are created on first use and live until :meth:`MemoryStore.drop`
is called for the runner (the store actor does that when it stops, as an ETS table dies with
its owner) or the process exits. Handles still open on dropped tables raise
:class:`~runic.store.StoreClosedError`.

For RAM tables shared by several processes (a Runner whose workers run in other processes),
use ``MnesiaStore(runner_name, disc_copies=False)`` instead.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, ClassVar

from .base import BaseStore, _Stale
from .errors import StoreClosedError

__all__ = ["MemoryStore"]

log = logging.getLogger("runic.store")

#: ETS table kinds and fields of each table (spec §6.2), by logical role
_SPECS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "logs": ("StoreTable", "set", ("workflow_id", "log", "updated_at")),
    "events": ("StoreEvents", "ordered_set", ("key", "event")),
    "counters": ("StoreCounters", "set", ("workflow_id", "count")),
    "facts": ("FactTable", "set", ("fact_hash", "value")),
    "snapshots": ("StoreSnapshots", "set", ("workflow_id", "cursor", "snapshot")),
    "status": ("StoreStatus", "set", ("workflow_id", "owner", "epoch", "status", "updated_at")),
}


class _Tables:
    """The tables of one runner in this process. All access holds ``lock``."""

    __slots__ = ("runner_name", "lock", "logs", "events", "facts", "snapshots", "status",
                 "epoch_seq", "dropped")

    def __init__(self, runner_name: str) -> None:
        self.runner_name = runner_name
        self.lock = threading.Lock()
        self.logs: dict[Any, tuple[bytes, int]] = {}
        #: workflow key -> list of event blobs (seq n at index n-1); the counter is its length
        self.events: dict[Any, list[bytes]] = {}
        self.facts: dict[int, bytes] = {}
        self.snapshots: dict[Any, tuple[int, bytes]] = {}
        #: workflow key -> [owner, epoch, status, updated_at]
        self.status: dict[Any, list[Any]] = {}
        self.epoch_seq = 0
        self.dropped = False


_registry_lock = threading.Lock()
_registry: dict[str, _Tables] = {}
_registry_pid = os.getpid()


def _tables_for(runner_name: str, create: bool = True) -> _Tables | None:
    global _registry_pid
    with _registry_lock:
        if _registry_pid != os.getpid():  # forked: the parent's tables are not ours
            _registry.clear()
            _registry_pid = os.getpid()
        tables = _registry.get(runner_name)
        if tables is None and create:
            tables = _registry[runner_name] = _Tables(runner_name)
            log.debug("memory tables of runner %r created in process %d", runner_name, os.getpid())
        return tables


class MemoryStore(BaseStore):
    """The in-process store (ETS analogue). See the module documentation for its scope.

    ``MemoryStore(runner_name)`` opens (creating if needed) the runner's tables in this process.
    Table names follow Runic's ETS store: ``<runner>.StoreTable``, ``<runner>.StoreEvents``,
    ``<runner>.StoreCounters``, ``<runner>.FactTable`` (plus ``<runner>.StoreSnapshots`` and
    ``<runner>.StoreStatus``).
    """

    kind: ClassVar[str] = "memory"

    def __init__(self, runner_name: str, **opts: Any) -> None:
        super().__init__(runner_name, **opts)
        self.table_names = {role: f"{runner_name}.{spec[0]}" for role, spec in _SPECS.items()}
        self._t = _tables_for(runner_name)
        self._pid = os.getpid()

    @classmethod
    def drop(cls, runner_name: str) -> bool:
        """Delete the tables of ``runner_name`` in this process (their data is gone).

        Returns whether they existed. Open handles on them raise ``StoreClosedError`` from now
        on; a new ``MemoryStore(runner_name)`` starts with empty tables.
        """
        with _registry_lock:
            tables = _registry.pop(runner_name, None)
        if tables is None:
            return False
        with tables.lock:
            tables.dropped = True
            tables.logs.clear()
            tables.events.clear()
            tables.facts.clear()
            tables.snapshots.clear()
            tables.status.clear()
        log.debug("memory tables of runner %r dropped", runner_name)
        return True

    @classmethod
    def child_spec(cls, opts: dict[str, Any]) -> Any:
        """The child spec of the store actor (``<runner>.Store``) that owns these tables.

        See :mod:`runic.store.actor`. The tables live in the store actor's process.
        """
        from .actor import store_child_spec

        return store_child_spec("memory", opts)

    @property
    def storage_type(self) -> str:
        """Always ``"ram_copies"``: the tables live in this process's memory."""
        return "ram_copies"

    # ------------------------------------------------------------------ helpers

    def _tables(self) -> _Tables:
        t = self._t
        if t.dropped or self._pid != os.getpid():
            raise StoreClosedError(
                f"the memory tables of runner {self.runner_name!r} are gone (dropped when their "
                "store actor stopped, or this handle crossed a fork); open a new MemoryStore"
            )
        return t

    # ------------------------------------------------------------------ primitives

    def _put_log(self, key: Any, blob: bytes, updated_at: int) -> None:
        t = self._tables()
        with t.lock:
            t.logs[key] = (blob, updated_at)

    def _get_log(self, key: Any) -> bytes | None:
        t = self._tables()
        with t.lock:
            row = t.logs.get(key)
        return None if row is None else row[0]

    def _log_keys(self) -> list[Any]:
        t = self._tables()
        with t.lock:
            return list(t.logs)

    def _exists(self, key: Any) -> bool:
        t = self._tables()
        with t.lock:
            return key in t.logs or key in t.events

    def _check(self, t: _Tables, key: Any, epoch: int | None) -> None:
        if epoch is None:
            return
        row = t.status.get(key)
        current = row[1] if row is not None else 0
        if epoch != current:
            raise _Stale(current, row[0] if row is not None else None)

    def _append(self, key: Any, blobs: list[bytes], epoch: int | None,
                facts: list[tuple[int, bytes]], status: tuple[str, int] | None = None) -> int:
        t = self._tables()
        with t.lock:
            self._check(t, key, epoch)
            stream = t.events.get(key)
            if stream is None:
                stream = t.events[key] = []
            stream.extend(blobs)
            for h, blob in facts:
                t.facts[h] = blob
            if status is not None:
                row = t.status.get(key)
                if row is None:
                    t.status[key] = [None, 0, status[0], status[1]]
                else:
                    row[2], row[3] = status
            return len(stream)

    def _count(self, key: Any) -> int | None:
        t = self._tables()
        with t.lock:
            stream = t.events.get(key)
            return None if stream is None else len(stream)

    def _read_events(self, key: Any, first: int, last: int) -> list[bytes]:
        t = self._tables()
        with t.lock:
            stream = t.events.get(key)
            if stream is None:
                return []
            return stream[first - 1:last]

    def _put_snapshot(self, key: Any, cursor: int, blob: bytes) -> None:
        t = self._tables()
        with t.lock:
            t.snapshots[key] = (cursor, blob)

    def _get_snapshot(self, key: Any) -> tuple[int, bytes] | None:
        t = self._tables()
        with t.lock:
            return t.snapshots.get(key)

    def _put_facts(self, items: list[tuple[int, bytes]]) -> None:
        t = self._tables()
        with t.lock:
            t.facts.update(items)

    def _get_fact(self, fact_hash: int) -> bytes | None:
        t = self._tables()
        with t.lock:
            return t.facts.get(fact_hash)

    def _delete(self, key: Any) -> None:
        t = self._tables()
        with t.lock:
            t.logs.pop(key, None)
            t.events.pop(key, None)
            t.snapshots.pop(key, None)
            t.status.pop(key, None)

    def _acquire(self, key: Any, owner: str, now_ms: int) -> int:
        t = self._tables()
        with t.lock:
            t.epoch_seq += 1
            epoch = t.epoch_seq
            row = t.status.get(key)
            if row is None:
                t.status[key] = [owner, epoch, None, now_ms]
            else:
                row[0], row[1], row[3] = owner, epoch, now_ms
            return epoch

    def _get_owner(self, key: Any) -> tuple[str, int] | None:
        t = self._tables()
        with t.lock:
            row = t.status.get(key)
            if row is None or row[0] is None:
                return None
            return (row[0], row[1])

    def _set_status(self, key: Any, status: str, epoch: int | None, now_ms: int) -> None:
        t = self._tables()
        with t.lock:
            self._check(t, key, epoch)
            row = t.status.get(key)
            if row is None:
                t.status[key] = [None, 0, status, now_ms]
            else:
                row[2], row[3] = status, now_ms

    def _get_status(self, key: Any) -> str | None:
        t = self._tables()
        with t.lock:
            row = t.status.get(key)
            return None if row is None else row[2]

    def _all_status(self) -> list[tuple[Any, str]]:
        t = self._tables()
        with t.lock:
            return [(k, row[2]) for k, row in t.status.items() if row[2] is not None]

    def _table_specs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {self.table_names[role]: (spec[1], spec[2]) for role, spec in _SPECS.items()}

    def _table_size(self, name: str) -> int:
        t = self._tables()
        role = next(r for r, n in self.table_names.items() if n == name)
        with t.lock:
            if role == "events":
                return sum(len(s) for s in t.events.values())
            return len({"logs": t.logs, "counters": t.events, "facts": t.facts,
                        "snapshots": t.snapshots, "status": t.status}[role])

    def _drop_tables(self) -> None:
        if _tables_for(self.runner_name, create=False) is self._t:
            type(self).drop(self.runner_name)

    def _close(self) -> None:
        pass
