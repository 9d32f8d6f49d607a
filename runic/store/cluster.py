"""What several Runners sharing one store need from it: the inbox, the takeover, change signals.

Runners with the same name on one store form a cluster (one *node* each, holding a lease: see
:meth:`~runic.store.BaseStore.register_node`). Three primitives let them share workflows with
no channel between them but the store; :class:`ClusterStore` writes each once, over adapter
primitives, and :class:`~runic.store.BaseStore` inherits it.

**The inbox** (``"<runner>.Inbox"``): requests for a workflow that another node runs.
:meth:`ClusterStore.inbox_put` appends a request (``"run"``, ``"stop"`` or ``"cancel"``, with a
codec-encoded payload, checksummed like every row) under the next sequence number of that
workflow, in one transaction: once it returns, the request is durable. The owner of the
workflow — whichever node that is when it reads, so a request survives the death of the owner
it was meant for — reads the pending requests of the workflows it owns
(:meth:`ClusterStore.inbox_pending`), applies each in order and marks it done
(:meth:`ClusterStore.inbox_ack`). *Exactly once* is the owner's business, not the table's:
applying a request records its sequence number in the workflow's own event stream in the same
write as its effect, so an owner that dies after applying and before acknowledging leaves a
request the next owner recognises as applied. Sequence numbers of a workflow never go back:
acknowledging keeps the newest row (marked done, its payload dropped) and deletes the older
ones; deleting the workflow deletes them all.

**The takeover** (:meth:`ClusterStore.takeover`): what a reaper on a live node runs every few
hundred milliseconds, in **one transaction**: it declares dead every node whose lease expired,
counts the live nodes and the *orphans* (running workflows whose owner node is dead, expired, of
an older generation, or unknown), and claims up to ⌈orphans / live nodes⌉ of them for the
calling node, each under a new ownership epoch (as :meth:`~runic.store.BaseStore.acquire`
does). Survivors thus share a dead node's workflows, and two survivors never claim the same
one: PostgreSQL locks the rows it claims and skips the rows another reaper holds
(``FOR UPDATE SKIP LOCKED``), SQLite runs the whole transaction under its write lock. A node
whose own lease has run out claims nothing.

**Change signals** (:meth:`ClusterStore.changes`): a store that can push changes (PostgreSQL's
``LISTEN``/``NOTIFY``; :attr:`ClusterStore.notifies`) returns a :class:`Changes` listener that
wakes on every status change and every inbox request or acknowledgement. Only those: a
notification on every append would serialise commits (measured on PostgreSQL: commit throughput
halved). A listener may lose signals while disconnected, so its user also polls; the other
stores return ``None`` and their users only poll.

Which thread runs what: every call runs in the caller's thread; a :class:`Changes` listener
belongs to the one thread that waits on it.
"""

from __future__ import annotations

import abc
import math
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Hashable, Protocol

from .checksum import key_seed
from .errors import StoreArgumentError

if TYPE_CHECKING:  # pragma: no cover
    from .base import BaseStore
    from .errors import CorruptStoreError

__all__ = ["ClusterStore", "InboxItem", "Takeover", "Change", "Changes", "INBOX_KINDS", "inbox_crc"]

INBOX_KINDS: tuple[str, ...] = ("run", "stop", "cancel")
"""What an inbox request may ask of a workflow's owner."""


def inbox_crc(kind: str, blob: bytes, seed: int) -> int:
    """Checksum of an inbox request (its kind and payload) of the workflow whose key has
    ``seed``. The sequence number is not covered (as for events: a damaged one shows as a
    request out of order)."""
    return zlib.crc32(blob, zlib.crc32(kind.encode(), seed ^ 0x494E))  # "IN"


@dataclass(frozen=True)
class InboxItem:
    """A request waiting in the inbox: ``kind`` (``run``/``stop``/``cancel``) and its decoded
    ``payload`` (a dict) for ``workflow_id``, numbered ``seq`` (1, 2, ... per workflow)."""

    workflow_id: Hashable
    seq: int
    kind: str
    payload: Any


