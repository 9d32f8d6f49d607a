"""A worker host's execution loop: one thread that owns its Workers.

Thespian delivers *control* to a host (start, run, queries); per-step traffic never goes
through actor messages. The host actor's thread hands each request to this loop
(:meth:`HostLoop.call`); the loop runs Workers, gets step outcomes from executor threads
through a plain queue, and answers by putting ``(address, message)`` pairs in an outbox and
writing one byte to a pipe. The actor watches that pipe (``ThespianWatch``) and sends the
replies from its own thread, because ``send`` from another thread can stall until some
other message arrives (see ``shared/notes/thespian.md``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from typing import Any, Callable

from ..driver import execute_with_policy, now_ms
from ..supervisor.messages import ErrorReply
from .executors import make_executor
from .messages import Idle

__all__ = ["HostLoop"]

log = logging.getLogger("runic.runner")


class HostLoop:
    """The execution loop of one worker host (see the module docs)."""

    def __init__(self, host_id: str, store: Any, *, threads: int = 32, notify_fd: int | None = None,
                 on_worker_stopped: Callable[[Any, str], None] | None = None) -> None:
        self.host_id = host_id
        self.store = store
        self.threads = threads
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.outbox: deque = deque()
        self.workers: dict[Any, Any] = {}
        self._executors: dict[str, Any] = {}
        self._notify_r, self._notify_w = os.pipe() if notify_fd is None else (None, notify_fd)
        if self._notify_r is not None:
            os.set_blocking(self._notify_r, False)
            os.set_blocking(self._notify_w, False)
        self._on_worker_stopped = on_worker_stopped
        self._stopping = False
        self._dirty: set = set()
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
        """Run the policy driver for ``r`` on ``executor``; the outcome comes back as a message."""
        emit = policy.execution_mode == "durable"
        attempt_runner = executor.attempt_runner
        wid = worker.id
        inbox = self.inbox

        def work() -> tuple:
            t0 = now_ms()
            result, lifecycle = execute_with_policy(r, policy, emit_events=emit, attempt_runner=attempt_runner)
            return result, lifecycle, now_ms() - t0

        def done(fut: Any) -> None:
            try:
                inbox.put(("done", wid, worker, key, fut.result()))
            except BaseException as exc:  # noqa: BLE001 - the task crashed
                inbox.put(("crash", wid, worker, key, exc))

        executor.submit(work, done)

    # ------------------------------------------------------------------ talking to the actor
    def call(self, fn: Callable[[], Any], reply_to: Any, ref: Any) -> None:
        """Run ``fn`` on the loop; send its return value (if not None) to ``reply_to``."""
        self.inbox.put(("call", fn, reply_to, ref))

    def post(self, fn: Callable[[], Any]) -> None:
        self.inbox.put(("call", fn, None, None))

    def reply(self, address: Any, message: Any) -> None:
        if address is None:
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

    def reply_idle(self, reply_to: Any, ref: Any, worker: Any) -> None:
        self.reply(reply_to, Idle(worker.id, worker.status, ref))

    def worker_stopped(self, worker: Any, reason: str) -> None:
        if self.workers.get(worker.id) is worker:
            del self.workers[worker.id]
        for reply_to, ref in worker.awaiters:
            self.reply_idle(reply_to, ref, worker)
        worker.awaiters = []
        if self._on_worker_stopped is not None:
            self._on_worker_stopped(worker.id, reason)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        get = self.inbox.get
        while not self._stopping:
            item = get()
            self._handle(item)
            while True:
                try:
                    item = self.inbox.get_nowait()
                except queue.Empty:
                    break
                self._handle(item)
            if self._dirty:
                dirty, self._dirty = self._dirty, set()
                for w in dirty:
                    if not w.stopped:
                        try:
                            w.pump()
                        except Exception:  # noqa: BLE001 - keep the host alive
                            log.exception("workflow %r: dispatch failed", w.id)

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "done":
            _, wid, worker, key, (result, lifecycle, duration) = item
            if self.workers.get(wid) is worker:
                try:
                    worker.on_result(key, result, lifecycle, duration, dispatch=False)
                except Exception:  # noqa: BLE001
                    log.exception("workflow %r: applying a result failed", wid)
                self._dirty.add(worker)
        elif kind == "crash":
            _, wid, worker, key, exc = item
            if self.workers.get(wid) is worker:
                worker.on_crash(key, exc)
                self._dirty.add(worker)
        elif kind == "call":
            _, fn, reply_to, ref = item
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
        elif kind == "stop":
            self._stopping = True
            done_event = item[1]
            done_event.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Persist every Worker's buffered events and stop the loop."""
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
