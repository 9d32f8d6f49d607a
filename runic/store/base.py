"""The store protocol, and its behaviour written once over a few adapter primitives.

:class:`Store` is runic's store protocol (the public part every store implements).
:class:`BaseStore` implements all of it — argument checks, encoding through :mod:`runic.codec`,
checksums, error translation, fencing errors, lazy decoding of streams, garbage collection,
node leases — on top of a small set of private primitives (``_put_log``, ``_append``,
``_read_rows``...) that each adapter fills in with bytes-in/bytes-out storage
(:class:`~runic.store.memory.MemoryStore`, :class:`~runic.store.mnesia.MnesiaStore`). The split
follows dramatiq's result backends: the public behaviour lives in one place, so both adapters
behave identically, and an adapter is only its storage. Every method runs in the caller's
thread; the adapters serialise their writes.

What is stored, and how:

* workflow ids follow the rule of :mod:`runic.ids` (``str``, ``int`` but not ``bool``, ``UUID``,
  ``bytes``, tuples of those). They are keys: a ``str`` id is stored as itself, any other id as
  its codec encoding (so ``7`` and ``"7"`` are different workflows);
* a saved log is one codec blob; each append is one event row holding that call's events as
  one flat batch (:func:`runic.codec.dumps_batch`), so an append writes one row whatever it
  holds, and a stream decodes one row at a time as it is consumed (rows written before
  schema 3 hold one event each, encoded alone, and are read as before);
* fact values are codec blobs keyed by the fact hash, an unsigned 64-bit integer;
* snapshots are opaque ``bytes`` stored as given;
* every one of those rows, and every event counter, carries a CRC-32 of its bytes and its key
  (:mod:`runic.store.checksum`), verified before anything is decoded: damage is a
  :class:`~runic.store.errors.CorruptStoreError` naming the workflow (or fact) and the table,
  never different data.

Beyond the protocol, every store offers what the Runner needs for safe ownership and restart:
:meth:`BaseStore.acquire` / :meth:`BaseStore.owner` (ownership epochs, so that a stale owner's
writes are refused with :class:`~runic.store.errors.FencedError`), ``epoch=`` and ``facts=``
on :meth:`BaseStore.append`, workflow statuses (:meth:`BaseStore.set_status`,
:meth:`BaseStore.status`, :meth:`BaseStore.list_status`), node leases
(:meth:`BaseStore.register_node` and the rest, :meth:`BaseStore.orphans`) and garbage
collection of fact values (:meth:`BaseStore.delete`, :meth:`BaseStore.gc`).

Fact values and their lifetime. A fact value written by ``append(..., facts=...)`` belongs to
the workflow that wrote it; when a second workflow writes the same hash (the same input fed to
two workflows, say) it becomes *shared*. :meth:`BaseStore.delete` removes the values the
deleted workflow owns; :meth:`BaseStore.gc` also removes shared values that no stored workflow
references any more (mark and sweep). Values saved with :meth:`BaseStore.save_fact` /
:meth:`BaseStore.save_facts` are *pinned*: neither ``delete`` nor ``gc`` removes them, only
:meth:`BaseStore.delete_facts`. Decision: ``save_fact`` is the public key-value API (the Runner
itself writes facts through ``append``), and a value a caller saved by hand must not vanish
because no workflow happens to mention it.
"""

from __future__ import annotations

import abc
import builtins
import logging
import math
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
from ..errors import ArgumentError, ErrorInfo
from ..facts import Fact, FactRef
from ..ids import check_workflow_id
from .checksum import blob_crc, count_crc, fact_crc, key_seed, row_crc, snapshot_crc
from .cluster import ClusterStore
from .errors import (
    CorruptStoreError,
    FencedError,
    NodeFencedError,
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
    "Ownership",
    "supports_stream",
]

log = logging.getLogger("runic.store")

STATUSES: tuple[str, ...] = ("running", "idle", "stopped", "failed", "cancelled")
"""The workflow statuses a store records (:meth:`BaseStore.set_status`)."""

_U64 = 1 << 64
_List = builtins.list


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
    """True iff ``store`` (an instance or a class) is event-sourced: a :class:`BaseStore` that
    declares :attr:`BaseStore.streams`, or any object with both ``append`` and ``stream``."""
    declared = getattr(store, "streams", None)
    if isinstance(declared, bool):
        return declared
    return callable(getattr(store, "append", None)) and callable(getattr(store, "stream", None))


class StaleEpoch(Exception):
    """Raised by a primitive, inside its transaction, when a write's epoch is not current.

    ``StaleEpoch``, ``StaleNode`` and ``AppendRow`` are for the adapters of this package (the
    vocabulary between :class:`BaseStore` and its primitives), not part of the public API."""

    def __init__(self, current: int, owner: str | None) -> None:
        super().__init__(current, owner)
        self.current = current
        self.owner = owner


class StaleNode(Exception):
    """Raised by a node primitive, inside its transaction, when a generation is not current
    (``current`` is ``None`` if the node is unknown) or the node was declared dead."""

    def __init__(self, current: int | None, alive: bool) -> None:
        super().__init__(current, alive)
        self.current = current
        self.alive = alive


class AppendRow:
    """What one append writes: its events as one flat batch ``blob`` holding ``n`` events
    (``n`` 0: one event encoded alone, the pre-schema-3 form), with the checksum seed of its
    workflow. The adapter decides the row's first sequence number inside its transaction and
    asks :meth:`crc` for the checksum that covers it. (``crc_xor`` lets a test store a row
    whose checksum does not match.)"""

    __slots__ = ("blob", "n", "seed", "crc_xor")

    def __init__(self, blob: bytes, n: int, seed: int, crc_xor: int = 0) -> None:
        self.blob = blob
        self.n = n
        self.seed = seed
        self.crc_xor = crc_xor

    @property
    def events(self) -> int:
        """How many events the row holds."""
        return self.n or 1

    def crc(self, first: int) -> int:
        return row_crc(first, self.n, self.blob, self.seed) ^ self.crc_xor