@dataclass(frozen=True)
class Takeover:
    """What one :meth:`ClusterStore.takeover` did: ``dead`` — ``(node, generation)`` it declared
    dead; ``claimed`` — ``(workflow id, new epoch)`` it took for the caller; ``orphans`` — the
    orphans it saw (before claiming); ``live`` — the live nodes, the caller included (0 if the
    caller's own lease had run out: then it claimed nothing)."""

    dead: list[tuple[str, int]] = field(default_factory=list)
    claimed: list[tuple[Hashable, int]] = field(default_factory=list)
    orphans: int = 0
    live: int = 0


@dataclass(frozen=True)
class Change:
    """One signal: ``kind`` is ``"status"`` (``detail``: the new status) or ``"inbox"``
    (``detail``: ``"put"`` or ``"ack"``); ``workflow_id`` is ``None`` when the signal could not
    name it."""

    kind: str
    workflow_id: Hashable | None
    detail: str = ""


class Changes(Protocol):
    """A listener on a store's change signals (one thread uses it)."""

    def wait(self, timeout: float) -> list[Change] | None:
        """The signals received within ``timeout`` seconds (``[]``: none); ``None`` when the
        listener lost its connection (it reconnects on the next call): signals may have been
        missed, so the caller should poll everything once."""

    def close(self) -> None:
        """Stop listening and release the connection."""


def fair_share(orphans: int, live: int, limit: int | None) -> int:
    """How many orphans one live node claims in one takeover: ⌈orphans / live⌉, at most
    ``limit``."""
    if orphans <= 0 or live <= 0:
        return 0
    share = math.ceil(orphans / live)
    return share if limit is None else min(share, limit)


