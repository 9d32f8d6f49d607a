"""The port: everything a :class:`~runic.runner.worker.Worker` may ask of the host it lives in.

A Worker never touches its worker host's actor, sockets or threads directly; it talks to a
:class:`HostPort` — in a worker host the :class:`~runic.runner.loop.HostLoop`, in tests a plain
object (see ``tests/runner/test_worker_unit.py``, which drives Workers with a fake port and a
``MemoryStore``, no process at all).

**The rule of the port:** every Worker method runs with :attr:`HostPort.lock` held, on the loop
thread or on a step thread that has just finished a step. :meth:`HostPort.assert_locked` checks
it when ``RUNIC_DEBUG_LOCKS=1`` (a debug aid: a no-op otherwise).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Protocol

__all__ = ["HostPort", "DebugLock", "DEBUG_LOCKS", "make_lock"]

DEBUG_LOCKS = os.environ.get("RUNIC_DEBUG_LOCKS", "") not in ("", "0")
"""``RUNIC_DEBUG_LOCKS=1``: Workers assert that they run with their host's lock held."""


class HostPort(Protocol):
    """The host as a Worker sees it."""

    host_id: str
    store: Any
    draining: bool  # the host is stopping: start no new step
    lock: Any  # held by whoever runs a Worker method

    def executor(self, name: str) -> Any:
        """The executor named ``name`` (``thread``, ``inline``, ``process``) of this host."""

    def submit_work(self, worker: Any, key: tuple[Any, ...], runnable: Any, policy: Any, executor: Any) -> None:
        """Run ``runnable`` under ``policy`` on ``executor``'s threads; the result comes back as
        ``worker.on_result(...)`` (or ``worker.on_crash(...)``), with the lock held."""

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop thread, with the lock held, after what is already queued."""

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop thread, with the lock held, in ``delay_s`` seconds."""

    def on_loop_thread(self) -> bool:
        """True on the loop thread (inline work runs there only)."""

    def worker_stopped(self, worker: Any, reason: str) -> None:
        """``worker`` ended (stopped, cancelled, fenced): forget it and tell its waiters."""

    def assert_locked(self) -> None:
        """With ``RUNIC_DEBUG_LOCKS=1``: raise ``AssertionError`` unless this thread holds the lock."""


class DebugLock:
    """A re-entrant lock that knows its owner (what ``RUNIC_DEBUG_LOCKS=1`` uses)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if got:
            self._owner = threading.get_ident()
            self._depth += 1
        return got

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def held(self) -> bool:
        return self._owner == threading.get_ident()


def make_lock() -> Any:
    """The lock of a host: a plain ``RLock``, or a :class:`DebugLock` under ``RUNIC_DEBUG_LOCKS``."""
    return DebugLock() if DEBUG_LOCKS else threading.RLock()
