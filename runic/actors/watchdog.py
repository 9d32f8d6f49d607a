"""The system watchdog: shuts down, in order, an actor system whose driver died.

thespian's admin, logger and actors outlive the process that started them. A driver that
exits normally runs :meth:`ActorSystemHandle.shutdown` from ``atexit``; a driver killed with
SIGKILL runs nothing. So every system started by :func:`runic.actors.start_system` also gets a
:class:`SystemWatchdog`: a small top-level actor that polls the driver's pid (with its start
time, so a recycled pid does not fool it) every :data:`POLL_SECONDS`. When the driver is gone
it asks the admin to shut the whole system down, which stops every actor in order (each
``ChildActor`` runs its ``on_stop``).

The hard guarantee is the system's guardian (``runic.actors.guardian``): it notices the
driver's death at once (end-of-file on a pipe), gives this orderly shutdown a few seconds,
then SIGKILLs whatever is left and removes the scratch directory. The watchdog's process
title is ``runic: watchdog``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from thespian.actors import ActorTypeDispatcher, WakeupMessage

from . import procs

__all__ = ["WatchDriver", "SystemWatchdog", "POLL_SECONDS"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


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
        self.actorSystemShutdown()
