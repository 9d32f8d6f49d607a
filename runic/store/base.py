"""The store protocol, and its behaviour written once over a few adapter primitives.

:class:`Store` is the protocol of API.md ("Stores"). :class:`BaseStore` implements all of it —
argument checks, encoding through :mod:`runic.codec`, error translation, fencing errors, lazy
decoding of streams — on top of a small set of private primitives (``_put_log``, ``_append``,
``_read_events``...) that each adapter fills in with bytes-in/bytes-out storage
(:class:`~runic.store.memory.MemoryStore`, :class:`~runic.store.mnesia.MnesiaStore`). The split
follows dramatiq's result backends: the public behaviour lives in one place, so both adapters
behave identically, and an adapter is only its storage.

What is stored, and how:

* workflow ids are keys: a ``str`` id is stored as itself, any other hashable id as its codec
  encoding (so ``1``, ``1.0`` and ``True`` are different workflows, as in msgpack);
* a saved log is one codec blob; each appended event is its own blob, so a stream decodes
  events lazily, one at a time;
* fact values are codec blobs keyed by the fact hash, an unsigned 64-bit integer;
* snapshots are opaque ``bytes`` stored as given.

Beyond the API.md protocol, every store offers what the Runner needs for safe ownership and
restart: :meth:`BaseStore.acquire` / :meth:`BaseStore.owner` (ownership epochs, so that a stale
owner's writes are refused with :class:`~runic.store.errors.FencedError`), ``epoch=`` and
``facts=`` on :meth:`BaseStore.append`, and workflow statuses (:meth:`BaseStore.set_status`,
:meth:`BaseStore.status`, :meth:`BaseStore.list_status`).
"""

from __future__ import annotations

import abc
import builtins
import logging
import time
from typing import (
    Any,
    ClassVar,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Protocol,
    runtime_checkable,
)

from .. import codec
from .errors import (
    FencedError,
    NotFoundError,
    StoreArgumentError,
    StoreClosedError,
    StoreDecodeError,
    StoreEncodeError,
)

__all__ = [
    "STATUSES",
    "Store",
    "BaseStore",
    "EventStream",
    "supports_stream",
]

log = logging.getLogger("runic.store")

STATUSES: tuple[str, ...] = ("running", "idle", "stopped", "failed", "cancelled")
"""The workflow statuses a store records (:meth:`BaseStore.set_status`)."""

_U64 = 1 << 64
_List = builtins.list

#: Logical table names used by the primitives, mapped by each adapter to its real table names.
TABLE_ROLES: tuple[str, ...] = ("logs", "events", "counters", "facts", "snapshots", "status")


@runtime_checkable
class Store(Protocol):
    """The store protocol: one instance is an initialised store handle ("store state").

    Snapshot stores implement ``save``/``load``/``checkpoint``; event-sourced stores also
    implement ``append``/``stream`` (see :func:`supports_stream`). Every method raises
    exceptions, never returns error tuples.
    """

    def save(self, workflow_id: Hashable, log: _List) -> None:
        """Upsert the full snapshot log of ``workflow_id`` (overwrites, stamps the time)."""

    def load(self, workflow_id: Hashable) -> _List:
        """Return the last saved log; raise :class:`~runic.store.NotFoundError` if none."""

    def append(self, workflow_id: Hashable, events: _List) -> int:
        """Append events in order; return the new cursor (events stored; the first is seq 1)."""

    def stream(self, workflow_id: Hashable) -> Iterator:
        """Iterate the events in sequence order; raise ``NotFoundError`` if there is no stream."""

    def save_snapshot(self, workflow_id: Hashable, cursor: int, snapshot: bytes) -> None:
        """Store an opaque snapshot taken at ``cursor`` (replaces the previous one)."""

    def load_snapshot(self, workflow_id: Hashable) -> tuple[int, bytes]:
        """Return ``(cursor, snapshot)``; raise ``NotFoundError`` if none."""

    def save_fact(self, fact_hash: int, value: Any) -> None:
        """Upsert a raw fact value under its hash (shared by every workflow of the runner)."""

    def load_fact(self, fact_hash: int) -> Any:
        """Return the fact value; raise ``NotFoundError`` if none."""

    def checkpoint(self, workflow_id: Hashable, log: _List) -> None:
        """Same effect as :meth:`save`."""

    def delete(self, workflow_id: Hashable) -> None:
        """Remove the log, events and counter of ``workflow_id``; no-op if absent."""

    def list(self) -> _List:
        """Workflow ids with a saved log."""

    def exists(self, workflow_id: Hashable) -> bool:
        """True if a log was saved or events were appended for ``workflow_id``."""

    def close(self) -> None:
        """Release the handle (the data stays)."""