class Ownership(tuple):
    """``(owner, epoch)`` of a workflow, as :meth:`BaseStore.owner` returns it.

    A 2-tuple (``owner, epoch = store.owner(wid)`` keeps working) that also carries the
    ``node`` and ``generation`` recorded by :meth:`BaseStore.acquire` (``None`` if none were).
    """

    node: str | None
    generation: int | None

    def __new__(cls, owner: str, epoch: int, node: str | None = None,
                generation: int | None = None) -> "Ownership":
        self = super().__new__(cls, (owner, epoch))
        self.node = node
        self.generation = generation
        return self

    @property
    def owner(self) -> str:
        return self[0]

    @property
    def epoch(self) -> int:
        return self[1]

    def __reduce__(self) -> tuple:
        return (Ownership, (self[0], self[1], self.node, self.generation))

    def __repr__(self) -> str:
        return (f"Ownership(owner={self[0]!r}, epoch={self[1]}, node={self.node!r}, "
                f"generation={self.generation!r})")


class EventStream(Iterator[Any]):
    """A lazy iterator over a workflow's events, returned by :meth:`BaseStore.stream`.

    The end of the stream is fixed when ``stream()`` is called: ``cursor`` is the number of
    events stored at that moment, and events appended later are not included (Mnesia's
    behaviour). Events are read in pages, checked against their checksums and decoded one at a
    time as they are consumed. If the workflow is deleted while the stream is being consumed,
    the stream stops at the first missing sequence number; a sequence number missing while the
    workflow still exists is damage (:class:`~runic.store.CorruptStoreError`).
    """

    __slots__ = ("cursor", "start", "_it")

    def __init__(self, store: "BaseStore", key: Any, workflow_id: Hashable, start: int,
                 cursor: int) -> None:
        #: the last sequence number this stream yields (the stored count at call time)
        self.cursor = cursor
        #: the first sequence number this stream yields
        self.start = start
        self._it = store._iter_events(key, workflow_id, start, cursor)

    def __iter__(self) -> Iterator[Any]:
        # the generator itself: list(stream) and for-loops skip __next__ (one call per event)
        return self._it

    def __next__(self) -> Any:
        return next(self._it)

    def __repr__(self) -> str:
        return f"<EventStream seq {self.start}..{self.cursor}>"


def _ints_in(value: Any, out: set[int]) -> None:
    """Add to ``out`` every int in ``[0, 2**64)`` found anywhere inside a decoded ``value``
    (the references :meth:`BaseStore.gc` marks: a fact hash may sit in any field of an event)."""
    stack = [value]
    registered = codec._BY_CLASS
    while stack:
        v = stack.pop()
        t = type(v)
        if t is int:
            if 0 <= v < _U64:
                out.add(v)
        elif t is list or t is tuple or t is set or t is frozenset:
            stack.extend(v)
        elif t is dict:
            stack.extend(v.keys())
            stack.extend(v.values())
        elif t is Fact:
            stack.extend((v.hash, v.value, v.ancestry, v.meta))
        elif t is FactRef:
            stack.extend((v.hash, v.ancestry))
        elif t is not ErrorInfo:
            rec = registered.get(t)
            if rec is not None:
                stack.extend(getattr(v, f) for f in rec.fields)


