"""The runner actor's side of the cluster: waking up on store signals, and callers who wait for
workflows that other nodes run.

Several Runners with the same name on one store are the nodes of a cluster; the store is the
only channel between them (thespian stays on each machine's loopback: its TCP transport
unpickles whatever reaches it and has no authentication). What crosses nodes:

* **inputs and commands** go through the store's inbox (:mod:`runic.runner.inbox`);
* **waits** for a workflow another node runs are answered from the store: the waiting caller's
  runner actor keeps a :class:`RemoteWaits` entry and re-reads the workflow's status (and, for a
  caller that sent an input, whether its inbox request was applied) when a signal says it
  changed, and on a polling timer;
* **signals**: on a store that pushes them (PostgreSQL's ``LISTEN``/``NOTIFY``, on status changes
  and inbox rows only), a :class:`Signals` thread listens and wakes the runner actor through a
  pipe (:class:`Wakeup`, watched by thespian); signals are lost while the listener is
  disconnected, so the actor also polls (every 2 s with a healthy listener, every 1 s without
  one, every 0.1 s on a store that pushes nothing — SQLite, where a read costs microseconds).

Thread territory: :class:`Signals` runs its own thread and touches only its pending set (under
its lock) and the pipe; :class:`Wakeup` may be written from any thread (the heartbeat writes it
too); :class:`RemoteWaits` belongs to the runner actor's thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from typing import Any, Callable, Hashable

from ..supervisor.messages import Done, ErrorReply
from . import stored
from .errors import RequestRefusedError
from .messages import Idle

__all__ = ["Wakeup", "Signals", "RemoteWaits", "RemoteWait", "poll_interval", "FORGET_S"]

log = logging.getLogger("runic.runner")

FORGET_S = 600.0
"""A remote wait not answered within this time is dropped (see :meth:`RemoteWaits.check`)."""


def poll_interval(notifies: bool, listening: bool) -> float:
    """How often the runner actor polls the inbox and the remote waits (see the module docs)."""
    if not notifies:
        return 0.1
    return 2.0 if listening else 1.0


class Wakeup:
    """A non-blocking pipe: :meth:`wake` from any thread, :attr:`fd` watched by the actor."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._w, False)

    def wake(self) -> None:
        try:
            os.write(self._w, b"!")
        except OSError:  # full (already woken) or closed at shutdown
            pass

    def drain(self) -> None:
        try:
            while os.read(self.fd, 4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.fd, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


class Signals(threading.Thread):
    """Listens to a store's change signals (:meth:`~runic.store.BaseStore.changes`) and wakes
    the runner actor; :meth:`take` hands over what arrived."""

    def __init__(self, open_listener: Callable[[], Any], wake: Callable[[], None], name: str) -> None:
        super().__init__(name=f"runic-signals-{name}", daemon=True)
        self._open = open_listener
        self._wake = wake
        self._lock = threading.Lock()
        self._changed: set[Hashable] = set()
        self._inbox = False
        self._lost = False
        self._stopping = threading.Event()
        self.listening = False

    def run(self) -> None:
        listener = None
        try:
            while not self._stopping.is_set():
                if listener is None:
                    try:
                        listener = self._open()
                    except Exception as exc:  # noqa: BLE001 - polling covers; try again soon
                        log.debug("opening the store's change listener failed: %s", exc)
                        self._stopping.wait(1.0)
                        continue
                got = listener.wait(0.5)
                if got is None:
                    if self.listening:
                        log.warning("the store's change signals are lost while reconnecting; polling meanwhile")
                    self.listening = False
                    with self._lock:
                        self._lost = True
                    self._wake()
                    continue
                self.listening = True
                if not got:
                    continue
                with self._lock:
                    for change in got:
                        if change.kind == "inbox":
                            self._inbox = True
                        if change.workflow_id is not None:
                            self._changed.add(change.workflow_id)
                        else:
                            self._lost = True  # a signal that names nothing: look at everything
                self._wake()
        finally:
            if listener is not None:
                try:
                    listener.close()
                except Exception:  # noqa: BLE001
                    pass

    def take(self) -> tuple[set[Hashable], bool, bool]:
        """``(workflow ids that changed, an inbox request came or was done, signals were lost)``."""
        with self._lock:
            changed, inbox, lost = self._changed, self._inbox, self._lost
            self._changed, self._inbox, self._lost = set(), False, False
        return changed, inbox, lost

    def stop(self) -> None:
        self._stopping.set()


@dataclasses.dataclass
class RemoteWait:
    """A caller waiting for a workflow another node runs: for it to settle (``kind="idle"``)
    or for its inbox request ``seq`` to be applied (``kind="applied"``: a stop or cancel)."""

    sender: Any
    ref: Any
    kind: str  # idle | applied
    seq: int | None = None
    since: float = dataclasses.field(default_factory=time.monotonic)


class RemoteWaits:
    """The remote waits of one runner actor (its thread only)."""

    def __init__(self) -> None:
        self.by_id: dict[Hashable, list[RemoteWait]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_id.values())

    def add(self, workflow_id: Hashable, wait: RemoteWait) -> None:
        self.by_id.setdefault(workflow_id, []).append(wait)

    def ids(self) -> list[Hashable]:
        return list(self.by_id)

    def drop(self, workflow_id: Hashable) -> list[RemoteWait]:
        return self.by_id.pop(workflow_id, [])

    def check(self, store: Any, workflow_ids: Any) -> list[tuple[Any, Any]]:
        """Read the store for ``workflow_ids`` and return ``(sender, reply)`` for every wait that
        is over (removed here). A wait whose read fails stays (the caller's own probe reports
        a store that keeps failing); one older than :data:`FORGET_S` is dropped unanswered (its
        caller stopped waiting, or its probes read the store themselves)."""
        out: list[tuple[Any, Any]] = []
        now = time.monotonic()
        for wid in list(workflow_ids):
            waits = self.by_id.get(wid)
            if not waits:
                continue
            waits = [w for w in waits if now - w.since < FORGET_S]
            keep: list[RemoteWait] = []
            status: str | None = None
            states: dict[int, tuple[str, str | None]] = {}
            for w in waits:
                try:
                    reply = self._reply(store, wid, w, states, status)
                    if reply is not None and isinstance(reply, Idle):
                        status = reply.status
                except Exception as exc:  # noqa: BLE001 - unknown id, or the store fails
                    if isinstance(exc, LookupError):
                        reply = ErrorReply.from_exception(exc, w.ref)
                    else:
                        log.debug("remote wait for %r: reading the store failed: %s", wid, exc)
                        reply = None
                if reply is None:
                    keep.append(w)
                else:
                    out.append((w.sender, reply))
            if keep:
                self.by_id[wid] = keep
            else:
                self.by_id.pop(wid, None)
        return out

    @staticmethod
    def _reply(store: Any, wid: Hashable, w: RemoteWait, states: dict[int, tuple[str, str | None]],
               known_status: str | None) -> Any:
        if w.seq is not None:
            state = states.get(w.seq)
            if state is None:
                state = states[w.seq] = store.inbox_state(wid, w.seq)
            if state[0] == "pending":
                if w.kind == "idle":  # a stopped workflow applies its inbox when resumed, not now
                    status = known_status or stored.stored_status(store, wid)
                    if status in ("stopped", "cancelled"):
                        return Idle(wid, status, w.ref)
                return None
            if state[1]:  # refused by the owner
                return ErrorReply.from_exception(RequestRefusedError(
                    f"workflow {wid!r}: the node that runs it refused the request: {state[1]}", wid), w.ref)
        if w.kind == "applied":
            return Done(w.ref)
        status = known_status or stored.stored_status(store, wid)
        if status == "running":
            return None
        return Idle(wid, status, w.ref)

