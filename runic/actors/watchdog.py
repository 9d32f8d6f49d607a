"""The system watchdog: stops an actor system whose driver died without shutting it down.

thespian's admin, logger and actors outlive the process that started them. A driver that
exits normally runs :meth:`ActorSystemHandle.shutdown` from ``atexit``; a driver killed with
SIGKILL runs nothing. So every system started by :func:`runic.actors.start_system` also gets a
:class:`SystemWatchdog`: a small top-level actor that polls the driver's pid (with its start
time, so a recycled pid does not fool it). When the driver is gone it

1. forks a detached *cleaner* (its own session) that waits for the system's processes to
   exit, SIGKILLs whatever is left after a grace period and removes the scratch directory;
2. asks the admin to shut the whole system down.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass

from thespian.actors import ActorTypeDispatcher, WakeupMessage

from . import procs

__all__ = ["WatchDriver", "SystemWatchdog", "POLL_SECONDS"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
CLEANER_GRACE_SECONDS = 10.0


@dataclass
class WatchDriver:
    """Start watching: the driver's pid and start time, the system's session and scratch dir."""

    driver_pid: int
    driver_start_time: int | None
    session: int
    scratch_dir: str | None


class SystemWatchdog(ActorTypeDispatcher):
    """Polls the driver every :data:`POLL_SECONDS`; shuts the system down when it is gone."""

    def __init__(self) -> None:
        super().__init__()
        self._watch: WatchDriver | None = None
        self._fired = False

    def receiveMsg_WatchDriver(self, msg: WatchDriver, sender) -> None:  # noqa: N802
        first = self._watch is None
        self._watch = msg
        if first:
            self.wakeupAfter(POLL_SECONDS)
        self.send(sender, "watching")

    def receiveMsg_WakeupMessage(self, msg: WakeupMessage, sender) -> None:  # noqa: N802
        w = self._watch
        if w is None or self._fired:
            return
        if procs.same_process(w.driver_pid, w.driver_start_time):
            self.wakeupAfter(POLL_SECONDS)
            return
        self._fired = True
        log.warning(
            "driver pid %d exited without shutting its actor system down; shutting it down now",
            w.driver_pid,
        )
        _fork_cleaner(w.session, w.scratch_dir, exclude=os.getpid())
        self.actorSystemShutdown()


def _fork_cleaner(session: int, scratch_dir: str | None, exclude: int) -> None:
    """Fork a process outside the system's session that finishes the cleanup."""
    try:
        pid = os.fork()
    except OSError:  # pragma: no cover - out of processes
        log.exception("cannot fork the cleaner; leftovers must be stopped by hand")
        return
    if pid:
        return
    # child: never return into thespian code
    code = 0
    try:
        os.setsid()
        os.closerange(3, 65536)
        deadline = time.monotonic() + CLEANER_GRACE_SECONDS
        while time.monotonic() < deadline:
            if not [p for p in procs.session_pids(session) if p != exclude]:
                break
            time.sleep(0.05)
        procs.kill_pids(procs.session_pids(session), signal.SIGKILL)
        if scratch_dir:
            shutil.rmtree(scratch_dir, ignore_errors=True)
    except BaseException:  # pragma: no cover - nothing sensible left to do
        code = 1
    finally:
        os._exit(code)