class BaseStore(ClusterStore, abc.ABC):
    """The store behaviour, written once over adapter primitives.

    Subclasses set :attr:`kind` and :attr:`table_names` and implement the ``_``-prefixed
    abstract primitives, which take *keys* (a ``str`` id as itself, any other id as its codec
    bytes), encoded ``bytes`` and their checksums. Primitives that write are atomic: each is one
    transaction.

    A store is a context manager; leaving the ``with`` block closes it.
    """

    #: short adapter name (``"memory"``, ``"mnesia"``, ``"postgres"``), as the registry and
    #: the store actor's ``info`` show it
    kind: ClassVar[str] = "base"
    #: rows read per page while streaming
    stream_page: ClassVar[int] = 2048

    # -- what the adapter can do (read by the Runner, the store actor, the command line; so
    #    that none of them has to know the adapter classes)

    #: several processes (worker hosts on this machine, or other machines) can open handles on
    #: the same tables. False for :class:`~runic.store.MemoryStore`, whose tables live in one
    #: process: a Runner keeps its workers in its own process, and the store actor drops the
    #: tables when it stops (an ETS table dies with its owner)
    shared: ClassVar[bool] = True
    #: event-sourced: ``append`` (with ``facts=``, ``status=``, ``epoch=``) and ``stream``, as
    #: every :class:`BaseStore` is; the Runner then appends each cycle's events instead of
    #: saving whole logs. (:func:`supports_stream` reads it.)
    streams: ClassVar[bool] = True

    @classmethod
    def child_spec(cls, opts: dict[str, Any]) -> Any:
        """The child spec ``<runner>.Store`` of the store actor for these tables, so that a
        supervision children list accepts ``(StoreClass, {"runner_name": ..., **options})``.

        ``opts`` are the store's options and must include ``runner_name``; ``id``, ``restart``
        and ``shutdown`` override the defaults (``f"{runner_name}.Store"``, permanent, 5 s).
        The spec names the actor and this class by ``"module:Class"`` path (the actor opens
        the store with :func:`runic.store.registry.open_store`), so no store module imports the
        actor module. What the actor does: :mod:`runic.store.actor`.
        """
        from ..supervisor.spec import ChildSpec  # supervision (thespian) only when a tree is built

        opts = dict(opts or {})
        runner_name = opts.get("runner_name")
        if not isinstance(runner_name, str) or not runner_name:
            raise StoreArgumentError(
                f"the store child spec needs opts['runner_name'] (a non-empty str), got {runner_name!r}"
            )
        child_id = opts.pop("id", None) or f"{runner_name}.Store"
        restart = opts.pop("restart", "permanent")
        shutdown = opts.pop("shutdown", 5.0)
        return ChildSpec(
            id=child_id,
            start=("runic.store.actor:StoreActor",
                   {"store": f"{cls.__module__}:{cls.__qualname__}", **opts}),
            restart=restart,
            shutdown=shutdown,
            type="worker",
        )

    @property
    def local_dir(self) -> str | None:
        """The directory on this machine where the store keeps its files (``None`` if it keeps
        none: memory tables, a database server). A Runner may put its own files next to them."""
        return None

    def on_writer_start(self) -> None:
        """Called once by a long-running writer process (a Runner's worker host) right after it
        opened this handle, in that process's main thread. The default does nothing;
        ``MnesiaStore`` moves SQLite's WAL checkpoints onto a thread (a worker host never forks
        afterwards, which that needs)."""

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
            check_workflow_id(workflow_id)
        except ArgumentError as exc:
            raise StoreArgumentError(str(exc)) from None
        try:
            return codec.dumps(workflow_id)
        except codec.EncodeError as exc:  # pragma: no cover - the id rule admits only encodable ids
            raise StoreEncodeError(f"workflow id {workflow_id!r} cannot be stored: {exc}") from exc

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
        """Decode checksum-verified bytes (hence ``trusted``: see :func:`runic.codec.loads`)."""
        try:
            return codec.loads(data, trusted=True)
        except codec.DecodeError as exc:
            raise self._decode_failed(exc, what, table, key) from exc

    @staticmethod
    def _decode_failed(exc: Exception, what: str, table: str, key: Any) -> StoreDecodeError:
        return StoreDecodeError(
            f"cannot decode {what} for {key!r} in table {table!r}: {exc}. If it names an "
            "unregistered record type, import the module that registers it before reading; "
            "otherwise it was written by a runic that allowed it (restore the store from a "
            "backup, or delete the workflow)"
        )

    def _where(self) -> str:
        """`` of the store file PATH`` (adapters with a file), for error messages."""
        return ""

    def _damaged(self, what: str, role: str) -> CorruptStoreError:
        table = self.table_names.get(role, role)
        return CorruptStoreError(
            f"{what} in table {table!r}{self._where()} is damaged: its checksum does not match "
            "its bytes, so it was not decoded. Restore the store from a backup (or delete the "
            "workflow, or the fact); other rows are unaffected",
            getattr(self, "path", None),
        )

    @staticmethod
    def _fact_key(fact_hash: Any) -> int:
        if type(fact_hash) is not int or not 0 <= fact_hash < _U64:
            raise StoreArgumentError(
                f"a fact hash must be an int in [0, 2**64), got {fact_hash!r}"
            )
        return fact_hash

    def _fact_items(self, facts: Mapping[int, Any] | None) -> _List[tuple[int, bytes, int]]:
        if not facts:
            return []
        if not isinstance(facts, Mapping):
            raise StoreArgumentError(f"facts must be a mapping of fact hash to value, got {type(facts).__name__}")
        items = []
        for h, v in facts.items():
            h = self._fact_key(h)
            blob = self._encode(v, f"the value of fact {h}", "facts")
            items.append((h, blob, fact_crc(h, blob)))
        return items

    def _fact_value(self, h: int, blob: bytes, crc: int) -> Any:
        if fact_crc(h, blob) != crc:
            raise self._damaged(f"the value of fact {h}", "facts")
        return self._decode(blob, "the fact value", self.table_names["facts"], h)

    def _verified_count(self, key: Any, workflow_id: Hashable) -> int | None:
        last = self._last_row(key)
        if last is not None:
            first, n, blob, crc = last
            if type(first) is not int or type(n) is not int or row_crc(first, n, blob, key_seed(key)) != crc:
                raise self._damaged(f"the last event row of workflow {workflow_id!r}", "events")
            return first + (n or 1) - 1
        row = self._count(key)
        if row is None:
            return None
        count, crc = row
        if type(count) is not int or count_crc(count, key_seed(key)) != crc:
            raise self._damaged(f"the event counter of workflow {workflow_id!r}", "counters")
        return count

    def _fenced(self, workflow_id: Hashable, epoch: int, stale: StaleEpoch, operation: str) -> FencedError:
        return FencedError(workflow_id, epoch, stale.current, stale.owner, operation,
                           self.table_names.get("status"))

    @staticmethod
    def _check_epoch(epoch: Any) -> None:
        if epoch is not None and (type(epoch) is not int or epoch < 0):
            raise StoreArgumentError(f"epoch must be None or a non-negative int, got {epoch!r}")

    def _now_ms(self) -> int:
        """Time stamps passed to the write primitives, in ms since the epoch (this process's
        clock; a database adapter may ignore them and stamp with the server's clock)."""
        return time.time_ns() // 1_000_000

    def _clock_ms(self) -> int:
        """The store's clock for lease decisions (:meth:`nodes`), in ms since the epoch: an
        adapter primitive. The local stores use this process's clock (every process of one
        machine shares it); :class:`~runic.store.PostgresStore` asks the database server, so
        that nodes on several machines compare leases against one clock."""
        return self._now_ms()

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
        self._put_log(key, blob, blob_crc(blob, key_seed(key)), self._now_ms())

    def checkpoint(self, workflow_id: Hashable, log: _List) -> None:
        """Same effect as :meth:`save` (every write is already a durable transaction)."""
        self.save(workflow_id, log)

    def load(self, workflow_id: Hashable) -> _List:
        """Return the log last saved for ``workflow_id``.

        Raises :class:`~runic.store.NotFoundError` if none was saved.
        """
        self._check_open()
        key = self._key(workflow_id)
        row = self._get_log(key)
        if row is None:
            raise NotFoundError("saved log", workflow_id, self.table_names.get("logs"))
        blob, crc = row
        if blob_crc(blob, key_seed(key)) != crc:
            raise self._damaged(f"the saved log of workflow {workflow_id!r}", "logs")
        return self._decode(blob, "the saved log", self.table_names["logs"], workflow_id)

    # ------------------------------------------------------------------ event streams

    def append(self, workflow_id: Hashable, events: Iterable[Any], *, epoch: int | None = None,
               facts: Mapping[int, Any] | None = None, status: str | None = None) -> int:
        """Append ``events`` in order and return the new cursor (events now stored).

        Sequence numbers start at 1 and stay contiguous, also with several processes appending
        to one workflow. The whole call is one transaction: the counter read, the events, the
        counter update and the ``facts`` (an optional ``{fact_hash: value}`` mapping; the
        values belong to this workflow, see the module documentation) are written together or
        not at all.

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
        seed = key_seed(key)
        if type(events) is not list:
            events = _List(events)
        try:
            row = AppendRow(codec.dumps_batch(events), len(events), seed) if events else None
        except codec.EncodeError as exc:
            raise self._encode_error(exc, f"an event of workflow {workflow_id!r}", "events") from exc
        fact_items = self._fact_items(facts) if facts else []
        try:
            if status is None:
                return self._append(key, row, epoch, fact_items, None)
            return self._append(key, row, epoch, fact_items, (status, self._now_ms()))
        except StaleEpoch as stale:
            raise self._fenced(workflow_id, epoch, stale, "append") from None  # type: ignore[arg-type]

    def append_many(self, items: Iterable[tuple[Hashable, Iterable[Any], int | None, Mapping[int, Any] | None,
                                              str | None]]) -> _List[int | BaseException]:
        """Group commit: several appends, ``(workflow_id, events, epoch, facts, status)`` each
        (the arguments of :meth:`append`), in **one transaction** where the adapter can
        (:class:`~runic.store.MnesiaStore`; the others append one by one).

        Returns one entry per item, in order: the new cursor, or the exception that item alone
        raised — a :class:`~runic.store.FencedError` (stale epoch: nothing of that item was
        written, the others were) or a :class:`~runic.store.StoreArgumentError`/
        :class:`~runic.store.StoreEncodeError` (bad input: nothing of it was written). An error
        of the transaction itself (disk full, busy, closed) is raised: then nothing was written.
        A workflow may appear once per call.
        """
        self._check_open()
        prepared: _List[Any] = []
        out: _List[int | BaseException] = []
        seen: set[Any] = set()
        for workflow_id, events, epoch, facts, status in items:
            try:
                self._check_epoch(epoch)
                if status is not None and status not in STATUSES:
                    raise StoreArgumentError(f"unknown status {status!r}; use one of {STATUSES}")
                key = self._key(workflow_id)
                if key in seen:
                    raise StoreArgumentError(f"append_many: workflow {workflow_id!r} appears twice; "
                                             "give it one item with all its events")
                seen.add(key)
                events = events if type(events) is list else _List(events)
                try:
                    row = AppendRow(codec.dumps_batch(events), len(events), key_seed(key)) if events else None
                except codec.EncodeError as exc:
                    raise self._encode_error(exc, f"an event of workflow {workflow_id!r}", "events") from exc
                fact_items = self._fact_items(facts) if facts else []
                st = None if status is None else (status, self._now_ms())
            except (StoreArgumentError, StoreEncodeError) as exc:
                prepared.append(None)
                out.append(exc)
                continue
            prepared.append((key, row, epoch, fact_items, st))
            out.append(0)
        todo = [p for p in prepared if p is not None]
        results = self._append_many(todo) if todo else []
        it = iter(results)
        for i, p in enumerate(prepared):
            if p is None:
                continue
            res = next(it)
            if isinstance(res, StaleEpoch):
                wid = self._unkey(p[0])
                out[i] = self._fenced(wid, p[2], res, "append")
            else:
                out[i] = res
        return out

    def _append_many(self, items: _List[tuple[Any, AppendRow | None, int | None, _List[tuple[int, bytes, int]],
                                             tuple[str, int] | None]]) -> _List[int | StaleEpoch]:
        """Adapter primitive: the prepared appends in one transaction where possible; a stale
        epoch is that item's :class:`StaleEpoch` entry (nothing of it written). Default: one
        :meth:`_append` per item."""
        out: _List[int | StaleEpoch] = []
        for key, row, epoch, facts, status in items:
            try:
                out.append(self._append(key, row, epoch, facts, status))
            except StaleEpoch as stale:
                out.append(stale)
        return out

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
        count = self._verified_count(key, workflow_id)
        if count is None:
            raise NotFoundError("event stream", workflow_id, self.table_names.get("counters"))
        return EventStream(self, key, workflow_id, start, count)

    def _iter_events(self, key: Any, workflow_id: Hashable, start: int, last: int) -> Iterator[Any]:
        loads, loads_batch = codec.loads, codec.loads_batch
        decode_error = codec.DecodeError
        table = self.table_names["events"]
        page = self.stream_page
        seed = key_seed(key)
        seq = start  # the next sequence number to yield
        while seq <= last:
            self._check_open()
            before = seq
            for first, n, blob, crc in self._read_rows(key, seq, last, page):
                count = n or 1
                end = first + count - 1
                if end < seq:  # a row before the one holding seq (only the first of a page)
                    continue
                if first > seq:
                    break  # a gap: seq is missing
                if row_crc(first, n, blob, seed) != crc:
                    raise self._damaged(f"event {seq} of workflow {workflow_id!r}", "events")
                try:
                    if n:
                        events = loads_batch(blob, trusted=True)
                        if len(events) != n:
                            raise decode_error(f"the row holds {len(events)} events, its count says {n}")
                    else:
                        events = [loads(blob, trusted=True)]
                except decode_error as exc:
                    raise self._decode_failed(exc, f"event {seq}", table, workflow_id) from exc
                stop = min(end, last)
                if first == seq and stop == end:
                    yield from events
                else:
                    yield from events[seq - first:stop - first + 1]
                seq = stop + 1
                if seq > last:
                    return
            else:
                if seq > before:
                    continue  # the next page
            # seq is missing: deleted meanwhile, or damage
            verified = self._verified_count(key, workflow_id)
            if verified is None or verified < seq:  # the workflow was deleted meanwhile
                log.debug("stream of %r stopped at missing seq %d", workflow_id, seq)
                return
            raise CorruptStoreError(
                f"event {seq} of workflow {workflow_id!r} is missing from table "
                f"{table!r}{self._where()} although {verified} events are stored: the store is "
                "damaged. Restore it from a backup, or delete the workflow", getattr(self, "path", None),
            )

    def cursor(self, workflow_id: Hashable) -> int:
        """The number of events stored for ``workflow_id`` (0 if it has no stream)."""
        self._check_open()
        count = self._verified_count(self._key(workflow_id), workflow_id)
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
        key = self._key(workflow_id)
        blob = bytes(snapshot)
        self._put_snapshot(key, cursor, blob, snapshot_crc(cursor, blob, key_seed(key)))

    def load_snapshot(self, workflow_id: Hashable) -> tuple[int, bytes]:
        """Return ``(cursor, snapshot)``; raise :class:`~runic.store.NotFoundError` if none."""
        self._check_open()
        key = self._key(workflow_id)
        found = self._get_snapshot(key)
        if found is None:
            raise NotFoundError("snapshot", workflow_id, self.table_names.get("snapshots"))
        cursor, blob, crc = found
        if type(cursor) is not int or snapshot_crc(cursor, blob, key_seed(key)) != crc:
            raise self._damaged(f"the snapshot of workflow {workflow_id!r}", "snapshots")
        return cursor, blob

    # ------------------------------------------------------------------ facts

    def save_fact(self, fact_hash: int, value: Any) -> None:
        """Upsert the raw value of a fact under its hash (an int in ``[0, 2**64)``).

        The value is *pinned*: :meth:`delete` and :meth:`gc` keep it; :meth:`delete_facts`
        removes it.
        """
        self._check_open()
        h = self._fact_key(fact_hash)
        blob = self._encode(value, f"the value of fact {h}", "facts")
        self._put_facts([(h, blob, fact_crc(h, blob))])

    def save_facts(self, facts: Mapping[int, Any]) -> None:
        """Upsert several pinned fact values (``{fact_hash: value}``) in one transaction."""
        self._check_open()
        items = self._fact_items(facts)
        if items:
            self._put_facts(items)

    def load_facts(self, fact_hashes: Iterable[int]) -> dict[int, Any]:
        """``{hash: value}`` for the given fact hashes that have a stored value (missing ones
        are left out). One read for many values: what resuming a workflow needs."""
        self._check_open()
        keys = [self._fact_key(h) for h in fact_hashes]
        return {h: self._fact_value(h, blob, crc) for h, blob, crc in self._get_facts(keys)}

    def _get_facts(self, fact_hashes: _List[int]) -> Iterable[tuple[int, bytes, int]]:
        """Adapter primitive (default: one lookup per hash)."""
        for h in fact_hashes:
            row = self._get_fact(h)
            if row is not None:
                yield h, row[0], row[1]

    def load_fact(self, fact_hash: int) -> Any:
        """Return the value stored for ``fact_hash``; raise ``NotFoundError`` if none."""
        self._check_open()
        h = self._fact_key(fact_hash)
        row = self._get_fact(h)
        if row is None:
            raise NotFoundError("fact value", fact_hash, self.table_names.get("facts"))
        return self._fact_value(h, row[0], row[1])

    def delete_facts(self, fact_hashes: Iterable[int]) -> int:
        """Remove the given fact values (pinned ones too); return how many were stored."""
        self._check_open()
        keys = [self._fact_key(h) for h in fact_hashes]
        return self._delete_facts(keys) if keys else 0

    # ------------------------------------------------------------------ ownership and status

    def acquire(self, workflow_id: Hashable, owner: str, *, node: str | None = None,
                generation: int | None = None) -> int:
        """Take ownership of ``workflow_id`` for ``owner`` and return a new epoch.

        The epoch is strictly larger than any epoch handed out before by this runner's tables
        (also across :meth:`delete`), so every earlier owner's fenced writes are refused from
        now on. ``node``/``generation`` (from :meth:`register_node`) record which node owns the
        workflow, for :meth:`orphans`. One transaction.
        """
        self._check_open()
        if not isinstance(owner, str):
            raise StoreArgumentError(f"owner must be a str, got {owner!r}")
        if (node is None) != (generation is None):
            raise StoreArgumentError("acquire(): give node and generation together, or neither")
        if node is not None:
            self._check_node(node)
            self._check_generation(generation)
        return self._acquire(self._key(workflow_id), owner, self._now_ms(), node, generation)

    def acquire_many(self, workflow_ids: Iterable[Hashable], owner: str, *, node: str | None = None,
                     generation: int | None = None) -> _List[int]:
        """:meth:`acquire` of several workflows for ``owner``, in one transaction where the
        adapter can; returns their new epochs in order."""
        self._check_open()
        if not isinstance(owner, str):
            raise StoreArgumentError(f"owner must be a str, got {owner!r}")
        if (node is None) != (generation is None):
            raise StoreArgumentError("acquire_many(): give node and generation together, or neither")
        if node is not None:
            self._check_node(node)
            self._check_generation(generation)
        keys = [self._key(w) for w in workflow_ids]
        return self._acquire_many(keys, owner, self._now_ms(), node, generation) if keys else []

    def _acquire_many(self, keys: _List[Any], owner: str, now_ms: int, node: str | None,
                      generation: int | None) -> _List[int]:
        """Adapter primitive (default: one :meth:`_acquire` per key)."""
        return [self._acquire(k, owner, now_ms, node, generation) for k in keys]

    def owner(self, workflow_id: Hashable) -> Ownership | None:
        """The :class:`Ownership` — ``(owner, epoch)``, with ``.node`` and ``.generation`` —
        recorded by the last :meth:`acquire` of ``workflow_id``, or ``None``."""
        self._check_open()
        row = self._get_owner(self._key(workflow_id))
        return None if row is None else Ownership(*row)

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
        except StaleEpoch as stale:
            raise self._fenced(workflow_id, epoch, stale, "set_status") from None  # type: ignore[arg-type]

    def _valid_status(self, status: Any, workflow_id: Any) -> str | None:
        if status is None or status in STATUSES:
            return status
        raise self._damaged(f"the status of workflow {workflow_id!r} ({status!r})", "status")

    def status(self, workflow_id: Hashable) -> str | None:
        """The last status recorded for ``workflow_id``, or ``None``."""
        self._check_open()
        return self._valid_status(self._get_status(self._key(workflow_id)), workflow_id)

    def list_status(self, statuses: Iterable[str] | None = None) -> dict[Hashable, str]:
        """``{workflow_id: status}`` of every workflow with a recorded status.

        ``statuses`` keeps only those statuses (for example ``["running", "idle"]`` to find the
        workflows a restarted runner should resume).
        """
        self._check_open()
        wanted = None if statuses is None else set(statuses)
        if wanted is not None and not wanted <= set(STATUSES):
            raise StoreArgumentError(f"unknown statuses {sorted(wanted - set(STATUSES))}")
        out: dict[Hashable, str] = {}
        for k, s in self._all_status():
            wid = self._unkey(k)
            if wanted is None or s in wanted:
                valid = self._valid_status(s, wid)
                if valid is not None:
                    out[wid] = valid
            elif s not in STATUSES:
                self._valid_status(s, wid)
        return out

    # ------------------------------------------------------------------ node leases

    @staticmethod
    def _check_node(node: Any) -> str:
        if not isinstance(node, str) or not node:
            raise StoreArgumentError(f"a node name must be a non-empty str, got {node!r}")
        return node

    @staticmethod
    def _check_generation(generation: Any) -> int:
        if type(generation) is not int or generation < 1:
            raise StoreArgumentError(f"a node generation must be an int >= 1, got {generation!r}")
        return generation

    @staticmethod
    def _lease_ms(lease_s: Any) -> int:
        if type(lease_s) not in (int, float) or not math.isfinite(lease_s) or lease_s <= 0:
            raise StoreArgumentError(f"a lease must be a positive number of seconds, got {lease_s!r}")
        return max(1, int(lease_s * 1000))

    def register_node(self, node: str, lease_s: float, info: dict | None = None) -> int:
        """Start a new generation of ``node`` and return it: alive, its lease ending
        ``lease_s`` seconds from now. A node restarted under the same name is a new node: its
        generation is strictly larger than any before. ``info`` (codec-encodable) is kept for
        :meth:`nodes`. One transaction."""
        self._check_open()
        self._check_node(node)
        lease = self._lease_ms(lease_s)
        if info is not None and not isinstance(info, dict):
            raise StoreArgumentError(f"info must be a dict or None, got {type(info).__name__}")
        blob = None if info is None else self._encode(info, f"the info of node {node!r}", "nodes")
        return self._register_node(node, lease, blob, self._now_ms())

    def renew_node(self, node: str, generation: int, lease_s: float) -> int:
        """Extend the lease of ``node`` ``generation`` to ``lease_s`` seconds from now; return
        the new expiry (ms since the epoch). Raises :class:`~runic.store.NodeFencedError` if
        that generation is no longer the node's current one or was declared dead."""
        self._check_open()
        self._check_node(node)
        self._check_generation(generation)
        try:
            return self._renew_node(node, generation, self._lease_ms(lease_s), self._now_ms())
        except StaleNode as stale:
            raise NodeFencedError(node, generation, stale.current, stale.alive,
                                  self.table_names.get("nodes")) from None

    def release_node(self, node: str, generation: int) -> bool:
        """A clean shutdown: mark ``node`` ``generation`` dead now. Returns False (and changes
        nothing) if that generation is not the current one or is already dead."""
        self._check_open()
        self._check_node(node)
        self._check_generation(generation)
        return self._end_node(node, generation, self._now_ms())

    def declare_dead(self, node: str, generation: int) -> bool:
        """For a reaper: mark ``node`` ``generation`` dead (its lease expired). Fenced by
        generation: returns False, changing nothing, if the node registered again since (or is
        already dead); its renewals then raise :class:`~runic.store.NodeFencedError`."""
        self._check_open()
        self._check_node(node)
        self._check_generation(generation)
        return self._end_node(node, generation, self._now_ms())

    def nodes(self, *, workflows: bool = True) -> _List[dict[str, Any]]:
        """Every node ever registered, dead ones too: ``{"node", "generation", "alive",
        "lease_expires_at", "info", "workflows"}``. ``alive`` is false once the node was
        released or declared dead, or its lease expired; ``workflows`` lists the ids whose
        status is ``"running"`` and that this generation of the node owns (``workflows=False``:
        left empty, and the running workflows are not read)."""
        self._check_open()
        now = self._clock_ms()
        owned: dict[tuple[str, int], _List[Hashable]] = {}
        for key, node, generation in (self._running_owners() if workflows else ()):
            owned.setdefault((node, generation), []).append(self._unkey(key))
        out = []
        for node, generation, alive, expires, info in self._all_nodes():
            out.append({
                "node": node,
                "generation": generation,
                "alive": bool(alive) and expires > now,
                "lease_expires_at": expires,
                "info": None if info is None else self._decode(info, "node info", self.table_names.get("nodes", "?"), node),
                "workflows": owned.get((node, generation), []),
            })
        return out

    def orphans(self, statuses: Iterable[str] = ("running",)) -> _List[Hashable]:
        """Ids whose status is in ``statuses`` and whose owner node is dead, expired, of an
        older generation, or unknown (no node recorded): the workflows another node may take
        over (with :meth:`acquire`, which fences the previous owner)."""
        self._check_open()
        wanted = set(statuses) if not isinstance(statuses, str) else {statuses}
        if not wanted <= set(STATUSES):
            raise StoreArgumentError(f"unknown statuses {sorted(wanted - set(STATUSES))}")
        return [self._unkey(k) for k in self._orphans(sorted(wanted), self._clock_ms())]

    def status_times(self) -> dict[Hashable, int]:
        """``{workflow_id: ms since the epoch}`` of the last change of each workflow's status
        row (a status change, or a change of owner by :meth:`acquire`): what the dashboard
        shows as "updated"."""
        self._check_open()
        out: dict[Hashable, int] = {}
        for key, updated in self._status_times():
            try:
                out[self._unkey(key)] = int(updated)
            except (StoreDecodeError, TypeError, ValueError) as exc:
                log.debug("skipping the status time of %r: %s", key, exc)
        return out

    # ------------------------------------------------------------------ administration

    def delete(self, workflow_id: Hashable) -> None:
        """Remove the log, events, counter, snapshot, status and ownership of ``workflow_id``,
        and the fact values it owns (those only its appends wrote; shared and pinned values
        stay, see the module documentation). Deleting an unknown id does nothing."""
        self._check_open()
        self._delete(self._key(workflow_id))

    def gc(self) -> dict[str, int]:
        """Remove fact values no stored workflow references any more; compact the storage.

        Mark and sweep, while other writers go on:

        1. start a new *gc generation* G (one transaction): every fact value written from now on
           is stamped with G, so nothing written during this gc can be swept by it;
        2. mark (reads only): every int that appears in a stored event, saved log or
           codec-encoded snapshot counts as a reference to the fact of that hash
           (conservative: a stray equal int keeps a value, never the other way round);
        3. sweep (one transaction): remove the values written before G that are not pinned,
           not owned by a workflow that still exists, and not referenced.

        A workflow started (or re-created) during the mark writes its values with its appends,
        so they carry G. Returns ``{"removed": n, "kept": m, "workflows": w}``: values removed,
        unowned values kept because referenced, workflows scanned.
        """
        self._check_open()
        generation = self._gc_begin()
        referenced: set[int] = set()
        keys = self._workflow_keys()
        for key in keys:
            self._mark(key, referenced)
        removed, kept = self._gc_sweep(generation, referenced)
        self._compact()
        log.info("gc of runner %r: %d fact values removed, %d unowned ones kept (referenced)",
                 self.runner_name, removed, kept)
        return {"removed": removed, "kept": kept, "workflows": len(keys)}

    def _mark(self, key: Any, referenced: set[int]) -> None:
        """Add every int the stored rows of workflow ``key`` hold to ``referenced``."""
        wid = self._unkey(key)
        try:
            count = self._verified_count(key, wid)
            if count:
                for event in self._iter_events(key, wid, 1, count):
                    _ints_in(event, referenced)
            if self._get_log(key) is not None:
                _ints_in(self.load(wid), referenced)
            if self._get_snapshot(key) is not None:
                _, blob = self.load_snapshot(wid)
                try:
                    _ints_in(codec.loads(blob), referenced)
                except codec.DecodeError:
                    log.debug("gc: the snapshot of %r is not a codec encoding; not marked", wid)
        except NotFoundError:  # deleted meanwhile: its values go with it
            pass

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
        info: dict[str, Any] = {
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
    def _put_log(self, key: Any, blob: bytes, crc: int, updated_at: int) -> None: ...

    @abc.abstractmethod
    def _get_log(self, key: Any) -> tuple[bytes, int] | None:
        """``(blob, crc)`` of the saved log, or ``None``."""

    @abc.abstractmethod
    def _log_keys(self) -> _List[Any]: ...

    @abc.abstractmethod
    def _exists(self, key: Any) -> bool: ...

    @abc.abstractmethod
    def _append(self, key: Any, row: AppendRow | None, epoch: int | None,
                facts: _List[tuple[int, bytes, int]], status: tuple[str, int] | None) -> int:
        """One transaction: check ``epoch`` (raise :class:`StaleEpoch`), write ``row`` (``None``:
        no events; the stream then exists, empty if new) as the events count+1.. (its first
        sequence number count+1, its checksum ``row.crc(count + 1)``), the ``(hash, blob,
        crc)`` facts owned by ``key`` (shared if another key wrote them already) and, if
        given, ``status`` as ``(status, now_ms)``; return the new count."""

    @abc.abstractmethod
    def _count(self, key: Any) -> tuple[int, int] | None:
        """``(count, crc)`` of the event counter, or ``None`` (adapters that keep no counter
        for streams with events answer through :meth:`_last_row`)."""

    def _last_row(self, key: Any) -> tuple[int, int, bytes, int] | None:
        """``(first seq, n, blob, crc)`` of the last event row, for adapters whose count is the
        end of the last row (default ``None``: the count comes from :meth:`_count`)."""
        return None

    @abc.abstractmethod
    def _read_rows(self, key: Any, first: int, last: int, limit: int) -> _List[tuple[int, int, bytes, int]]:
        """``(first seq, n, blob, crc)`` of at most ``limit`` event rows, in sequence order:
        the row holding event ``first`` (if any), then the following rows that start at or
        before ``last``. ``n`` is the row's event count, 0 for a one-event row written before
        schema 3."""

    @abc.abstractmethod
    def _put_snapshot(self, key: Any, cursor: int, blob: bytes, crc: int) -> None: ...

    @abc.abstractmethod
    def _get_snapshot(self, key: Any) -> tuple[int, bytes, int] | None:
        """``(cursor, blob, crc)``, or ``None``."""

    @abc.abstractmethod
    def _put_facts(self, items: _List[tuple[int, bytes, int]]) -> None:
        """Upsert ``(hash, blob, crc)`` values, pinned (one transaction)."""

    @abc.abstractmethod
    def _get_fact(self, fact_hash: int) -> tuple[bytes, int] | None:
        """``(blob, crc)`` of a fact value, or ``None``."""

    @abc.abstractmethod
    def _delete_facts(self, fact_hashes: _List[int]) -> int:
        """Remove these fact values (pinned ones too); return how many existed."""

    @abc.abstractmethod
    def _workflow_keys(self) -> set[Any]:
        """Keys of every stored workflow (a log, a stream, a snapshot or a status)."""

    @abc.abstractmethod
    def _gc_begin(self) -> int:
        """One transaction: start and return a new gc generation G; fact values written from
        now on carry G (those written before carry less)."""

    @abc.abstractmethod
    def _gc_sweep(self, generation: int, referenced: set[int]) -> tuple[int, int]:
        """One transaction: remove the fact values that carry less than ``generation``, are not
        pinned, are not owned by a stored workflow, and whose hash is not in ``referenced``;
        return ``(removed, kept)`` where ``kept`` counts the unowned ones kept as referenced."""

    def _compact(self) -> None:
        """After :meth:`gc`: give the space back where the adapter can (default: nothing)."""

    @abc.abstractmethod
    def _delete(self, key: Any) -> None:
        """One transaction: every row of ``key`` and the fact values it owns (not pinned)."""

    @abc.abstractmethod
    def _acquire(self, key: Any, owner: str, now_ms: int, node: str | None,
                 generation: int | None) -> int: ...

    @abc.abstractmethod
    def _get_owner(self, key: Any) -> tuple[str, int, str | None, int | None] | None:
        """``(owner, epoch, node, generation)``, or ``None`` if nobody acquired ``key``."""

    @abc.abstractmethod
    def _set_status(self, key: Any, status: str, epoch: int | None, now_ms: int) -> None:
        """Check ``epoch`` (raise :class:`StaleEpoch`) and record the status, in one transaction."""

    @abc.abstractmethod
    def _get_status(self, key: Any) -> str | None: ...

    @abc.abstractmethod
    def _all_status(self) -> _List[tuple[Any, str]]: ...

    @abc.abstractmethod
    def _register_node(self, node: str, lease_ms: int, info: bytes | None, now_ms: int) -> int:
        """One transaction: generation = previous + 1 (1 for a new name), alive, expiry
        ``now_ms + lease_ms``; return the generation."""

    @abc.abstractmethod
    def _renew_node(self, node: str, generation: int, lease_ms: int, now_ms: int) -> int:
        """One transaction: raise :class:`StaleNode` unless ``generation`` is current and
        alive; set the expiry to ``now_ms + lease_ms`` and return it."""

    @abc.abstractmethod
    def _end_node(self, node: str, generation: int, now_ms: int) -> bool:
        """One transaction: if ``generation`` is current and alive, mark it dead with expiry
        ``now_ms`` and return True; else return False."""

    @abc.abstractmethod
    def _all_nodes(self) -> _List[tuple[str, int, bool, int, bytes | None]]:
        """``(node, generation, alive, lease_expires_at, info)`` of every node."""

    @abc.abstractmethod
    def _running_owners(self) -> _List[tuple[Any, str, int]]:
        """``(key, node, generation)`` of every workflow whose status is ``running`` and whose
        owner recorded a node."""

    @abc.abstractmethod
    def _orphans(self, statuses: _List[str], now_ms: int) -> _List[Any]:
        """Keys whose status is in ``statuses`` and whose owner node is dead, expired
        (``lease_expires_at <= now_ms``), of another generation, or unknown."""

    def _status_times(self) -> _List[tuple[Any, int]]:
        """``(key, updated_at)`` of every status row (default: none known)."""
        return []

    @abc.abstractmethod
    def _table_specs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """``{table name: (type, attributes)}`` for :meth:`table_info`."""

    @abc.abstractmethod
    def _table_size(self, name: str) -> int: ...

    @abc.abstractmethod
    def _drop_tables(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...
