"""The heartbeat: a thread of the runner actor's process that renews the node's lease.

Every ``lease / 3`` seconds it renews the lease of this node's current generation
(:meth:`~runic.store.BaseStore.renew_node`, the store's clock) and, once the renewal succeeded,
publishes the lease gate's new deadline: the renewal's *send* time plus 0.9 × lease
(:mod:`runic.runner.gate`). A renewal that fails (the store is unreachable) is retried sooner
(every tenth of the lease, at most every half second) and publishes nothing, so the gate closes
on time on its own; one that blocks (a dead socket) blocks only this thread — the runner actor's
thread and the worker hosts go on, and the hosts' gate closes at the deadline regardless.

A renewal refused with :class:`~runic.store.NodeFencedError` means another node declared this
one dead (its lease ran out) and may already run its workflows: the heartbeat closes the gate at
once, stops renewing, and calls ``on_fenced()`` (which wakes the runner actor's thread). The
runner actor stops the affected Workers, registers a new generation and calls :meth:`follow`;
renewals go on for that generation.

Thread territory: :meth:`run` is the heartbeat thread; :meth:`follow`, :meth:`stop` and the
attributes read by the runner actor (``fenced``, ``last_ok``) are safe from its thread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from ..store import NodeFencedError
from .gate import FENCE_FRACTION, LeaseGate

__all__ = ["Heartbeat"]

log = logging.getLogger("runic.runner")


class Heartbeat(threading.Thread):
    """Renews ``node``'s lease on ``store`` and publishes the gate's deadline (module docs)."""

    def __init__(self, store: Any, node: str, generation: int, lease_s: float, gate: LeaseGate,
                 on_fenced: Callable[[], None], *, sent_at_ns: int | None = None) -> None:
        super().__init__(name=f"runic-heartbeat-{node}", daemon=True)
        self.store = store
        self.node = node
        self.lease_s = float(lease_s)
        self.gate = gate
        self.on_fenced = on_fenced
        self._generation = generation
        self._cond = threading.Condition()
        self._stopping = False
        #: the generation that was declared dead (set by this thread, cleared by :meth:`follow`)
        self.fenced: int | None = None
        #: monotonic time of the send of the last successful renewal
        self.last_ok: float = time.monotonic()
        self.renewals = 0
        self.failures = 0
        if sent_at_ns is not None:  # the registration itself was the first renewal
            gate.publish(generation, sent_at_ns + int(FENCE_FRACTION * self.lease_s * 1e9))

    @property
    def generation(self) -> int:
        return self._generation

    def follow(self, generation: int) -> None:
        """Renew ``generation`` from now on (a new registration of this node)."""
        with self._cond:
            self._generation = generation
            self.fenced = None
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop renewing (a clean stop; the runner actor then releases the lease)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` (or until stopped or told to follow); False once stopping."""
        with self._cond:
            if not self._stopping:
                self._cond.wait(max(0.0, seconds))
            return not self._stopping

    def run(self) -> None:
        period = self.lease_s / 3
        retry = min(self.lease_s / 10, 0.5)
        next_at = time.monotonic() + period
        while self._sleep(next_at - time.monotonic()):
            with self._cond:
                if self.fenced is not None:  # declared dead: wait for the new generation
                    next_at = time.monotonic() + retry
                    continue
                generation = self._generation
            sent = time.monotonic_ns()
            late = sent / 1e9 - next_at
            if late > period:
                log.warning("node %s: its heartbeat thread woke %.2f s late (lease %.1f s)", self.node, late,
                            self.lease_s)
            try:
                self.store.renew_node(self.node, generation, self.lease_s)
            except NodeFencedError as exc:
                self.gate.close_now(generation)
                with self._cond:
                    stale = self._generation == generation
                    if stale:
                        self.fenced = generation
                if stale:
                    log.error("node %s (generation %d) was declared dead by another node: %s. Its workflows "
                              "continue elsewhere; stopping its Workers", self.node, generation, exc)
                    self.on_fenced()
                next_at = time.monotonic() + retry
                continue
            except Exception as exc:  # noqa: BLE001 - the store is failing: retry soon, publish nothing
                self.failures += 1
                log.warning("node %s: renewing its lease failed (%s: %s); retrying in %.2f s", self.node,
                            type(exc).__name__, exc, retry)
                next_at = time.monotonic() + retry
                continue
            took = (time.monotonic_ns() - sent) / 1e9
            if took > period:
                log.warning("node %s: renewing its lease took %.2f s (lease %.1f s)", self.node, took, self.lease_s)
            with self._cond:
                if self._generation == generation and self.fenced is None:
                    self.gate.publish(generation, sent + int(FENCE_FRACTION * self.lease_s * 1e9))
                    self.last_ok = sent / 1e9
                    self.renewals += 1
            next_at = sent / 1e9 + period
