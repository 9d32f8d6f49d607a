"""A worker host's execution loop: the thread that serves requests, and the step threads.

Thespian delivers *control* to a host (start, run, queries); per-step traffic never goes
through actor messages. The host actor's thread hands each request to this loop
(:meth:`HostLoop.call`), which runs it against its Workers. Steps run on a thread pool; the
thread that finished a step applies its result itself, checkpoints and dispatches what
follows — and when that is exactly one more step it simply runs it next (a chain runs on one
thread with no hand-off per step). Every access to a Worker holds the host's lock, so a
Worker still sees one thing at a time.

Answers leave through an outbox: ``(address, message)`` pairs plus one byte written to a pipe.
The actor watches that pipe (``ThespianWatch``) and sends the replies from its own thread,
because thespian's ``send`` from another thread can stall until some other message arrives
(measured: a thread-pool completion reported that way never finished).

**Thread territory** (the loop is the :class:`~runic.runner.port.HostPort` of its Workers):

===========================  ====================  ===================================================
method                       thread                state it touches
===========================  ====================  ===================================================
``call``, ``post``,          any                   ``inbox`` (a thread-safe ``SimpleQueue``)
``call_later``
``reply``                    loop or step thread   ``outbox`` (a deque; appends are atomic) + the pipe
                             (lock held)
``drain_outbox``             actor thread          ``outbox``, the pipe
``_run``, ``_handle``        loop thread           ``_timers`` (loop thread only); takes ``lock``
                                                   around each request and timer
``_run_jobs``                step threads          takes ``lock`` around each result it applies
``submit_work``,             loop or step thread   ``workers``, the executors
``worker_stopped``           (lock held)
``stop``                     actor thread          posts the final persist, then waits for the loop
===========================  ====================  ===================================================

``lock`` guards ``workers`` and every Worker's state. ``RUNIC_DEBUG_LOCKS=1`` makes Workers
assert that they run with it held.

**Group commit** (inline work, on the loop thread). Instead of running one workflow's chain to
its end with one store transaction per step, the loop runs *rounds*: every Worker with inline
work ready runs it (one step each, for a chain) and applies the results, then **one**
transaction (:meth:`~runic.store.BaseStore.append_many`) persists what all of them produced, then
each dispatches its next step for the next round. Every step is still durable before the step
after it is dispatched, and a Worker whose item is refused (fenced: another owner took it over)
stops alone; the others' items commit. Between rounds the loop takes the requests queued
meanwhile, so a request waits at most one round. Decision: a round per loop iteration, not a
commit timer: with one workflow a round is exactly the old step-then-commit, so a lone chain
pays nothing; with K workflows the commit, the WAL page writes and the file lock are shared by
K steps (measured: aggregate durable steps/s and short workflows/s, docs/benchmarks.md). Steps
on executor threads keep committing on their own thread (no hand-off back to the loop per
step: that costs more than the commit it would share).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from typing import Any, Callable

from ..driver import execute_with_policy, now_ms
from ..facts import set_hash_version
from ..supervisor.messages import ErrorReply
from .endpoint import ConnReply
from .errors import RunnerNotRunningError
from .executors import attempts_of, make_executor
from .port import make_lock
from .worker import unencodable

__all__ = ["HostLoop"]

log = logging.getLogger("runic.runner")


#: requests taken from the inbox before a round, at most (the rest wait one round)
_BURST = 4096


class _ThreadState(threading.local):
    chaining = False
    next: tuple | None = None


_tls = _ThreadState()


class HostLoop:
    """The execution loop of one worker host (see the module docs)."""

    #: the node's lease gate (:mod:`runic.runner.gate`), set by the host; Workers check it
    gate: Any = None

    def __init__(self, host_id: str, store: Any, *, threads: int = 32, notify_fd: int | None = None,
                 on_worker_stopped: Callable[[Any, str], None] | None = None) -> None:
        self.host_id = host_id
        self.store = store
        self.threads = threads
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.outbox: deque = deque()
        self.workers: dict[Any, Any] = {}
        self._executors: dict[str, Any] = {}
        self._notify_r: int | None
        self._notify_w: int | None
        self._notify_r, self._notify_w = os.pipe() if notify_fd is None else (None, notify_fd)
        if self._notify_r is not None:
            os.set_blocking(self._notify_r, False)
            os.set_blocking(self._notify_w, False)
        self._on_worker_stopped = on_worker_stopped
        self._stopping = False
        self.draining = False  # set when the host stops: no new step starts
        self.lock = make_lock()
        self._timers: list[tuple[float, int, Callable[[], Any]]] = []  # loop thread only
        self._timer_seq = itertools.count()
        #: group commit (loop thread, lock held): Workers with inline work for the next round,
        #: and Workers whose checkpoint waits for this round's commit
        self._ready: dict[Any, Any] = {}
        self._dirty: dict[Any, Any] = {}
        if callable(getattr(store, "append_many", None)):
            self.want_step = self._want_step
            self.want_commit = self._want_commit
        self.thread = threading.Thread(target=self._run, name=f"runic-host-loop-{host_id}", daemon=True)

    @property
    def notify_fd(self) -> int | None:
        """The read end of the wake-up pipe (watched by the host actor)."""
        return self._notify_r

    def start(self) -> None:
        self.thread.start()

    # ------------------------------------------------------------------ executors
    def executor(self, name: str) -> Any:
        ex = self._executors.get(name)
        if ex is None:
            ex = self._executors[name] = make_executor(name, self.threads)
        return ex

    def submit_work(self, worker: Any, key: tuple, r: Any, policy: Any, executor: Any) -> None:
        """Run the policy driver for ``r`` on ``executor``'s threads (called with the lock held).

        On a step thread that has just applied a result, the first new step becomes that
        thread's next job instead of a hand-off to another thread."""
        job = (worker, key, r, policy, executor)
        if _tls.chaining and _tls.next is None:
            _tls.next = job
            return
        executor.submit(lambda: self._run_jobs(job), None)

    def _run_jobs(self, job: tuple[Any, ...] | None) -> None:
        """Runs on a step thread: execute, then apply under the lock; repeat with a chained job."""
        _tls.chaining = True
        try:
            while job is not None:
                _tls.next = None
                worker: Any
                worker, key, r, policy, executor = job
                t0 = now_ms()
                set_hash_version(worker.hash_version)  # the facts it makes hash as its workflow's do
                try:
                    with attempts_of(worker.id):
                        result, lifecycle = execute_with_policy(r, policy,
                                                                emit_events=policy.execution_mode == "durable",
                                                                attempt_runner=executor.attempt_runner)
                    result = unencodable(result)
                    crash = None
                except BaseException as exc:  # noqa: BLE001 - the task crashed
                    crash = exc
                with self.lock:
                    if self.holds(worker) and not self._stopping:
                        try:
                            if crash is None:
                                worker.on_result(key, result, lifecycle, now_ms() - t0)
                            else:
                                worker.on_crash(key, crash)
                        except Exception:  # noqa: BLE001 - keep the host alive
                            log.exception("workflow %r: applying a result failed", worker.id)
                job = _tls.next
        finally:
            _tls.chaining = False
            _tls.next = None

    # ------------------------------------------------------------------ talking to the actor
    def call(self, fn: Callable[[], Any], reply_to: Any, ref: Any) -> None:
        """Run ``fn`` on the loop; send its return value (if not None) to ``reply_to``."""
        self.inbox.put(("call", fn, reply_to, ref))

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop thread, after what is already queued (any thread may call it)."""
        self.inbox.put(("call", fn, None, None))

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop thread in ``delay_s`` seconds (any thread may call it)."""
        self.inbox.put(("timer", time.monotonic() + max(0.0, delay_s), fn))

    def on_loop_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def assert_locked(self) -> None:
        """With ``RUNIC_DEBUG_LOCKS=1``: fail unless this thread holds :attr:`lock`."""
        held = getattr(self.lock, "held", None)
        if held is not None:
            assert held(), f"host {self.host_id}: a Worker ran without the host lock held"

    def reply(self, address: Any, message: Any) -> None:
        """Send ``message`` to ``address``: a caller on the direct channel is written to at once
        (by this thread); an actor address goes through the outbox (sent by the actor thread)."""
        if address is None:
            return
        if type(address) is ConnReply:
            address.send(message)
            return
        self.outbox.append((address, message))
        if self._notify_w is not None:
            try:
                os.write(self._notify_w, b"!")
            except OSError:  # pragma: no cover - pipe closed at shutdown
                pass

    def drain_outbox(self) -> list:
        """Called by the actor thread: the pending ``(address, message)`` pairs."""
        if self._notify_r is not None:
            try:
                os.read(self._notify_r, 65536)
            except (BlockingIOError, OSError):
                pass
        out = []
        while self.outbox:
            out.append(self.outbox.popleft())
        return out

    def holds(self, worker: Any) -> bool:
        """True while ``worker`` is this host's Worker of its workflow (not one that ended)."""
        return self.workers.get(worker.id) is worker

    def worker_stopped(self, worker: Any, reason: str) -> None:
        if self.holds(worker):
            del self.workers[worker.id]
        waiting, worker.awaiters = worker.awaiters, []
        for notify in waiting:
            notify(worker)
        if self._on_worker_stopped is not None:
            self._on_worker_stopped(worker.id, reason)

    # ------------------------------------------------------------------ group commit
    def _want_step(self, worker: Any) -> None:
        self._ready[worker.id] = worker

    def _want_commit(self, worker: Any) -> None:
        self._dirty[worker.id] = worker

    def _round(self) -> None:
        """Loop thread, lock held: one step of every ready Worker, then one commit of them all."""
        ready = list(self._ready.values())
        self._ready.clear()
        for w in ready:
            if self.holds(w) and not w.stopped:
                try:
                    w.step_inline()
                except Exception:  # noqa: BLE001 - keep the host alive
                    log.exception("workflow %r: a step failed in the loop", w.id)
        if self._dirty:
            self.commit_round()

    def commit_round(self) -> None:
        """Persist every Worker waiting for a commit in one transaction, and tell each how it
        went (:meth:`~runic.runner.worker.Worker.committed`). Loop thread, lock held."""
        batch = [w for w in self._dirty.values() if self.holds(w) and not w.stopped]
        self._dirty.clear()
        if not batch:
            return
        items = [w.commit_item() for w in batch]
        try:
            results: list[Any] = self.store.append_many(items)
        except Exception as exc:  # noqa: BLE001 - the transaction failed: every item did
            results = [exc] * len(batch)
        for w, res in zip(batch, results):
            try:
                w.committed(res)
            except Exception:  # noqa: BLE001 - keep the host alive
                log.exception("workflow %r: after its commit", w.id)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        get = self.inbox.get
        get_nowait = self.inbox.get_nowait
        timers = self._timers
        ready, dirty = self._ready, self._dirty
        while not self._stopping:
            item: tuple | None
            if ready or dirty:  # a round is due: take only what is queued already
                item = None
            elif timers:
                try:
                    item = get(timeout=max(0.0, timers[0][0] - time.monotonic()))
                except queue.Empty:
                    item = None
            else:
                item = get()
            with self.lock:
                if item is not None:
                    self._handle(item)
                for _ in range(_BURST):  # the requests queued meanwhile join this round
                    if self._stopping:
                        break
                    try:
                        more = get_nowait()
                    except queue.Empty:
                        break
                    self._handle(more)
                while timers and timers[0][0] <= time.monotonic() and not self._stopping:
                    _, _, fn = heapq.heappop(timers)
                    self._handle(("call", fn, None, None))
                if (ready or dirty) and not self._stopping:
                    self._round()

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "call":
            _, fn, reply_to, ref = item
            if self.draining and reply_to is not None:
                # a request still queued when the host began to stop is refused, not run: a
                # resume queued behind others (a takeover just before a shutdown) rebuilt one
                # workflow after another and held the stop past its 15 s shutdown
                self.reply(reply_to, ErrorReply.from_exception(RunnerNotRunningError(
                    f"worker host {self.host_id} is stopping: the request was not taken"), ref))
                return
            try:
                out = fn()
            except Exception as exc:  # noqa: BLE001 - answered as an error
                if reply_to is None:
                    log.exception("host %s: a request failed", self.host_id)
                else:
                    log.debug("host %s: request failed: %s", self.host_id, exc)
                self.reply(reply_to, ErrorReply.from_exception(exc, ref))
                return
            if out is not None and reply_to is not None:
                self.reply(reply_to, out)
        elif kind == "timer":
            heapq.heappush(self._timers, (item[1], next(self._timer_seq), item[2]))
        elif kind == "stop":
            self._stopping = True
            item[1].set()

    def stop(self, timeout: float = 10.0) -> None:
        """Persist every Worker's buffered events and stop the loop (no new step starts)."""
        self.draining = True
        if not self.thread.is_alive():
            return
        finished = threading.Event()

        def persist_all() -> None:
            for w in list(self.workers.values()):
                try:
                    w.persist()
                except Exception:  # noqa: BLE001
                    log.exception("workflow %r: persisting at shutdown failed", w.id)

        self.post(persist_all)
        self.inbox.put(("stop", finished))
        finished.wait(timeout)
        self.thread.join(timeout)
        for ex in self._executors.values():
            ex.shutdown()
