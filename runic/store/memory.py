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

import bisect
import logging
import os
from operator import itemgetter
import threading
from typing import Any, ClassVar

from .base import BaseStore, StaleNode, AppendRow, StaleEpoch
from .checksum import count_crc, key_seed
from .cluster import fair_share
from .errors import StoreClosedError

__all__ = ["MemoryStore"]

_first_seq = itemgetter(0)

log = logging.getLogger("runic.store")

#: ETS table kinds and fields of each table, by logical role
_SPECS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "logs": ("StoreTable", "set", ("workflow_id", "log", "updated_at")),
    "events": ("StoreEvents", "ordered_set", ("key", "event")),
    "counters": ("StoreCounters", "set", ("workflow_id", "count")),
    "facts": ("FactTable", "set", ("fact_hash", "value")),
    "snapshots": ("StoreSnapshots", "set", ("workflow_id", "cursor", "snapshot")),
    "status": ("StoreStatus", "set", ("workflow_id", "owner", "epoch", "status", "updated_at", "node",
                                      "generation")),
    "nodes": ("StoreNodes", "set", ("node", "generation", "alive", "lease_expires_at", "info")),
    "inbox": ("StoreInbox", "ordered_set", ("key", "kind", "payload", "done", "error")),
}


class _Tables:
    """The tables of one runner in this process. All access holds ``lock`` (reentrant)."""

    __slots__ = ("runner_name", "lock", "logs", "events", "counters", "facts", "snapshots", "status",
                 "nodes", "inbox", "epoch_seq", "gc_gen", "dropped")

    def __init__(self, runner_name: str) -> None:
        self.runner_name = runner_name
        self.lock = threading.RLock()
        #: workflow key -> (blob, crc, updated_at)
        self.logs: dict[Any, tuple[bytes, int, int]] = {}
        #: workflow key -> list of event rows (first seq, n, blob, crc), one per append
        self.events: dict[Any, list[tuple[int, int, bytes, int]]] = {}
        #: workflow key -> (count, crc)
        self.counters: dict[Any, tuple[int, int]] = {}
        #: fact hash -> [blob, crc, owner key or None (shared), pinned, gc generation]
        self.facts: dict[int, list[Any]] = {}
        #: workflow key -> (cursor, blob, crc, updated_at)
        self.snapshots: dict[Any, tuple[int, bytes, int, int]] = {}
        #: workflow key -> [owner, epoch, status, updated_at, node, generation]
        self.status: dict[Any, list[Any]] = {}
        #: node name -> [generation, alive, lease_expires_at, info]
        self.nodes: dict[str, list[Any]] = {}
        #: workflow key -> {seq: [kind, blob or None once done, crc, done, error]} (cluster inbox)
        self.inbox: dict[Any, dict[int, list[Any]]] = {}
        self.epoch_seq = 0
        self.gc_gen = 0
        self.dropped = False

    def clear(self) -> None:
        for table in (self.logs, self.events, self.counters, self.facts, self.snapshots,
                      self.status, self.nodes, self.inbox):
            table.clear()


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
    ``<runner>.StoreCounters``, ``<runner>.FactTable`` (plus ``<runner>.StoreSnapshots``,
    ``<runner>.StoreStatus`` and ``<runner>.StoreNodes``). Rows carry the same checksums as on
    disc (computed by :class:`~runic.store.base.BaseStore`), so both adapters behave alike.
    """

    kind: ClassVar[str] = "memory"
    #: the tables live in one process (see :attr:`BaseStore.shared`); a store actor started
    #: with ``(MemoryStore, {...})`` owns them and drops them when it stops
    shared: ClassVar[bool] = False

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
            tables.clear()
        log.debug("memory tables of runner %r dropped", runner_name)
        return True

    @property
    def storage_type(self) -> str:
        """Always ``"ram_copies"``: the tables live in this process's memory."""
        return "ram_copies"

    # ------------------------------------------------------------------ helpers

    def _tables(self) -> _Tables:
        t = self._t
        if t is None or t.dropped or self._pid != os.getpid():
            raise StoreClosedError(
                f"the memory tables of runner {self.runner_name!r} are gone (dropped when their "
                "store actor stopped, or this handle crossed a fork); open a new MemoryStore"
            )
        return t

    # ------------------------------------------------------------------ primitives

    def _put_log(self, key: Any, blob: bytes, crc: int, updated_at: int) -> None:
        t = self._tables()
        with t.lock:
            t.logs[key] = (blob, crc, updated_at)

    def _get_log(self, key: Any) -> tuple[bytes, int] | None:
        t = self._tables()
        with t.lock:
            row = t.logs.get(key)
        return None if row is None else (row[0], row[1])

    def _log_keys(self) -> list[Any]:
        t = self._tables()
        with t.lock:
            return list(t.logs)

    def _exists(self, key: Any) -> bool:
        t = self._tables()
        with t.lock:
            return key in t.logs or key in t.counters

    def _check(self, t: _Tables, key: Any, epoch: int | None) -> None:
        if epoch is None:
            return
        row = t.status.get(key)
        current = row[1] if row is not None else 0
        if epoch != current:
            raise StaleEpoch(current, row[0] if row is not None else None)

    def _append(self, key: Any, row: AppendRow | None, epoch: int | None,
                facts: list[tuple[int, bytes, int]], status: tuple[str, int] | None) -> int:
        t = self._tables()
        with t.lock:
            self._check(t, key, epoch)
            stream = t.events.get(key)
            if stream is None:
                stream = t.events[key] = []
            counter = t.counters.get(key)
            before = counter[0] if counter is not None else 0
            count = before
            if row is not None:
                stream.append((before + 1, row.n, row.blob, row.crc(before + 1)))
                count = before + row.events
            if row is not None or counter is None:
                t.counters[key] = (count, count_crc(count, row.seed if row is not None else key_seed(key)))
            table = t.facts
            for h, blob, crc in facts:
                frow = table.get(h)
                if frow is None:
                    table[h] = [blob, crc, key, False, t.gc_gen]
                else:
                    if frow[2] != key or type(frow[2]) is not type(key):
                        frow[2] = None  # written by another workflow too: shared
                    frow[0], frow[1], frow[4] = blob, crc, t.gc_gen
            if status is not None:
                srow = t.status.get(key)
                if srow is None:
                    t.status[key] = [None, 0, status[0], status[1], None, None]
                else:
                    srow[2], srow[3] = status
            return count

    def _count(self, key: Any) -> tuple[int, int] | None:
        t = self._tables()
        with t.lock:
            return t.counters.get(key)

    def _read_rows(self, key: Any, first: int, last: int, limit: int) -> list[tuple[int, int, bytes, int]]:
        t = self._tables()
        with t.lock:
            stream = t.events.get(key)
            if not stream:
                return []
            i = max(0, bisect.bisect_right(stream, first, key=_first_seq) - 1)
            out = []
            for row in stream[i:i + limit]:
                if row[0] > last:
                    break
                out.append(row)
            return out

    def _put_snapshot(self, key: Any, cursor: int, blob: bytes, crc: int) -> None:
        t = self._tables()
        with t.lock:
            t.snapshots[key] = (cursor, blob, crc, self._now_ms())

    def _get_snapshot(self, key: Any) -> tuple[int, bytes, int] | None:
        t = self._tables()
        with t.lock:
            row = t.snapshots.get(key)
        return None if row is None else (row[0], row[1], row[2])

    def _put_facts(self, items: list[tuple[int, bytes, int]]) -> None:
        t = self._tables()
        with t.lock:
            for h, blob, crc in items:
                row = t.facts.get(h)
                if row is None:
                    t.facts[h] = [blob, crc, None, True, t.gc_gen]
                else:
                    row[0], row[1], row[3], row[4] = blob, crc, True, t.gc_gen

    def _get_fact(self, fact_hash: int) -> tuple[bytes, int] | None:
        t = self._tables()
        with t.lock:
            row = t.facts.get(fact_hash)
        return None if row is None else (row[0], row[1])

    def _delete_facts(self, fact_hashes: list[int]) -> int:
        t = self._tables()
        with t.lock:
            return sum(t.facts.pop(h, None) is not None for h in fact_hashes)

    def _workflow_keys(self) -> set[Any]:
        t = self._tables()
        with t.lock:
            return set(t.logs) | set(t.counters) | set(t.snapshots) | set(t.status)

    def _gc_begin(self) -> int:
        t = self._tables()
        with t.lock:
            t.gc_gen += 1
            return t.gc_gen

    def _gc_sweep(self, generation: int, referenced: set[int]) -> tuple[int, int]:
        t = self._tables()
        with t.lock:
            keys = self._workflow_keys()
            doomed, kept = [], 0
            for h, (_blob, _crc, owner, pinned, gen) in t.facts.items():
                if pinned or gen >= generation or (owner is not None and owner in keys):
                    continue
                if h in referenced:
                    kept += 1
                else:
                    doomed.append(h)
            for h in doomed:
                del t.facts[h]
            return len(doomed), kept

    def _delete(self, key: Any) -> None:
        t = self._tables()
        with t.lock:
            t.logs.pop(key, None)
            t.events.pop(key, None)
            t.counters.pop(key, None)
            t.snapshots.pop(key, None)
            t.status.pop(key, None)
            t.inbox.pop(key, None)
            owned = [h for h, row in t.facts.items()
                     if not row[3] and row[2] == key and type(row[2]) is type(key)]
            for h in owned:
                del t.facts[h]

    def _acquire(self, key: Any, owner: str, now_ms: int, node: str | None,
                 generation: int | None) -> int:
        t = self._tables()
        with t.lock:
            row = t.status.get(key)
            t.epoch_seq = max(t.epoch_seq, row[1] if row is not None else 0) + 1
            epoch = t.epoch_seq
            if row is None:
                t.status[key] = [owner, epoch, None, now_ms, node, generation]
            else:
                row[0], row[1], row[3], row[4], row[5] = owner, epoch, now_ms, node, generation
            return epoch

    def _get_owner(self, key: Any) -> tuple[str, int, str | None, int | None] | None:
        t = self._tables()
        with t.lock:
            row = t.status.get(key)
            if row is None or row[0] is None:
                return None
            return (row[0], row[1], row[4], row[5])

    def _set_status(self, key: Any, status: str, epoch: int | None, now_ms: int) -> None:
        t = self._tables()
        with t.lock:
            self._check(t, key, epoch)
            row = t.status.get(key)
            if row is None:
                t.status[key] = [None, 0, status, now_ms, None, None]
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

    def _status_times(self) -> list[tuple[Any, int]]:
        t = self._tables()
        with t.lock:
            return [(k, row[3]) for k, row in t.status.items()]

    # -- node leases

    def _register_node(self, node: str, lease_ms: int, info: bytes | None, now_ms: int) -> int:
        t = self._tables()
        with t.lock:
            row = t.nodes.get(node)
            generation = 1 if row is None else row[0] + 1
            t.nodes[node] = [generation, True, now_ms + lease_ms, info]
            return generation

    def _renew_node(self, node: str, generation: int, lease_ms: int, now_ms: int) -> int:
        t = self._tables()
        with t.lock:
            row = t.nodes.get(node)
            if row is None or row[0] != generation or not row[1]:
                raise StaleNode(None if row is None else row[0], bool(row and row[1]))
            row[2] = now_ms + lease_ms
            return row[2]

    def _end_node(self, node: str, generation: int, now_ms: int) -> bool:
        t = self._tables()
        with t.lock:
            row = t.nodes.get(node)
            if row is None or row[0] != generation or not row[1]:
                return False
            row[1], row[2] = False, now_ms
            return True

    def _all_nodes(self) -> list[tuple[str, int, bool, int, bytes | None]]:
        t = self._tables()
        with t.lock:
            return [(name, row[0], row[1], row[2], row[3]) for name, row in sorted(t.nodes.items())]

    def _running_owners(self) -> list[tuple[Any, str, int]]:
        t = self._tables()
        with t.lock:
            return [(k, row[4], row[5]) for k, row in t.status.items()
                    if row[2] == "running" and row[4] is not None]

    def _orphans(self, statuses: list[str], now_ms: int) -> list[Any]:
        t = self._tables()
        wanted = set(statuses)
        with t.lock:
            out = []
            for k, row in t.status.items():
                if row[2] not in wanted:
                    continue
                node = t.nodes.get(row[4]) if row[4] is not None else None
                if node is None or node[0] != row[5] or not node[1] or node[2] <= now_ms:
                    out.append(k)
            return out

    # -- the cluster: takeover and inbox (see runic.store.cluster)

    def _takeover(self, node: str, generation: int, owner: str, limit: int | None,
                  now_ms: int) -> tuple[list[tuple[str, int]], list[tuple[Any, int]], int, int]:
        t = self._tables()
        with t.lock:
            dead = []
            for name, row in sorted(t.nodes.items()):
                if row[1] and row[2] <= now_ms and name != node:
                    row[1] = False
                    dead.append((name, row[0]))
            me = t.nodes.get(node)
            if me is None or me[0] != generation or not me[1] or me[2] <= now_ms:
                return dead, [], 0, 0
            live = sum(1 for row in t.nodes.values() if row[1] and row[2] > now_ms)
            orphans = sorted(self._orphans(["running"], now_ms), key=lambda k: (t.status[k][3], repr(k)))
            claimed = [(k, self._acquire(k, owner, now_ms, node, generation))
                       for k in orphans[:fair_share(len(orphans), live, limit)]]
            return dead, claimed, len(orphans), live

    def _inbox_put(self, key: Any, kind: str, blob: bytes, crc: int, now_ms: int) -> int:
        t = self._tables()
        with t.lock:
            rows = t.inbox.setdefault(key, {})
            seq = max(rows, default=0) + 1
            rows[seq] = [kind, blob, crc, False, None]
            return seq

    def _inbox_pending(self, node: str | None, generation: int | None,
                       key: Any = None) -> list[tuple[Any, int, str, bytes | None, int]]:
        t = self._tables()
        with t.lock:
            out: list[tuple[Any, int, str, bytes | None, int]] = []
            for k, rows in t.inbox.items():
                if key is not None and (k != key or type(k) is not type(key)):
                    continue
                key_ = k
                if node is not None:
                    st = t.status.get(key_)
                    if st is None or st[4] != node or st[5] != generation:
                        continue
                out.extend((key_, seq, r[0], r[1], r[2]) for seq, r in sorted(rows.items()) if not r[3])
            return out

    def _inbox_ack(self, key: Any, seq: int, error: str | None) -> None:
        t = self._tables()
        with t.lock:
            rows = t.inbox.get(key)
            if not rows:
                return
            for s in [s for s in rows if s < seq]:
                del rows[s]
            row = rows.get(seq)
            if row is not None:
                row[1], row[3], row[4] = None, True, error

    def _inbox_state(self, key: Any, seq: int) -> tuple[bool, str | None] | None:
        t = self._tables()
        with t.lock:
            row = (t.inbox.get(key) or {}).get(seq)
            return None if row is None else (bool(row[3]), row[4])

    def _table_specs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {self.table_names[role]: (spec[1], spec[2]) for role, spec in _SPECS.items()}

    def _table_size(self, name: str) -> int:
        t = self._tables()
        role = next(r for r, n in self.table_names.items() if n == name)
        with t.lock:
            if role == "events":
                return sum(r[1] or 1 for s in t.events.values() for r in s)  # events, not rows
            if role == "inbox":
                return sum(len(s) for s in t.inbox.values())
            tables: dict[str, dict[Any, Any]] = {
                "logs": t.logs, "counters": t.counters, "facts": t.facts,
                "snapshots": t.snapshots, "status": t.status, "nodes": t.nodes}
            return len(tables[role])

    def _drop_tables(self) -> None:
        if _tables_for(self.runner_name, create=False) is self._t:
            type(self).drop(self.runner_name)

    def _close(self) -> None:
        pass