def supports_stream(store: Any) -> bool:
    """True iff ``store`` (an instance or a class) implements both ``append`` and ``stream``."""
    return callable(getattr(store, "append", None)) and callable(getattr(store, "stream", None))


class _Stale(Exception):
    """Raised by a primitive, inside its transaction, when a write's epoch is not current."""

    def __init__(self, current: int, owner: str | None) -> None:
        super().__init__(current, owner)
        self.current = current
        self.owner = owner


class EventStream(Iterator[Any]):
    """A lazy iterator over a workflow's events, returned by :meth:`BaseStore.stream`.

    The end of the stream is fixed when ``stream()`` is called: ``cursor`` is the number of
    events stored at that moment, and events appended later are not included (Mnesia's
    behaviour; spec quirk 31). Events are read in pages and decoded one at a time as they are
    consumed. If the workflow is deleted while the stream is being consumed, the stream stops
    at the first missing sequence number.
    """

    __slots__ = ("cursor", "start", "_it")

    def __init__(self, store: "BaseStore", key: Any, workflow_id: Hashable, start: int,
                 cursor: int) -> None:
        #: the last sequence number this stream yields (the stored count at call time)
        self.cursor = cursor
        #: the first sequence number this stream yields
        self.start = start
        self._it = store._iter_events(key, workflow_id, start, cursor)

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def __repr__(self) -> str:
        return f"<EventStream seq {self.start}..{self.cursor}>"


