"""Worker hosts: the processes where workflows run.

A :class:`WorkerHost` is a supervised actor (a child of the runner actor) that hosts many
Workers in one :class:`~runic.runner.loop.HostLoop`. A worker host process has three kinds of
thread, each with its own module:

=================  ==============================================  ==================================
thread             runs                                            module
=================  ==============================================  ==================================
the actor thread   thespian's message loop: every ``receiveMsg_*``  this module (:class:`WorkerHost`)
                   and ``on_start``/``on_stop`` here; hands each
                   request to the loop, sends the replies the loop
                   leaves in its outbox (thespian's ``send`` is
                   only safe from this thread)
the loop thread    request handlers, timers, inline steps, every   :mod:`runic.runner.loop`
                   Worker method not on a step thread               (:class:`~runic.runner.loop.HostLoop`),
                                                                    :mod:`runic.runner.service`
step threads       steps (the policy driver); the thread that      :mod:`runic.runner.loop`
                   finished a step applies its result and runs     (``_run_jobs``),
                   the next step of a chain itself                  :mod:`runic.runner.executors`
=================  ==============================================  ==================================

The one lock, ``HostLoop.lock``, guards every Worker and the loop's registry of Workers: the loop
thread takes it around each request and timer, a step thread around each result it applies. The
actor thread never takes it: it only touches the loop's inbox (a thread-safe queue) and outbox (a
deque drained on the actor thread, woken through a pipe).

Start-up tuning (measured on the project's 2-core VM; see docs/benchmarks.md):

* **timer slack 1 ns** (``prctl(PR_SET_TIMERSLACK, 1)``, Linux): the kernel's default 50 µs
  slack made every timed wait of the host sleep ~50 µs longer than asked — ``time.sleep(0)``
  cost 72 µs and a step that sleeps or waits on a timeout paid it on every step. It is set on
  the actor thread first thing in :meth:`WorkerHost.on_start`, before the loop, endpoint and
  step threads exist: a thread inherits its creator's slack. Costs nothing measurable
  otherwise (only sleeping threads wake at finer times);
* **gc.freeze()** once the host is up: the objects of start-up (modules, the store, the
  loop) move to the permanent generation, so the collections that many small allocations per
  step trigger no longer walk them.

Recovery: a host that is restarted after a crash starts empty; the runner actor, its
supervisor, sends it ``ResumeWorkflow`` for every workflow it ran, and each is rebuilt from
the store under a new ownership epoch (the dead process's epoch is fenced).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys
from typing import Any

from thespian.actors import ThespianWatch

from .. import telemetry, telemetry_otel
from ..actors import current_scratch_dir
from ..errors import RunicError
from ..store.registry import open_store
from ..supervisor import ChildActor
from ..supervisor.messages import ErrorReply
from . import executors, logs
from .endpoint import ConnReply, Endpoint
from .gate import GatedStore, LeaseGate, Watchdog
from .loop import HostLoop
from .messages import (
    HostNotice,
    unpack,
)
from .service import HANDLERS, HostService
from .wire import endpoint_path

__all__ = ["WorkerHost"]

log = logging.getLogger("runic.runner")

_PR_SET_TIMERSLACK = 29


def minimal_timer_slack() -> bool:
    """Set this thread's timer slack to 1 ns (inherited by the threads it creates from now on);
    True if the kernel took it. Linux only; elsewhere (or if refused) nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0
    except (OSError, AttributeError) as exc:  # pragma: no cover - no libc prctl
        log.debug("timer slack unchanged: %s", exc)
        return False


