"""Self-fencing: a node that cannot renew its lease stops dispatching and persisting by itself.

A node's lease is renewed by the heartbeat thread of its runner actor
(:mod:`runic.runner.heartbeat`). The store computes the new expiry with its own clock when the
renewal *arrives*, so the lease certainly lasts ``lease`` seconds past the moment the renewal
was *sent*. The heartbeat publishes, after each successful renewal, a **deadline**: the send
time plus 0.9 × lease, on ``CLOCK_MONOTONIC`` (one clock for every process of the machine). Past
the deadline the node's worker hosts start no step and write nothing — the gate is closed — so
when another node takes the workflows over (after the expiry, by the store's clock) this one has
stopped writing for at least a tenth of the lease. A renewal that blocks (a dead socket, a
paused process) publishes nothing: the deadline passes on its own, whichever thread is stuck.
Whatever write the node still attempts (one already on the wire when the gate closed, delivered
after the network heals) is refused by its ownership epoch.

The deadline lives in a 64-byte file in the actor system's private scratch directory, mapped
into memory by the runner actor (the writer) and by each worker host (the readers):
``[sequence, generation, deadline_ns]`` as three unsigned 64-bit integers, written under a
sequence lock (odd while a write is in progress), so a reader never sees a generation with
another generation's deadline. A host compares the generation with its own: after its node was
declared dead and registered again, the old generation's Workers stay fenced until the host has
stopped them and adopted the new generation.

Cost on the hot path: :meth:`LeaseGate.open` compares ``time.monotonic_ns()`` with the deadline
it read last and reads the mapping again only once that has passed (~0.1 µs per check).

Which thread runs what: :meth:`LeaseGate.publish` on the runner actor's heartbeat thread;
:meth:`LeaseGate.open` on a host's loop and step threads (with the host lock held) and on its
:class:`Watchdog` thread.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .errors import SelfFencedError

__all__ = ["LeaseGate", "GatedStore", "Watchdog", "FENCE_FRACTION", "gate_path"]

log = logging.getLogger("runic.runner")

FENCE_FRACTION = 0.9
"""The gate closes this fraction of the lease after the send time of the last successful renewal."""

_LAYOUT = struct.Struct("<QQQ")  # sequence, generation, deadline (ns of CLOCK_MONOTONIC)
_SIZE = 64


def gate_path(scratch_dir: str | os.PathLike[str], instance: str) -> Path:
    """Where the gate of the Runner ``instance`` lives (in the actor system's scratch directory)."""
    return Path(scratch_dir) / "leases" / f"{instance}.gate"


class LeaseGate:
    """The deadline of one node's lease, shared by its runner actor and worker hosts (module docs).

    ``LeaseGate(path, create=True)`` in the runner actor (a new file, closed); ``LeaseGate(path,
    generation=g)`` in a worker host, whose Workers were acquired under generation ``g``.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False, generation: int | None = None) -> None:
        self.path = Path(path)
        self.generation = generation
        if create:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            os.ftruncate(fd, _SIZE)
        else:
            fd = os.open(self.path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        self._seq = 0
        self._until = 0  # the deadline this reader saw last, for its own generation
        self._lock = threading.Lock()  # writers of this process (the heartbeat, the actor thread)

    # -- the writer (the runner actor's process)

    def publish(self, generation: int, deadline_ns: int) -> None:
        """Set the node's generation and the deadline (0: closed now)."""
        with self._lock:
            seq = self._seq + 1  # odd: a write is in progress
            _LAYOUT.pack_into(self._map, 0, seq, generation, max(0, deadline_ns))
            _LAYOUT.pack_into(self._map, 0, seq + 1, generation, max(0, deadline_ns))
            self._seq = seq + 1

    def close_now(self, generation: int) -> None:
        """Close the gate at once (the node was declared dead, or is stopping)."""
        self.publish(generation, 0)

    # -- readers (worker hosts)

    def read(self) -> tuple[int, int]:
        """``(generation, deadline_ns)`` as last published."""
        while True:
            s1, generation, deadline = _LAYOUT.unpack_from(self._map, 0)
            if s1 & 1:
                continue
            s2 = _LAYOUT.unpack_from(self._map, 0)[0]
            if s1 == s2:
                return generation, deadline

    def open(self) -> bool:
        """True while this host's generation holds a lease whose deadline has not passed."""
        now = time.monotonic_ns()
        if now < self._until:
            return True
        generation, deadline = self.read()
        if generation != self.generation or now >= deadline:
            return False
        self._until = deadline
        return True

    def adopt(self, generation: int) -> None:
        """This host's Workers of older generations are gone: follow ``generation`` now."""
        self.generation = generation
        self._until = 0

    def remaining_s(self) -> float:
        """Seconds until the deadline (negative: past; -inf: another generation's)."""
        generation, deadline = self.read()
        if generation != self.generation:
            return float("-inf")
        return (deadline - time.monotonic_ns()) / 1e9

    def close(self) -> None:
        try:
            self._map.close()
        except (BufferError, ValueError):  # pragma: no cover - already closed
            pass


#: store methods that only read: everything else a worker host calls on its store is a write,
#: refused while the gate is closed (a method added to the store later is gated by default)
_READS = frozenset({
    "load", "stream", "cursor", "load_snapshot", "load_fact", "load_facts", "owner", "status",
    "list_status", "list", "exists", "nodes", "orphans", "table_info", "status_times", "inbox_pending",
    "inbox_state", "changes", "close", "on_writer_start", "meta", "timeline", "check_integrity",
})


class GatedStore:
    """A worker host's store handle behind its node's lease gate: every write raises
    :class:`~runic.runner.errors.SelfFencedError` (a :class:`~runic.store.StoreError`, so a
    Worker keeps what it could not write and retries, as for any failing store) while the gate
    is closed; reads pass. ``node`` names the node in the error."""

    def __init__(self, store: Any, gate: LeaseGate, node: str) -> None:
        self._store = store
        self._gate = gate
        self._node = node

    def _refuse(self, what: str) -> SelfFencedError:
        left = self._gate.remaining_s()
        why = ("its node was declared dead and registered again (it continues as a new generation)"
               if left == float("-inf") else
               f"node {self._node} could not renew its lease in time (the last successful renewal "
               f"allowed writes until {-left:.1f} s ago)")
        return SelfFencedError(
            f"{what} refused on this node: {why}, so it stopped writing by itself before another node may "
            "take its workflows over. It writes again once a renewal succeeds; check its connection "
            "to the store")

    def _check(self, what: str) -> None:
        if not self._gate.open():
            raise self._refuse(what)

    # the hot writes, without the indirection of __getattr__
    def append(self, *args: Any, **kwargs: Any) -> int:
        if not self._gate.open():
            raise self._refuse("append")
        return int(self._store.append(*args, **kwargs))

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        self._check("set_status")
        self._store.set_status(*args, **kwargs)

    def acquire(self, *args: Any, **kwargs: Any) -> int:
        self._check("acquire")
        return int(self._store.acquire(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if name in _READS or name.startswith("_") or not callable(value):
            return value

        def gated(*args: Any, **kwargs: Any) -> Any:
            self._check(name)
            return value(*args, **kwargs)

        return gated

    def __repr__(self) -> str:
        return f"<GatedStore {self._store!r}>"


class Watchdog(threading.Thread):
    """A worker host's own timer on its node's lease (a daemon thread): logs when the gate
    closes, and when it opens again calls ``reopened()`` (the host posts a pump of every Worker:
    a Worker that skipped dispatching while fenced has no write failing to retry)."""

    def __init__(self, gate: LeaseGate, host_id: str, reopened: Callable[[], None]) -> None:
        super().__init__(name=f"runic-lease-watchdog-{host_id}", daemon=True)
        self.gate = gate
        self.host_id = host_id
        self.reopened = reopened
        self._stop_event = threading.Event()
        self.closed_since: float | None = None

    def run(self) -> None:
        while not self._stop_event.is_set():
            left = self.gate.remaining_s()
            if left > 0:
                if self.closed_since is not None:
                    log.warning("host %s: the lease was renewed after %.1f s; dispatching and writing again",
                                self.host_id, time.monotonic() - self.closed_since)
                    self.closed_since = None
                    try:
                        self.reopened()
                    except Exception:  # noqa: BLE001 - the next reopening tries again
                        log.exception("host %s: resuming dispatch failed", self.host_id)
                self._stop_event.wait(min(left, 0.5) + 0.001)
                continue
            if self.closed_since is None:
                self.closed_since = time.monotonic()
                log.error("host %s: self-fenced: the node's lease was not renewed in time; no step starts and "
                          "nothing is written until a renewal succeeds", self.host_id)
            self._stop_event.wait(0.02)

    def stop(self) -> None:
        self._stop_event.set()