class ClusterStore(abc.ABC):
    """The cluster primitives of a store (see the module docs); a base of
    :class:`~runic.store.BaseStore`, whose key coding, checksums and errors it uses."""

    #: the store pushes change signals (:meth:`changes` returns a listener)
    notifies: ClassVar[bool] = False

    if TYPE_CHECKING:  # what it uses of BaseStore
        table_names: dict[str, str]

        def _check_open(self) -> None: ...
        def _check_node(self, node: Any) -> str: ...
        def _check_generation(self, generation: Any) -> int: ...
        def _key(self, workflow_id: Hashable) -> Any: ...
        def _unkey(self, key: Any) -> Hashable: ...
        def _encode(self, value: Any, what: str, role: str) -> bytes: ...
        def _decode(self, data: bytes, what: str, table: str, key: Any) -> Any: ...
        def _damaged(self, what: str, role: str) -> CorruptStoreError: ...
        def _now_ms(self) -> int: ...

    # ------------------------------------------------------------------ the takeover

    def takeover(self, node: str, generation: int, owner: str, *,
                 limit: int | None = None) -> Takeover:
        """In one transaction: declare dead the nodes whose lease expired, and claim for
        ``node`` ``generation`` (recorded as ``owner``) up to ⌈orphans / live nodes⌉ of the
        orphaned running workflows (at most ``limit``), each under a new epoch. See the module
        docs. The caller then resumes each claimed workflow (acquire first, then read)."""
        self._check_open()
        self._check_node(node)
        self._check_generation(generation)
        if not isinstance(owner, str):
            raise StoreArgumentError(f"owner must be a str, got {owner!r}")
        if limit is not None and (type(limit) is not int or limit < 0):
            raise StoreArgumentError(f"limit must be None or an int >= 0, got {limit!r}")
        dead, claimed, orphans, live = self._takeover(node, generation, owner, limit, self._now_ms())
        return Takeover(list(dead), [(self._unkey(k), e) for k, e in claimed], orphans, live)

    # ------------------------------------------------------------------ the inbox

    def inbox_put(self, workflow_id: Hashable, kind: str, payload: dict[str, Any]) -> int:
        """Append a request for ``workflow_id``'s owner; return its sequence number. Durable
        when it returns (one transaction). ``payload`` must be codec-encodable
        (:class:`~runic.store.StoreEncodeError` otherwise, nothing written)."""
        self._check_open()
        if kind not in INBOX_KINDS:
            raise StoreArgumentError(f"unknown inbox request kind {kind!r}; expected one of {INBOX_KINDS}")
        if not isinstance(payload, dict):
            raise StoreArgumentError(f"an inbox payload must be a dict, got {type(payload).__name__}")
        key = self._key(workflow_id)
        blob = self._encode(payload, f"a {kind!r} request for workflow {workflow_id!r}", "inbox")
        return self._inbox_put(key, kind, blob, inbox_crc(kind, blob, key_seed(key)), self._now_ms())

    def inbox_pending(self, node: str | None = None, generation: int | None = None, *,
                      workflow_id: Hashable | None = None) -> list[InboxItem]:
        """The requests not yet done, oldest first per workflow: of the workflows owned by
        ``node`` ``generation`` (both given), of ``workflow_id``, or of every workflow."""
        self._check_open()
        if (node is None) != (generation is None):
            raise StoreArgumentError("inbox_pending(): give node and generation together, or neither")
        out = []
        table = self.table_names.get("inbox", "inbox")
        key_filter = None if workflow_id is None else self._key(workflow_id)
        for key, seq, kind, blob, crc in self._inbox_pending(node, generation, key_filter):
            wid = self._unkey(key)
            if blob is None or inbox_crc(kind, blob, key_seed(key)) != crc:
                raise self._damaged(f"inbox request {seq} of workflow {wid!r}", "inbox")
            out.append(InboxItem(wid, seq, kind, self._decode(blob, "an inbox request", table, wid)))
        return out

    def inbox_ack(self, workflow_id: Hashable, seq: int, error: str | None = None) -> None:
        """Mark request ``seq`` of ``workflow_id`` done (``error``: it was refused, and why);
        the older ones are deleted. One transaction."""
        self._check_open()
        if type(seq) is not int or seq < 1:
            raise StoreArgumentError(f"an inbox sequence number must be an int >= 1, got {seq!r}")
        self._inbox_ack(self._key(workflow_id), seq, error)

    def inbox_state(self, workflow_id: Hashable, seq: int) -> tuple[str, str | None]:
        """``("pending", None)``, ``("done", error or None)``, or ``("gone", None)`` once a
        later request was acknowledged (or the workflow deleted): what a caller waiting for its
        request to be applied reads."""
        self._check_open()
        row = self._inbox_state(self._key(workflow_id), seq)
        if row is None:
            return "gone", None
        done, error = row
        return ("done", error) if done else ("pending", None)

    # ------------------------------------------------------------------ change signals

    def changes(self) -> Changes | None:
        """A listener on this store's change signals, or ``None`` if the store pushes none
        (then poll). The caller closes it."""
        return None

    def lease_keeper(self) -> "ClusterStore":
        """A handle for a node's heartbeat (:meth:`~runic.store.BaseStore.renew_node` every
        lease/3 s): one whose calls never wait for a connection another caller holds, so that
        a renewal is never late because the node is busy. The default is this handle (local
        stores answer at once); ``PostgresStore`` gives one with a connection of its own. The
        caller closes it (closing this handle itself then is the caller's business too)."""
        return self

    # ------------------------------------------------------------------ adapter primitives

    @abc.abstractmethod
    def _takeover(self, node: str, generation: int, owner: str, limit: int | None,
                  now_ms: int) -> tuple[list[tuple[str, int]], list[tuple[Any, int]], int, int]:
        """One transaction, see :meth:`takeover`: ``(dead nodes, [(key, epoch)], orphans,
        live)``; ``live`` is 0 and nothing is claimed when ``node`` ``generation`` is not itself
        alive."""

    @abc.abstractmethod
    def _inbox_put(self, key: Any, kind: str, blob: bytes, crc: int, now_ms: int) -> int:
        """One transaction: insert the request under the workflow's next sequence number (one
        more than any row of it, done or not); return it."""

    @abc.abstractmethod
    def _inbox_pending(self, node: str | None, generation: int | None,
                       key: Any = None) -> list[tuple[Any, int, str, bytes | None, int]]:
        """``(key, seq, kind, blob, crc)`` of the requests not done, ordered by key then seq,
        of the workflows whose status row records ``node`` ``generation`` (all if None), or of
        ``key`` only."""

    @abc.abstractmethod
    def _inbox_ack(self, key: Any, seq: int, error: str | None) -> None:
        """One transaction: delete the rows of ``key`` before ``seq``; mark ``seq`` done (its
        payload dropped, ``error`` recorded)."""

    @abc.abstractmethod
    def _inbox_state(self, key: Any, seq: int) -> tuple[bool, str | None] | None:
        """``(done, error)`` of that request, or ``None`` if there is no such row."""
