"""One place for the actor system's lifecycle: start, join, inspect and stop.

:func:`start_system` starts a new thespian ``multiprocTCPBase`` system on its own admin port,
bound to loopback, with a per-system scratch directory, logging to files in that directory,
the stdio of every system process redirected away from the driver, an ``atexit`` hook and a
watchdog that shuts the system down if the driver dies. :func:`attach` joins a system left
behind (by its admin port) so it can be inspected and stopped. :func:`default_system` is the
process-wide system that :class:`runic.supervisor.Supervisor` uses when given none.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from . import procs
from .errors import ActorSystemStartError, AttachError
from .logconf import configure_thesplog, log_defs
from .logconf import log_level as _log_level
from .network import DEFAULT_HOST, check_bind_host, free_port, install_bind_patch

__all__ = [
    "BASE",
    "ActorSystemHandle",
    "start_system",
    "attach",
    "default_system",
    "set_default_system",
    "current_scratch_dir",
    "current_admin_port",
    "scratch_path",
    "remove_stale_scratch_dirs",
]

log = logging.getLogger(__name__)

BASE = "multiprocTCPBase"
SCRATCH_ENV = "RUNIC_SCRATCH_DIR"
ADMIN_PORT_ENV = "RUNIC_ADMIN_PORT"
SHUTDOWN_GRACE_SECONDS = 5.0

_live: "set[ActorSystemHandle]" = set()  # strong refs: dropped handles still shut down at exit
_default: "ActorSystemHandle | None" = None
_default_lock = threading.Lock()
_start_lock = threading.Lock()


def _scratch_root() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def scratch_path(admin_port: int, root: str | os.PathLike | None = None) -> Path:
    """The scratch directory of the system on ``admin_port`` (``/dev/shm`` when available)."""
    base = Path(root) if root is not None else _scratch_root()
    return base / f"runic-{os.getuid()}-{admin_port}"


STALE_SCRATCH_SECONDS = 120.0


def remove_stale_scratch_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove scratch directories of systems that no longer run (killed by hand, for example).

    A directory ``runic-<uid>-<port>`` is stale when nothing listens on its port and it is older
    than :data:`STALE_SCRATCH_SECONDS` (a system being started right now is left alone).
    Returns the directories removed.
    """
    base = Path(root) if root is not None else _scratch_root()
    prefix = f"runic-{os.getuid()}-"
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    now = time.time()
    for path in entries:
        port_text = path.name[len(prefix):] if path.name.startswith(prefix) else ""
        if not port_text.isdigit():
            continue
        try:
            if now - path.stat().st_mtime < STALE_SCRATCH_SECONDS:
                continue
        except OSError:
            continue
        if procs.pids_listening_on(int(port_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        log.info("removed stale scratch directories of stopped actor systems: %s", removed)
    return removed


def current_scratch_dir() -> Path | None:
    """The scratch directory of the actor system this process belongs to.

    Inside any actor process of a system started by :func:`start_system` this is that
    system's directory (inherited through ``$RUNIC_SCRATCH_DIR``). In the driver it is the
    directory of the system it started last. ``None`` outside any runic actor system.
    """
    value = os.environ.get(SCRATCH_ENV)
    return Path(value) if value else None


def current_admin_port() -> int | None:
    """The admin port of the actor system this process belongs to (see current_scratch_dir)."""
    value = os.environ.get(ADMIN_PORT_ENV)
    return int(value) if value else None


class ActorSystemHandle:
    """A running ``multiprocTCPBase`` actor system, as seen from the process that holds it.

    Attributes: ``system`` (the thespian ``ActorSystem``), ``admin_port``, ``host``,
    ``scratch_dir`` (``Path``, or ``None`` for an attached system without one), ``log_file``,
    ``session`` (the session id shared by every process of the system). Use it as a context
    manager, or call :meth:`shutdown`; an ``atexit`` hook shuts down whatever the process
    still holds when it exits.

    The thespian external API is not thread-safe: :meth:`ask`, :meth:`tell`, :meth:`listen`
    and :meth:`create_actor` serialise on :attr:`lock`.
    """

    def __init__(
        self,
        system: Any,
        admin_port: int,
        host: str,
        session: int,
        scratch_dir: Path | None,
        log_file: Path | None,
        owned: bool,
    ) -> None:
        self.system = system
        self.admin_port = admin_port
        self.host = host
        self.session = session
        self.scratch_dir = scratch_dir
        self.log_file = log_file
        self.owned = owned
        self.lock = threading.RLock()
        self._creator_pid = os.getpid()
        self._closed = False
        self._before_shutdown: list[Callable[[], None]] = []
        _live.add(self)

    # -- inspection -------------------------------------------------------------------------

    def __repr__(self) -> str:
        state = "shut down" if self._closed else "running"
        return f"<ActorSystemHandle port={self.admin_port} session={self.session} {state}>"

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """Every live process of the system: admin, logger, actors (orphans included)."""
        return procs.session_pids(self.session)

    def admin_pid(self) -> int | None:
        """The admin's pid (the process listening on the admin port), if it is running."""
        for pid in procs.pids_listening_on(self.admin_port):
            st = procs.read_stat(pid)
            if st is not None and st.session == self.session:
                return pid
        return None

    def log_text(self, max_chars: int = 20000) -> str:
        """The tail of the system's log files (runic log, thespian log, stdio), for diagnostics."""
        if self.scratch_dir is None:
            return ""
        parts = []
        for name in ("runic.log", "thespian.log", "stdio.log"):
            path = self.scratch_dir / name
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            if text.strip():
                parts.append(f"--- {name} ---\n{text[-max_chars:]}")
        return "\n".join(parts)

    # -- thespian external API, serialised -----------------------------------------------------

    def create_actor(self, cls: Any, global_name: str | None = None) -> Any:
        with self.lock:
            return self.system.createActor(cls, globalName=global_name)

    def tell(self, address: Any, msg: Any) -> None:
        with self.lock:
            self.system.tell(address, msg)

    def ask(self, address: Any, msg: Any, timeout: float) -> Any:
        with self.lock:
            return self.system.ask(address, msg, timeout)

    def listen(self, timeout: float) -> Any:
        with self.lock:
            return self.system.listen(timeout)

    # -- shutdown -------------------------------------------------------------------------------

    def before_shutdown(self, fn: Callable[[], None]) -> None:
        """Register ``fn`` to run (once) at the start of :meth:`shutdown`; last registered first."""
        self._before_shutdown.append(fn)

    def cancel_before_shutdown(self, fn: Callable[[], None]) -> None:
        """Unregister a hook added with :meth:`before_shutdown` (no error if absent)."""
        self._before_shutdown = [f for f in self._before_shutdown if f != fn]

    def shutdown(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> list[int]:
        """Stop the whole system; return the pids that had to be killed by SIGKILL.

        Runs the ``before_shutdown`` hooks (orderly stop of supervision trees), then thespian's
        ``shutdown()``, waits up to ``grace`` seconds for every process of the system's session
        to exit, kills the rest by pid and removes the scratch directory. Idempotent.
        """
        if self._closed or os.getpid() != self._creator_pid:
            return []
        self._closed = True
        _live.discard(self)
        hooks, self._before_shutdown = self._before_shutdown, []
        for fn in reversed(hooks):
            try:
                fn()
            except Exception:  # noqa: BLE001 - keep shutting down
                log.exception("before_shutdown hook %r failed", fn)
        try:
            with self.lock:
                self.system.shutdown()
        except Exception:  # noqa: BLE001 - the pid sweep below still runs
            log.exception("thespian shutdown of the system on port %d failed", self.admin_port)
        left = procs.wait_gone(self.pids(), grace)
        killed = procs.kill_pids(left, signal.SIGKILL) if left else []
        if killed:
            log.warning(
                "killed %d process(es) of the actor system on port %d that survived shutdown: %s",
                len(killed),
                self.admin_port,
                killed,
            )
            procs.wait_gone(killed, 2.0)
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
        if os.environ.get(SCRATCH_ENV) == str(self.scratch_dir):
            os.environ.pop(SCRATCH_ENV, None)
            os.environ.pop(ADMIN_PORT_ENV, None)
        return killed

    def __enter__(self) -> "ActorSystemHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _child_pids(pid: int) -> set[int]:
    return {st.pid for st in procs.iter_stats() if st.ppid == pid}


def _reap(pid: int, timeout: float = 1.0) -> None:
    """waitpid a direct child of ours (thespian leaves its daemonising fork unreaped)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done or time.monotonic() > deadline:
            return
        time.sleep(0.002)


_close_in_child: list[int] = []  # fds a child forked during _RedirectedStdio must not keep


def _after_fork_in_child() -> None:
    for fd in _close_in_child:
        try:
            os.close(fd)
        except OSError:
            pass
    _close_in_child.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _RedirectedStdio:
    """Point fds 0/1/2 at /dev/null and a log file while thespian forks its admin.

    The driver's own stdio is kept in saved duplicates meanwhile; a fork hook closes those
    in the admin, so no process of the system holds the driver's terminal or pipes.
    """

    def __init__(self, out_path: Path) -> None:
        self.out_path = out_path

    def __enter__(self) -> "_RedirectedStdio":
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed or odd stream
                pass
        self.saved = [os.dup(fd) for fd in (0, 1, 2)]
        _close_in_child[:] = self.saved
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(self.out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        return self

    def __exit__(self, *exc: object) -> None:
        _close_in_child.clear()
        for fd, saved in zip((0, 1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)


def start_system(
    host: str = DEFAULT_HOST,
    admin_port: int | None = None,
    *,
    allow_remote: bool = False,
    scratch_root: str | os.PathLike | None = None,
    log_level: str | int | None = None,
    capabilities: dict | None = None,
    watchdog: bool = True,
) -> ActorSystemHandle:
    """Start a new ``multiprocTCPBase`` actor system and return its handle.

    ``host`` is the address every socket of the system binds to and advertises; anything but
    loopback raises :class:`~runic.actors.UnsafeBindAddressError` unless ``allow_remote=True``
    (see ``docs/supervision.md``, "Trust model"). ``admin_port`` defaults to a free port; a
    port something already listens on is refused (use :func:`attach` to join a system).
    ``log_level`` (default ``$RUNIC_LOG_LEVEL``, else ``WARNING``) filters the system's logs.
    ``watchdog=False`` skips the actor that shuts the system down when this process dies.
    """
    host = check_bind_host(host, allow_remote)
    install_bind_patch(host)

    attempts = 1 if admin_port is not None else 3
    for attempt in range(attempts):
        try:
            return _start_system_once(host, admin_port, scratch_root, log_level, capabilities, watchdog)
        except ActorSystemStartError as exc:
            if attempt + 1 == attempts or "is not a valid or useable" not in str(exc):
                raise
            log.warning("%s; trying again on another port", exc)
    raise AssertionError("unreachable")  # pragma: no cover


def _start_system_once(host: str, admin_port: int | None, scratch_root: Any, log_level: Any,
                       capabilities: dict | None, watchdog: bool) -> ActorSystemHandle:
    from thespian.actors import ActorSystem

    with _start_lock:
        port = admin_port if admin_port is not None else free_port(host if host != "0.0.0.0" else DEFAULT_HOST)
        if procs.pids_listening_on(port):
            raise ActorSystemStartError(
                f"admin port {port} is already in use; pick another port (or none, for a free "
                f"one), or join the system listening there with runic.actors.attach({port})"
            )
        remove_stale_scratch_dirs(scratch_root)
        scratch = scratch_path(port, scratch_root)
        shutil.rmtree(scratch, ignore_errors=True)  # the port was free: any old dir is stale
        scratch.mkdir(mode=0o700, parents=True)
        level = _log_level(log_level)
        log_file = scratch / "runic.log"
        configure_thesplog(scratch / "thespian.log", level)
        os.environ[SCRATCH_ENV] = str(scratch)
        os.environ[ADMIN_PORT_ENV] = str(port)
        caps = dict(capabilities or {})
        caps["Admin Port"] = port
        before = _child_pids(os.getpid())
        try:
            with _RedirectedStdio(scratch / "stdio.log"):
                asys = ActorSystem(BASE, caps, logDefs=log_defs(log_file, level), transientUnique=True)
        except Exception as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            raise ActorSystemStartError(
                f"could not start a {BASE} actor system on {host}:{port}: {exc}; "
                f"see {scratch / 'thespian.log'} if it exists"
            ) from exc
        new = sorted(_child_pids(os.getpid()) - before)
        session = _find_session(port, new)
        for pid in new:
            _reap(pid)
    if session is None:
        if new:  # we forked an admin but cannot find it: stop what we started
            try:
                asys.shutdown()
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        # else thespian joined an admin another process started on that port meanwhile:
        # leave that system (and its scratch directory) alone
        raise ActorSystemStartError(
            f"the actor system on port {port} did not come up as a new system of this process "
            "(another process may have taken the port); try again"
        )
    handle = ActorSystemHandle(asys, port, host, session, scratch, log_file, owned=True)
    if watchdog:
        _start_watchdog(handle)
    log.debug("started actor system on %s:%d (session %d, scratch %s)", host, port, session, scratch)
    return handle


def _find_session(port: int, new_children: list[int]) -> int | None:
    """The session of the admin we just started (its daemonising fork is our new child)."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        for pid in procs.pids_listening_on(port):
            st = procs.read_stat(pid)
            if st is not None and st.session in new_children:
                return st.session
        time.sleep(0.005)
    return None


def _start_watchdog(handle: ActorSystemHandle) -> None:
    from .watchdog import SystemWatchdog, WatchDriver

    me = os.getpid()
    addr = handle.create_actor(SystemWatchdog)
    reply = handle.ask(
        addr,
        WatchDriver(me, procs.start_time(me), handle.session, str(handle.scratch_dir)),
        10.0,
    )
    if reply != "watching":
        log.warning("the system watchdog did not answer (%r); driver-death cleanup is off", reply)


def attach(
    admin_port: int, host: str = DEFAULT_HOST, *, allow_remote: bool = False
) -> ActorSystemHandle:
    """Join the actor system listening on ``admin_port`` (for example one a dead driver left).

    The handle can ``ask``/``tell``, list the system's ``pids()`` and ``shutdown()`` it (which
    also kills survivors by pid and removes its scratch directory). Raises
    :class:`~runic.actors.AttachError` if no system listens there.
    """
    host = check_bind_host(host, allow_remote)
    install_bind_patch(host)
    from thespian.actors import ActorSystem

    listeners = procs.pids_listening_on(admin_port)
    stats = [procs.read_stat(p) for p in listeners]
    sessions = {st.session for st in stats if st is not None}
    if not sessions:
        raise AttachError(
            f"no actor system listens on port {admin_port}; check the port "
            "(`runic.actors.start_system()` prints it in its log) or start a new system"
        )
    session = min(sessions)
    before = _child_pids(os.getpid())
    with _start_lock:
        asys = ActorSystem(BASE, {"Admin Port": admin_port}, transientUnique=True)
    new = _child_pids(os.getpid()) - before
    if new:  # the old admin vanished in between and thespian started a new one: undo that
        asys.shutdown()
        for pid in new:
            _reap(pid)
        raise AttachError(f"the actor system on port {admin_port} stopped while attaching to it")
    scratch = scratch_path(admin_port)
    return ActorSystemHandle(
        asys,
        admin_port,
        host,
        session,
        scratch if scratch.is_dir() else None,
        (scratch / "runic.log") if scratch.is_dir() else None,
        owned=False,
    )


def default_system() -> ActorSystemHandle:
    """The process-wide actor system, started on first use and shut down at exit."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = start_system()
        return _default


def set_default_system(handle: ActorSystemHandle | None) -> ActorSystemHandle | None:
    """Make ``handle`` the system :func:`default_system` returns; returns the previous one.

    The ``actor_system`` test fixture uses it so code that starts supervisors without
    ``system=`` runs on the test's own system.
    """
    global _default
    with _default_lock:
        previous, _default = _default, handle
        return previous


@atexit.register
def _shutdown_live_systems() -> None:
    for handle in list(_live):
        if handle.owned and os.getpid() == handle._creator_pid:
            try:
                handle.shutdown()
            except Exception:  # noqa: BLE001 - at exit, keep going
                log.exception("shutting down %r at exit failed", handle)
