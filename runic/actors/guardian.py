"""The guardian: a tiny process that removes an actor system whose driver died, whenever it died.

thespian's admin, logger and actors outlive the process that started them (the *driver*). The
orderly answers (``atexit``, the :class:`~runic.actors.watchdog.SystemWatchdog` actor, the
supervisors' links to the driver) all need the system to have finished starting; a driver
killed (SIGKILL) or interrupted (Ctrl-C) while thespian forks its admin, or while it shuts the
system down, used to leave the admin and logger running for good, listening on loopback, and
its scratch directory in ``/dev/shm``.

So :func:`start_system` forks the guardian **first**, before the scratch directory or any
thespian process exists. The guardian holds the read end of a pipe whose only write end is the
driver's (close-on-exec, and closed in every other child the driver forks, see
``runic.actors.forking``): end-of-file on that pipe means the driver is gone, however it died.
The driver also writes one-byte notes on the pipe:

* ``P<session>\\n`` — the session id of the system's processes, once the admin is up;
* ``W`` — the watchdog is running, so an orderly shutdown will follow the driver's death;
* ``S`` — the driver is shutting the system down itself;
* ``D`` — done: the driver removed everything; the guardian exits without doing anything.

On end-of-file without ``D`` the guardian waits :data:`ORDERLY_GRACE` seconds (only if the
watchdog was running and no shutdown was under way, else :data:`QUICK_GRACE`) for the
system's processes to exit by themselves, SIGKILLs the rest by pid, removes the scratch
directory and exits. The system's processes are those in its session plus every process that
holds the system's lock file (``<scratch>/lock``) open: the driver opens it before thespian
forks the admin, so the admin, the logger and every actor inherit it, from their first
instant, even before the session is known.

The guardian runs in its own session (a Ctrl-C at the terminal does not reach it), ignores
SIGINT and SIGHUP, points its stdio at ``/dev/null`` and closes every other descriptor. It
never returns into the driver's code and uses no lock the driver's threads may have held at
the fork (no ``logging``). Its process title is ``runic: guardian :<admin port>``.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from . import procs

__all__ = ["Guardian", "ORDERLY_GRACE", "QUICK_GRACE", "LOCK_FILE"]

ORDERLY_GRACE = 5.0
QUICK_GRACE = 1.0
LOCK_FILE = "lock"
_POLL = 0.05


class Guardian:
    """The driver's end of the link to a system's guardian (one per system started)."""

    def __init__(self, pid: int, wfd: int) -> None:
        self.pid = pid
        self._wfd: int | None = wfd

    @classmethod
    def start(cls, scratch_dir: Path, admin_port: int) -> "Guardian":
        """Fork the guardian of the system that will use ``scratch_dir`` and ``admin_port``."""
        from . import forking
        from .titles import set_title

        rfd, wfd = os.pipe2(os.O_CLOEXEC)
        forking.register_private_fd(wfd)  # before the fork: no other child may keep a copy
        try:
            pid = os.fork()
        except BaseException:
            forking.unregister_private_fd(wfd)
            os.close(rfd)
            os.close(wfd)
            raise
        if pid == 0:  # the guardian
            code = 0
            try:
                os.setsid()
                for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
                    signal.signal(sig, signal.SIG_IGN if sig != signal.SIGTERM else signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, rfd)
                os.closerange(rfd + 1, 1 << 16)
                set_title(f"guardian :{admin_port}")
                _guard(rfd, Path(scratch_dir))
            except BaseException:  # noqa: BLE001 - nothing sensible left to do
                code = 1
            finally:
                os._exit(code)
        os.close(rfd)
        return cls(pid, wfd)

    def _note(self, data: bytes) -> None:
        if self._wfd is None:
            return
        try:
            os.write(self._wfd, data)
        except OSError:  # the guardian died: nothing to tell
            pass

    def tell_session(self, session: int) -> None:
        self._note(b"P%d\n" % session)

    def watchdog_running(self) -> None:
        self._note(b"W")

    def shutting_down(self) -> None:
        self._note(b"S")

    def done(self, timeout: float = 1.0) -> None:
        """The driver removed the system: the guardian exits; reap it (bounded wait)."""
        self._note(b"D")
        self.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return
            if pid or time.monotonic() > deadline:
                return
            time.sleep(0.002)

    def close(self) -> None:
        """Close the driver's end (the guardian then acts as if the driver died, unless ``D``)."""
        if self._wfd is not None:
            from . import forking

            forking.unregister_private_fd(self._wfd)
            try:
                os.close(self._wfd)
            except OSError:
                pass
            self._wfd = None


def _guard(rfd: int, scratch: Path) -> None:
    """The guardian's whole life: read notes until EOF, then clean up unless told ``D``."""
    session: int | None = None
    watchdog = shutting_down = done = False
    pending = b""
    while True:
        try:
            chunk = os.read(rfd, 4096)
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
        if not chunk:
            break
        pending += chunk
        while pending:
            tag, pending = pending[:1], pending[1:]
            if tag == b"P":
                if b"\n" not in pending:
                    pending = tag + pending
                    break
                line, _, pending = pending.partition(b"\n")
                session = int(line)
            elif tag == b"W":
                watchdog = True
            elif tag == b"S":
                shutting_down = True
            elif tag == b"D":
                done = True
        if done:
            return
    if done:
        return
    grace = ORDERLY_GRACE if watchdog and not shutting_down else QUICK_GRACE
    cleanup(scratch, session, grace)


def members(scratch: Path, session: int | None) -> list[int]:
    """Live processes of the system: holders of its lock file, and its session's processes.

    Only the session the driver announced is swept whole; a lock holder's own session is never
    inferred (a stray holder could belong to the user's login session).
    """
    found = set(procs.pids_holding(scratch / LOCK_FILE))
    if session:
        found.update(procs.session_pids(session))
    me = os.getpid()
    return sorted(p for p in found if p != me and procs.is_alive(p))


def cleanup(scratch: Path, session: int | None, grace: float) -> None:
    """Wait ``grace`` s for the system's processes to exit, SIGKILL the rest, remove ``scratch``."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and members(scratch, session):
        time.sleep(_POLL)
    for _ in range(100):  # processes may still be forking: kill until none is left
        left = members(scratch, session)
        if not left:
            break
        procs.kill_pids(left, signal.SIGKILL)
        procs.wait_gone(left, 1.0)
    shutil.rmtree(scratch, ignore_errors=True)