class WorkerHost(ChildActor):
    """A worker host actor (child of the runner actor). Options: ``runner``, ``host_id``,
    ``store`` (``module:Class``), ``store_opts``, ``threads``, ``telemetry`` (packed
    ``[(names, handler)]``)."""

    restart = "permanent"
    shutdown = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop: HostLoop | None = None
        self.endpoint: Endpoint | None = None
        self.service: HostService | None = None
        self.watchdog: Watchdog | None = None

    def on_start(self, opts: dict) -> dict:
        if self.loop is not None:
            return {"host": self.loop.host_id}
        minimal_timer_slack()  # first: the threads started below inherit it
        for names, handler in unpack(opts.get("telemetry")) or ():
            telemetry.attach(names, handler)
        host_id = opts["host_id"]
        store: Any = open_store(opts["store"], opts["runner"], opts.get("store_opts") or {})
        store.on_writer_start()  # e.g. WAL checkpoints off the commit path (a host never forks)
        gate = None
        generation = opts.get("generation")
        if opts.get("gate"):  # the node's lease: no step starts and nothing is written past it
            gate = LeaseGate(opts["gate"], generation=generation)
            current = gate.read()[0]
            if current:  # a host (re)started after its node registered again: it holds no Worker yet
                generation = current
                gate.adopt(current)
            store = GatedStore(store, gate, str(opts.get("node")))
        log_path = logs.log_file(store, opts["runner"])
        logs.attach(log_path)
        executors.ATTEMPT_LOG_FILE = log_path
        loop = HostLoop(host_id, store, threads=int(opts.get("threads") or 32),
                        on_worker_stopped=self._worker_stopped)
        loop.gate = gate
        self.loop = loop
        self.service = HostService(loop, owner=f"{opts['runner']}/{host_id}/{os.getpid()}",
                                   node=opts.get("node"), generation=generation)
        loop.start()
        if gate is not None:
            self.watchdog = Watchdog(gate, host_id, lambda: loop.post(lambda: _pump_all(loop)))
            self.watchdog.start()
        scratch = current_scratch_dir()
        if scratch is not None:  # the direct channel (see runic.runner.endpoint)
            self.endpoint = Endpoint(endpoint_path(scratch, host_id), self._direct)
            self.endpoint.start()
        gc.freeze()  # start-up objects: out of every later collection
        return {"host": host_id}

    def _direct(self, msg: Any, reply: ConnReply) -> None:
        """A request from the direct channel (runs on the endpoint thread): to the loop, like a
        request from thespian; the reply goes straight back on the caller's connection."""
        assert self.loop is not None and self.service is not None
        msg.reply_to = reply
        run: Any = HANDLERS[type(msg)]
        service = self.service
        self.loop.call(lambda: run(service, msg), reply, msg.ref)

    def _worker_stopped(self, workflow_id: Any, reason: str) -> None:
        # runs on the loop thread: the notice goes out through the outbox
        if self.loop is not None and self.supervisor_address is not None:
            self.loop.reply(self.supervisor_address, HostNotice(self.loop.host_id, workflow_id, "stopped", reason))

    def on_stop(self, reason: str) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.endpoint is not None:
            self.endpoint.stop()
        if self.loop is not None:
            self.loop.stop()
            telemetry_otel.flush()  # spans batched in this process are exported before it exits
            self._send_outbox()
            try:
                self.loop.store.close()
            except Exception:  # noqa: BLE001
                log.exception("host %s: closing the store failed", self.loop.host_id)

    # -- plumbing between the actor thread and the loop ---------------------------------------
    def receiveMessage(self, msg: Any, sender: Any) -> Any:  # noqa: N802 - thespian API
        super().receiveMessage(msg, sender)
        if self.loop is not None and self.loop.notify_fd is not None and not self._exiting:
            self._send_outbox()
            return ThespianWatch([self.loop.notify_fd])
        return None

    def _send_outbox(self) -> None:
        if self.loop is None:
            return
        for address, message in self.loop.drain_outbox():
            self.send(address, message)

    def receiveMsg_WatchMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
        self._send_outbox()

    def receiveMsg_Request(self, msg: Any, sender: Any) -> None:  # noqa: N802 - every runner request
        assert self.loop is not None and self.service is not None
        reply_to = msg.reply_to if msg.reply_to is not None else sender
        msg.reply_to = reply_to
        handler = HANDLERS.get(type(msg))
        if handler is None:
            self.send(reply_to, ErrorReply.from_exception(
                RunicError(f"worker hosts do not handle {type(msg).__name__}; send it to the runner actor"), msg.ref))
            return
        service = self.service
        run: Any = handler
        self.loop.call(lambda: run(service, msg), reply_to, msg.ref)


def _pump_all(loop: HostLoop) -> None:
    """After the lease gate opened again (on the loop thread): dispatch what waited."""
    for worker in list(loop.workers.values()):
        worker.pump()