class BaseStore(abc.ABC):
    """The store behaviour, written once over adapter primitives.

    Subclasses set :attr:`kind` and :attr:`table_names` and implement the ``_``-prefixed
    abstract primitives, which take *keys* (a ``str`` id as itself, any other id as its codec
    bytes) and encoded ``bytes``. Primitives that write are atomic: each is one transaction.

    A store is a context manager; leaving the ``with`` block closes it.
    """

    #: short adapter name used in child specs ("memory", "mnesia")
    kind: ClassVar[str] = "base"
    #: rows read per page while streaming
    stream_page: ClassVar[int] = 2048

    def __init__(self, runner_name: str, **opts: Any) -> None:
        if not isinstance(runner_name, str) or not runner_name:
            raise StoreArgumentError(
                f"runner_name must be a non-empty str, got {runner_name!r}"
            )
        for name in opts:
            log.warning("%s(%r): ignoring unknown option %r", type(self).__name__, runner_name, name)
        self.runner_name = runner_name
        self._closed = False
        #: real table name for each logical role (filled in by the adapter)
        self.table_names: dict[str, str] = {}

    # ------------------------------------------------------------------ context management

    def __enter__(self) -> "BaseStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release this handle. The data stays; closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self._close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(
                f"{type(self).__name__}({self.runner_name!r}) is closed; open a new store handle"
            )

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} {self.runner_name!r}{state}>"

    # ------------------------------------------------------------------ key and value coding

    def _key(self, workflow_id: Hashable) -> Any:
        if type(workflow_id) is str:
            return workflow_id
        try:
            hash(workflow_id)
        except TypeError:
            raise StoreArgumentError(
                f"workflow id {workflow_id!r} is not hashable; use a str (or another hashable value)"
            ) from None
        try:
            return codec.dumps(workflow_id)
        except codec.EncodeError as exc:
            raise StoreEncodeError(
                f"workflow id {workflow_id!r} cannot be stored: {exc}. Use a str id"
            ) from exc

    def _unkey(self, key: Any) -> Hashable:
        if type(key) is str:
            return key
        return self._decode(key, "workflow id", self.table_names.get("logs", "?"), key)

    def _encode(self, value: Any, what: str, role: str) -> bytes:
        try:
            return codec.dumps(value)
        except codec.EncodeError as exc:
            raise self._encode_error(exc, what, role) from exc

    def _encode_error(self, exc: Exception, what: str, role: str) -> StoreEncodeError:
        return StoreEncodeError(
            f"cannot store {what} in table {self.table_names.get(role, role)!r}: {exc}. "
            "Nothing was written"
        )

    def _decode(self, data: bytes, what: str, table: str, key: Any) -> Any:
        try:
            return codec.loads(data)
        except codec.DecodeError as exc:
            raise StoreDecodeError(
                f"cannot decode {what} for {key!r} in table {table!r}: {exc}. If it names an "
                "unregistered record type, import the module that registers it before reading; "
                "otherwise the stored bytes are damaged (restore the store from a backup, or "
                "delete the workflow)"
            ) from exc

    @staticmethod
    def _fact_key(fact_hash: Any) -> int:
        if type(fact_hash) is not int or not 0 <= fact_hash < _U64:
            raise StoreArgumentError(
                f"a fact hash must be an int in [0, 2**64), got {fact_hash!r}"
            )
        return fact_hash

    def _fact_items(self, facts: Mapping[int, Any] | None) -> _List[tuple[int, bytes]]:
        if not facts:
            return []
        if not isinstance(facts, Mapping):
            raise StoreArgumentError(f"facts must be a mapping of fact hash to value, got {type(facts).__name__}")
        return [
            (self._fact_key(h), self._encode(v, f"the value of fact {h}", "facts"))
            for h, v in facts.items()
        ]

    def _fenced(self, workflow_id: Hashable, epoch: int, stale: _Stale, operation: str) -> FencedError:
        return FencedError(workflow_id, epoch, stale.current, stale.owner, operation,
                           self.table_names.get("status"))

    @staticmethod
    def _check_epoch(epoch: Any) -> None:
        if epoch is not None and (type(epoch) is not int or epoch < 0):
            raise StoreArgumentError(f"epoch must be None or a non-negative int, got {epoch!r}")

    @staticmethod
    def _now_ms() -> int:
        return time.time_ns() // 1_000_000

    # ------------------------------------------------------------------ snapshot logs

    def save(self, workflow_id: Hashable, log: _List) -> None:
        """Upsert the full snapshot log of ``workflow_id`` (overwrites), stamping the time.

        ``log`` is a list of events (any codec-encodable values). An unencodable value raises
        :class:`~runic.store.StoreEncodeError` and writes nothing.
        """
        self._check_open()
        key = self._key(workflow_id)
        if not isinstance(log, (list, tuple)):
            log = _List(log)
        blob = self._encode(_List(log), f"the log of workflow {workflow_id!r}", "logs")
        self._put_log(key, blob, self._now_ms())

    def checkpoint(self, workflow_id: Hashable, log: _List) -> None:
        """Same effect as :meth:`save` (every write is already a durable transaction)."""
        self.save(workflow_id, log)

    def load(self, workflow_id: Hashable) -> _List:
        """Return the log last saved for ``workflow_id``.

        Raises :class:`~runic.store.NotFoundError` if none was saved.
        """
        self._check_open()
        key = self._key(workflow_id)
        blob = self._get_log(key)
        if blob is None:
            raise NotFoundError("saved log", workflow_id, self.table_names.get("logs"))
        return self._decode(blob, "the saved log", self.table_names["logs"], workflow_id)

    # ------------------------------------------------------------------ event streams

    def append(self, workflow_id: Hashable, events: Iterable[Any], *, epoch: int | None = None,
               facts: Mapping[int, Any] | None = None, status: str | None = None) -> int:
        """Append ``events`` in order and return the new cursor (events now stored).

        Sequence numbers start at 1 and stay contiguous, also with several processes appending
        to one workflow. The whole call is one transaction: the counter read, the events, the
        counter update and the ``facts`` (an optional ``{fact_hash: value}`` mapping saved like
        :meth:`save_fact`) are written together or not at all.

        With ``epoch`` (from :meth:`acquire`), the append is fenced: if ``epoch`` is not the
        workflow's current epoch, :class:`~runic.store.FencedError` is raised and nothing is
        written. ``epoch=None`` appends without checking ownership.

        Appending ``[]`` creates an empty stream (``exists`` becomes true, ``stream`` yields
        nothing) and returns the current cursor. ``status`` also records the workflow's status
        (as :meth:`set_status`) in the same transaction.
        """
        self._check_open()
        self._check_epoch(epoch)
        if status is not None and status not in STATUSES:
            raise StoreArgumentError(f"unknown status {status!r}; use one of {STATUSES}")
        key = self._key(workflow_id)
        dumps = codec.dumps
        try:
            blobs = [dumps(e) for e in events]
        except codec.EncodeError as exc:
            raise self._encode_error(exc, f"an event of workflow {workflow_id!r}", "events") from exc
        fact_items = self._fact_items(facts) if facts else []
        try:
            if status is None:
                return self._append(key, blobs, epoch, fact_items)
            return self._append(key, blobs, epoch, fact_items, (status, self._now_ms()))
        except _Stale as stale:
            raise self._fenced(workflow_id, epoch, stale, "append") from None  # type: ignore[arg-type]

    def stream(self, workflow_id: Hashable, *, start: int = 1) -> EventStream:
        """Return a lazy iterator over the events of ``workflow_id`` in sequence order.

        The stream ends at the count stored when ``stream`` is called (later appends are not
        included). ``start`` skips the events before that sequence number (the tail after a
        snapshot). Raises :class:`~runic.store.NotFoundError` now, not on first ``next``, if
        nothing was ever appended (or the workflow was deleted).
        """
        self._check_open()
        if type(start) is not int or start < 1:
            raise StoreArgumentError(f"start must be an int >= 1, got {start!r}")
        key = self._key(workflow_id)
        count = self._count(key)
        if count is None:
            raise NotFoundError("event stream", workflow_id, self.table_names.get("counters"))
        return EventStream(self, key, workflow_id, start, count)

    def _iter_events(self, key: Any, workflow_id: Hashable, start: int, last: int) -> Iterator[Any]:
        loads = codec.loads
        decode_error = codec.DecodeError
        table = self.table_names["events"]
        page = self.stream_page
        seq = start
        while seq <= last:
            self._check_open()
            upto = min(last, seq + page - 1)
            blobs = self._read_events(key, seq, upto)
            for blob in blobs:
                try:
                    event = loads(blob)
                except decode_error:
                    self._decode(blob, f"event {seq}", table, workflow_id)
                    raise  # pragma: no cover - _decode always raises here
                seq += 1
                yield event
            if seq <= upto:  # a missing sequence number: the workflow was deleted meanwhile
                log.debug("stream of %r stopped at missing seq %d", workflow_id, seq)
                return

    def cursor(self, workflow_id: Hashable) -> int:
        """The number of events stored for ``workflow_id`` (0 if it has no stream)."""
        self._check_open()
        count = self._count(self._key(workflow_id))
        return 0 if count is None else count

    # ------------------------------------------------------------------ snapshots

    def save_snapshot(self, workflow_id: Hashable, cursor: int, snapshot: bytes) -> None:
        """Store ``snapshot`` (opaque bytes) taken at event ``cursor``, replacing any previous one."""
        self._check_open()
        if type(cursor) is not int or cursor < 0:
            raise StoreArgumentError(f"cursor must be a non-negative int, got {cursor!r}")
        if not isinstance(snapshot, (bytes, bytearray, memoryview)):
            raise StoreArgumentError(
                f"a snapshot must be bytes, got {type(snapshot).__name__}; encode it first "
                "(for example with runic.codec.dumps)"
            )
        self._put_snapshot(self._key(workflow_id), cursor, bytes(snapshot))

    def load_snapshot(self, workflow_id: Hashable) -> tuple[int, bytes]:
        """Return ``(cursor, snapshot)``; raise :class:`~runic.store.NotFoundError` if none."""
        self._check_open()
        found = self._get_snapshot(self._key(workflow_id))
        if found is None:
            raise NotFoundError("snapshot", workflow_id, self.table_names.get("snapshots"))
        return found

    # ------------------------------------------------------------------ facts

    def save_fact(self, fact_hash: int, value: Any) -> None:
        """Upsert the raw value of a fact under its hash (an int in ``[0, 2**64)``)."""
        self._check_open()
        h = self._fact_key(fact_hash)
        self._put_facts([(h, self._encode(value, f"the value of fact {h}", "facts"))])

    def save_facts(self, facts: Mapping[int, Any]) -> None:
        """Upsert several fact values (``{fact_hash: value}``) in one transaction."""
        self._check_open()
        items = self._fact_items(facts)
        if items:
            self._put_facts(items)

    def load_facts(self, fact_hashes: Iterable[int]) -> dict[int, Any]:
        """``{hash: value}`` for the given fact hashes that have a stored value (missing ones
        are left out). One read for many values: what resuming a workflow needs."""
        self._check_open()
        keys = [self._fact_key(h) for h in fact_hashes]
        table = self.table_names["facts"]
        return {h: self._decode(blob, "the fact value", table, h) for h, blob in self._get_facts(keys)}

    def _get_facts(self, fact_hashes: _List[int]) -> Iterable[tuple[int, bytes]]:
        """Adapter primitive (default: one lookup per hash)."""
        for h in fact_hashes:
            blob = self._get_fact(h)
            if blob is not None:
                yield h, blob

    def load_fact(self, fact_hash: int) -> Any:
        """Return the value stored for ``fact_hash``; raise ``NotFoundError`` if none."""
        self._check_open()
        h = self._fact_key(fact_hash)
        blob = self._get_fact(h)
        if blob is None:
            raise NotFoundError("fact value", fact_hash, self.table_names.get("facts"))
        return self._decode(blob, "the fact value", self.table_names["facts"], fact_hash)

    # ------------------------------------------------------------------ ownership and status

    def acquire(self, workflow_id: Hashable, owner: str) -> int:
        """Take ownership of ``workflow_id`` for ``owner`` and return a new epoch.

        The epoch is strictly larger than any epoch handed out before by this runner's tables
        (also across :meth:`delete`), so every earlier owner's fenced writes are refused from
        now on. One transaction.
        """
        self._check_open()
        if not isinstance(owner, str):
            raise StoreArgumentError(f"owner must be a str, got {owner!r}")
        return self._acquire(self._key(workflow_id), owner, self._now_ms())

    def owner(self, workflow_id: Hashable) -> tuple[str, int] | None:
        """``(owner, epoch)`` of the last :meth:`acquire` of ``workflow_id``, or ``None``."""
        self._check_open()
        return self._get_owner(self._key(workflow_id))

    def set_status(self, workflow_id: Hashable, status: str, *, epoch: int | None = None) -> None:
        """Record the status of ``workflow_id`` (one of :data:`STATUSES`).

        Fenced like :meth:`append`: with a stale ``epoch`` it raises
        :class:`~runic.store.FencedError` and writes nothing.
        """
        self._check_open()
        if status not in STATUSES:
            raise StoreArgumentError(f"unknown status {status!r}; expected one of {STATUSES}")
        self._check_epoch(epoch)
        try:
            self._set_status(self._key(workflow_id), status, epoch, self._now_ms())
        except _Stale as stale:
            raise self._fenced(workflow_id, epoch, stale, "set_status") from None  # type: ignore[arg-type]

    def status(self, workflow_id: Hashable) -> str | None:
        """The last status recorded for ``workflow_id``, or ``None``."""
        self._check_open()
        return self._get_status(self._key(workflow_id))

    def list_status(self, statuses: Iterable[str] | None = None) -> dict[Hashable, str]:
        """``{workflow_id: status}`` of every workflow with a recorded status.

        ``statuses`` keeps only those statuses (for example ``["running", "idle"]`` to find the
        workflows a restarted runner should resume).
        """
        self._check_open()
        wanted = None if statuses is None else set(statuses)
        if wanted is not None and not wanted <= set(STATUSES):
            raise StoreArgumentError(f"unknown statuses {sorted(wanted - set(STATUSES))}")
        return {
            self._unkey(k): s for k, s in self._all_status() if wanted is None or s in wanted
        }

    # ------------------------------------------------------------------ administration

    def delete(self, workflow_id: Hashable) -> None:
        """Remove the log, events, counter, snapshot, status and ownership of ``workflow_id``.

        Fact values are kept (they are shared by every workflow of the runner). Deleting an
        unknown id does nothing.
        """
        self._check_open()
        self._delete(self._key(workflow_id))

    def exists(self, workflow_id: Hashable) -> bool:
        """True if a log was saved or a stream was appended to for ``workflow_id``."""
        self._check_open()
        return self._exists(self._key(workflow_id))

    def table_info(self, table: str, key: str) -> Any:
        """Describe a table, as Mnesia's ``table_info/2`` does.

        ``table`` is a full name (``"app.WorkflowStore"``) or a short one (``"WorkflowStore"``);
        ``key`` is ``"type"`` (``"set"``/``"ordered_set"``), ``"attributes"`` (list of field
        names), ``"storage_type"``, ``"size"`` (number of rows) or ``"all"`` (a dict of those).
        """
        self._check_open()
        specs = self._table_specs()
        name = table if table in specs else f"{self.runner_name}.{table}"
        spec = specs.get(name)
        if spec is None:
            raise NotFoundError("table", table)
        info = {
            "name": name,
            "type": spec[0],
            "attributes": _List(spec[1]),
            "storage_type": self.storage_type,
        }
        if key == "size" or key == "all":
            info["size"] = self._table_size(name)
        if key == "all":
            return info
        if key not in info:
            raise StoreArgumentError(
                f"unknown table_info key {key!r}; use type, attributes, storage_type, size or all"
            )
        return info[key]

    def drop_tables(self) -> None:
        """Delete this runner's tables with all their data (Mnesia's ``delete_table``).

        Other handles on the same runner fail from then on; a new store handle for the runner
        creates empty tables. This handle is closed.
        """
        self._check_open()
        self._drop_tables()
        self.close()

    @property
    @abc.abstractmethod
    def storage_type(self) -> str:
        """How this store keeps its tables (``"disc_copies"``, ``"ram_copies"``...)."""

    def list(self) -> _List:
        """Ids of the workflows with a saved log (stream-only workflows are not listed)."""
        self._check_open()
        return [self._unkey(k) for k in self._log_keys()]

    # ------------------------------------------------------------------ primitives

    @abc.abstractmethod
    def _put_log(self, key: Any, blob: bytes, updated_at: int) -> None: ...

    @abc.abstractmethod
    def _get_log(self, key: Any) -> bytes | None: ...

    @abc.abstractmethod
    def _log_keys(self) -> _List[Any]: ...

    @abc.abstractmethod
    def _exists(self, key: Any) -> bool: ...

    @abc.abstractmethod
    def _append(self, key: Any, blobs: _List[bytes], epoch: int | None,  # + status: (str, now_ms) | None
                facts: _List[tuple[int, bytes]]) -> int:
        """One transaction: check ``epoch`` (raise :class:`_Stale`), write events at
        count+1.., the new count and the facts; return the new count."""

    @abc.abstractmethod
    def _count(self, key: Any) -> int | None: ...

    @abc.abstractmethod
    def _read_events(self, key: Any, first: int, last: int) -> _List[bytes]:
        """Events ``first..last`` in order, stopping before the first missing one."""

    @abc.abstractmethod
    def _put_snapshot(self, key: Any, cursor: int, blob: bytes) -> None: ...

    @abc.abstractmethod
    def _get_snapshot(self, key: Any) -> tuple[int, bytes] | None: ...

    @abc.abstractmethod
    def _put_facts(self, items: _List[tuple[int, bytes]]) -> None: ...

    @abc.abstractmethod
    def _get_fact(self, fact_hash: int) -> bytes | None: ...

    @abc.abstractmethod
    def _delete(self, key: Any) -> None: ...

    @abc.abstractmethod
    def _acquire(self, key: Any, owner: str, now_ms: int) -> int: ...

    @abc.abstractmethod
    def _get_owner(self, key: Any) -> tuple[str, int] | None: ...

    @abc.abstractmethod
    def _set_status(self, key: Any, status: str, epoch: int | None, now_ms: int) -> None:
        """Check ``epoch`` (raise :class:`_Stale`) and record the status, in one transaction."""

    @abc.abstractmethod
    def _get_status(self, key: Any) -> str | None: ...

    @abc.abstractmethod
    def _all_status(self) -> _List[tuple[Any, str]]: ...

    @abc.abstractmethod
    def _table_specs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """``{table name: (type, attributes)}`` for :meth:`table_info`."""

    @abc.abstractmethod
    def _table_size(self, name: str) -> int: ...

    @abc.abstractmethod
    def _drop_tables(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...
