"""One place for the actor system's lifecycle: start, join, inspect and stop.

:func:`start_system` starts a new thespian ``multiprocTCPBase`` system on its own admin port,
bound to loopback, with a per-system scratch directory and secret. In this order, so that a
Ctrl-C or a SIGKILL of the driver at any moment leaves nothing behind:

1. fork the system's guardian (``runic.actors.guardian``), which removes everything if the
   driver dies from here on;
2. create the ``0700`` scratch directory with the secret that authenticates every message
   (``runic.actors.auth``), the lock file every process of the system holds open, and the
   relay socket that brings the system's logs and output to the driver (``runic.actors.relay``);
3. fork thespian's admin (and logger) with Ctrl-C held back (``runic.actors.interrupts``), fds
   0/1/2 pointing away from the driver's, and ``sys.stdout``/``sys.stderr`` relayed;
4. register the handle (``atexit`` shuts it down), then start the watchdog actor that shuts
   the system down in order if the driver dies.

:func:`attach` joins a system left behind (by its admin port) so it can be inspected and
stopped. :func:`default_system` is the process-wide system that
:class:`runic.supervisor.Supervisor` uses when given none.
"""

from __future__ import annotations

import atexit
import fcntl
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

from ..errors import ArgumentError
from . import auth, forking, procs, relay, titles, transport_fixes
from .errors import ActorSystemStartError, AttachError
from .guardian import LOCK_FILE, Guardian
from .interrupts import deferred_interrupt, held_sigint_handler
from .logconf import configure_thesplog, log_defs
from .logconf import log_level as _log_level
from .network import DEFAULT_HOST, check_bind_host, free_port, install_bind_patch
from .relay import RELAY_FILE, RelayServer

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
SCRATCH_ROOT_ENV = "RUNIC_SCRATCH_ROOT"
ADMIN_PORT_ENV = "RUNIC_ADMIN_PORT"
SHUTDOWN_GRACE_SECONDS = 5.0
WAIT_SLICE_SECONDS = 0.2

_live: "set[ActorSystemHandle]" = set()  # strong refs: dropped handles still shut down at exit
_default: "ActorSystemHandle | None" = None
_default_lock = threading.Lock()
_start_lock = threading.Lock()


def _scratch_root() -> Path:
    configured = os.environ.get(SCRATCH_ROOT_ENV)
    if configured:
        return Path(configured)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def scratch_path(admin_port: int, root: str | os.PathLike | None = None) -> Path:
    """The scratch directory of the system on ``admin_port``.

    Under ``root``, else ``$RUNIC_SCRATCH_ROOT``, else ``/dev/shm`` when writable, else the
    temporary directory.
    """
    base = Path(root) if root is not None else _scratch_root()
    return base / f"runic-{os.getuid()}-{admin_port}"


STALE_SCRATCH_SECONDS = 120.0


def remove_stale_scratch_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove scratch directories of systems that no longer run (killed by hand, for example).

    A directory ``runic-<uid>-<port>`` is stale when no process holds its lock file any more
    (every process of a system holds it open, so nobody can take the lock) — or, for a
    directory without a lock file, when nothing listens on its port and it is older than
    :data:`STALE_SCRATCH_SECONDS` (a system being started right now is left alone).
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
        held = _lock_held(path / LOCK_FILE)
        if held is False:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            continue
        if held is True:
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


def _lock_held(lock: Path) -> bool | None:
    """Whether some process holds ``lock`` (``None``: there is no lock file to ask)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


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
        *,
        guardian: Guardian | None = None,
        relay: RelayServer | None = None,
        lock_fd: int | None = None,
    ) -> None:
        self.system = system
        self.admin_port = admin_port
        self.host = host
        self.session = session
        self.scratch_dir = scratch_dir
        self.log_file = log_file
        self.owned = owned
        self.guardian = guardian
        self.relay = relay
        self.lock = threading.RLock()
        self._lock_fd = lock_fd
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
        pids = set(procs.session_pids(self.session))
        if self.scratch_dir is not None and self._lock_fd is not None:
            pids.update(procs.pids_holding(self.scratch_dir / LOCK_FILE))
        pids.discard(os.getpid())
        return sorted(p for p in pids if procs.is_alive(p))

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

    # Ctrl-C: a KeyboardInterrupt raised inside thespian's transport code (half-way through a
    # send or a receive) leaves the driver's transport unusable, so every later request, the
    # orderly shutdown included, waits for its full timeout. So each call into the transport
    # holds SIGINT back (runic.actors.interrupts), and long waits are cut into slices of
    # WAIT_SLICE_SECONDS: a Ctrl-C is raised between two slices, the transport consistent.

    def tell(self, address: Any, msg: Any) -> None:
        with self.lock, deferred_interrupt():
            self.system.tell(address, msg)

    def ask(self, address: Any, msg: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self.lock:
            with deferred_interrupt():
                reply = self.system.ask(address, msg, min(timeout, WAIT_SLICE_SECONDS))
            if reply is not None:
                return reply
            return self._listen_until(deadline)

    def listen(self, timeout: float) -> Any:
        with self.lock:
            return self._listen_until(time.monotonic() + timeout)

    def _listen_until(self, deadline: float) -> Any:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with deferred_interrupt():
                reply = self.system.listen(min(left, WAIT_SLICE_SECONDS))
            if reply is not None:
                return reply

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
        ``shutdown()`` (waiting at most 3 s for the admin, see ``runic.actors.transport_fixes``), waits up
        to ``grace`` seconds for every process of the system to exit, kills the rest by pid,
        reads the last logs and output the processes sent, and removes the scratch directory.
        Idempotent.

        A ``KeyboardInterrupt`` (or ``SystemExit``) raised meanwhile cuts the orderly part
        short: the processes are killed at once, everything is still removed, and the
        exception is raised again at the end.
        """
        if not self._begin_stop():
            return []
        interrupted: BaseException | None = None
        killed: list[int] = []
        try:
            hooks, self._before_shutdown = self._before_shutdown, []
            for fn in reversed(hooks):
                try:
                    fn()
                except Exception:  # noqa: BLE001 - keep shutting down
                    log.exception("before_shutdown hook %r failed", fn)
            if self.admin_pid() is not None:
                try:
                    with self.lock:
                        self.system.shutdown()
                except Exception:  # noqa: BLE001 - the pid sweep below still runs
                    log.exception("thespian shutdown of the system on port %d failed", self.admin_port)
        except BaseException as exc:  # noqa: BLE001 - Ctrl-C: finish fast, then re-raise
            interrupted, grace = exc, 0.0
        try:
            pending = self.pids()
            log.debug("shutdown of port %d: waiting up to %.1f s for %s", self.admin_port, grace, pending)
            left = procs.wait_gone(pending, grace)
            killed = self._kill_all(left) if left else []
            if killed and interrupted is None:
                log.warning(
                    "killed %d process(es) of the actor system on port %d that survived shutdown: %s",
                    len(killed), self.admin_port, killed,
                )
        except BaseException as exc:  # noqa: BLE001
            interrupted = interrupted or exc
            self._kill_all(self.pids())
        finally:
            self._release(relay_timeout=0.2 if interrupted is not None else 2.0)
        if interrupted is not None:
            raise interrupted
        return killed

    def detach(self) -> None:
        """Stop using the system without stopping it (for a handle from :func:`attach`). Idempotent."""
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        transport_fixes.close_system_transport(self.system)

    def kill(self) -> list[int]:
        """SIGKILL every process of the system now and remove its scratch directory (no orderly stop)."""
        if not self._begin_stop():
            return []
        try:
            return self._kill_all(self.pids())
        finally:
            self._release(relay_timeout=0.2)

    def _begin_stop(self) -> bool:
        """Mark the handle closed (once, in the process that started it); False if nothing to do."""
        if self._closed or os.getpid() != self._creator_pid:
            return False
        self._closed = True
        _live.discard(self)
        if self.guardian is not None:
            self.guardian.shutting_down()
        return True

    def _kill_all(self, pids: list[int]) -> list[int]:
        killed: list[int] = []
        for _ in range(20):  # a process may be forking right now: repeat until none is left
            if not pids:
                break
            killed.extend(procs.kill_pids(pids, signal.SIGKILL))
            procs.wait_gone(pids, 2.0)
            pids = self.pids()
        return sorted(set(killed))

    def _release(self, relay_timeout: float) -> None:
        """Once the processes are gone: drain the relay, drop the lock, remove the scratch dir."""
        transport_fixes.close_system_transport(self.system)
        try:
            if self.relay is not None:
                self.relay.close(relay_timeout)
        finally:
            if self._lock_fd is not None:
                forking.unregister_private_fd(self._lock_fd)
                try:
                    os.close(self._lock_fd)
                except OSError:
                    pass
                self._lock_fd = None
            if self.scratch_dir is not None:
                shutil.rmtree(self.scratch_dir, ignore_errors=True)
            if self.guardian is not None:
                self.guardian.done()
            if os.environ.get(SCRATCH_ENV) == str(self.scratch_dir):
                os.environ.pop(SCRATCH_ENV, None)
                os.environ.pop(ADMIN_PORT_ENV, None)
                os.environ.pop(relay.LEVEL_ENV, None)

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


class _RedirectedStdio:
    """Point fds 0/1/2 at /dev/null and a log file while thespian forks its admin.

    The driver's own stdio is kept in saved duplicates meanwhile; the fork hook
    (``runic.actors.forking``) closes those in the admin, so no process of the system holds
    the driver's terminal or pipes.
    """

    def __init__(self, out_path: Path, spec: forking.AdminFork) -> None:
        self.out_path = out_path
        self.spec = spec

    def __enter__(self) -> "_RedirectedStdio":
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed or odd stream
                pass
        self.saved = [os.dup(fd) for fd in (0, 1, 2)]
        self.spec.close_fds[:] = self.saved
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(self.out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        return self

    def __exit__(self, *exc: object) -> None:
        for fd, saved in zip((0, 1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)


def _create_lock(scratch: Path) -> int:
    """Create ``<scratch>/lock`` already locked (so no sweep can ever see it unlocked)."""
    tmp = scratch / f".{LOCK_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    forking.register_private_fd(fd)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(tmp, scratch / LOCK_FILE)
    return fd


def _install_patches(host: str | None) -> None:
    install_bind_patch(host)
    auth.install()
    relay.install()
    titles.install()
    transport_fixes.install()


def start_system(
    host: str = DEFAULT_HOST,
    admin_port: int | None = None,
    *,
    allow_remote: bool = False,
    scratch_root: str | os.PathLike | None = None,
    log_level: str | int | None = None,
    capabilities: dict | None = None,
    watchdog: bool = True,
    secret: bytes | None = None,
) -> ActorSystemHandle:
    """Start a new ``multiprocTCPBase`` actor system and return its handle.

    ``host`` is the address every socket of the system binds to and advertises; anything but
    loopback raises :class:`~runic.actors.UnsafeBindAddressError` unless ``allow_remote=True``
    (see ``docs/supervision.md``, "Trust model"). ``admin_port`` defaults to a free port; a
    port something already listens on is refused (use :func:`attach` to join a system).
    ``log_level`` (default ``$RUNIC_LOG_LEVEL``, else the driver's root logging level) is the
    level from which the system's records reach the driver's ``logging``.
    ``watchdog=False`` lets the system outlive this process: no guardian, no watchdog (stop it
    later with ``attach(port).shutdown()``). ``secret`` (32 bytes) authenticates every message
    of the system; default: a new random one. Give the same secret to systems that must talk
    to each other (thespian conventions across machines); keep it as private as a password.
    """
    host = check_bind_host(host, allow_remote)
    if secret is not None and (not isinstance(secret, bytes) or len(secret) != auth.SECRET_BYTES):
        raise ArgumentError(
            f"secret must be {auth.SECRET_BYTES} bytes (for example os.urandom({auth.SECRET_BYTES})), "
            f"got {type(secret).__name__} of length {len(secret) if isinstance(secret, (bytes, str)) else '?'}"
        )
    _install_patches(host)

    attempts = 1 if admin_port is not None else 3
    for attempt in range(attempts):
        try:
            return _start_system_once(host, admin_port, scratch_root, log_level, capabilities, watchdog, secret)
        except ActorSystemStartError as exc:
            if attempt + 1 == attempts or "is not a valid or useable" not in str(exc):
                raise
            log.warning("%s; trying again on another port", exc)
    raise AssertionError("unreachable")  # pragma: no cover


def _start_system_once(host: str, admin_port: int | None, scratch_root: Any, log_level: Any,
                       capabilities: dict | None, watchdog: bool, secret: bytes | None) -> ActorSystemHandle:
    handle: ActorSystemHandle | None = None
    try:
        with deferred_interrupt():
            handle = _start_admin(host, admin_port, scratch_root, log_level, capabilities, watchdog, secret)
            if watchdog:
                _start_watchdog(handle)
    except BaseException:
        if handle is not None:  # started, but interrupted before the caller got it: undo
            handle.kill()
        raise
    log.debug("started actor system on %s:%d (session %d, scratch %s)",
              host, handle.admin_port, handle.session, handle.scratch_dir)
    return handle


def _start_admin(host: str, admin_port: int | None, scratch_root: Any, log_level: Any,
                 capabilities: dict | None, watchdog: bool, secret: bytes | None) -> ActorSystemHandle:
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
        level = _log_level(log_level)
        guardian = Guardian.start(scratch, port) if watchdog else None
        lock_fd: int | None = None
        relay_server: RelayServer | None = None
        session: int | None = None
        try:
            scratch.mkdir(mode=0o700, parents=True)
            lock_fd = _create_lock(scratch)
            secret = secret if secret is not None else auth.new_secret()
            auth.write_secret(scratch, secret)
            auth.use_secret(secret)
            relay_server = RelayServer(scratch / RELAY_FILE, name=f"runic-relay-{port}")
            log_file = scratch / "runic.log"
            configure_thesplog(scratch / "thespian.log", level)
            os.environ[SCRATCH_ENV] = str(scratch)
            os.environ[ADMIN_PORT_ENV] = str(port)
            os.environ[relay.LEVEL_ENV] = str(level)
            caps = dict(capabilities or {})
            caps["Admin Port"] = port
            spec = forking.AdminFork(keep_fds={lock_fd}, sigint_handler=held_sigint_handler(),
                                     relay_path=str(relay_server.path), log_file=str(log_file), log_level=level)
            before = _child_pids(os.getpid())
            try:
                with _RedirectedStdio(scratch / "stdio.log", spec), forking.admin_fork(spec):
                    asys = ActorSystem(BASE, caps, logDefs=log_defs(log_file, level, relay_server.path),
                                       transientUnique=True)
            except Exception as exc:
                raise ActorSystemStartError(
                    f"could not start a {BASE} actor system on {host}:{port}: {exc}; "
                    f"see {scratch / 'thespian.log'} if it exists"
                ) from exc
            new = sorted(_child_pids(os.getpid()) - before)
            session = _find_session(port, new)
            for pid in new:
                _reap(pid)
            if session is None:
                transport_fixes.close_system_transport(asys)
                raise ActorSystemStartError(
                    f"the actor system on port {port} did not come up as a new system of this "
                    "process (another process may have taken the port); try again"
                )
            if guardian is not None:
                guardian.tell_session(session)
            return ActorSystemHandle(asys, port, host, session, scratch, log_file, owned=True,
                                     guardian=guardian, relay=relay_server, lock_fd=lock_fd)
        except BaseException:
            _abort_start(scratch, session, guardian, relay_server, lock_fd)
            raise


def _abort_start(scratch: Path, session: int | None, guardian: Guardian | None,
                 relay_server: RelayServer | None, lock_fd: int | None) -> None:
    """Undo a start that failed or was interrupted before its handle existed."""
    from .guardian import cleanup

    try:
        cleanup(scratch, session, grace=0.0)  # SIGKILLs the lock holders (not us) and the session
    finally:
        if relay_server is not None:
            relay_server.close(0.2)
        if lock_fd is not None:
            forking.unregister_private_fd(lock_fd)
            os.close(lock_fd)
        shutil.rmtree(scratch, ignore_errors=True)
        if guardian is not None:
            guardian.done()


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
        log.warning("the system watchdog did not answer (%r); the guardian will still clean up "
                    "if this process dies, but without an orderly shutdown", reply)
    elif handle.guardian is not None:
        handle.guardian.watchdog_running()


def attach(
    admin_port: int, host: str = DEFAULT_HOST, *, allow_remote: bool = False
) -> ActorSystemHandle:
    """Join the actor system listening on ``admin_port`` (for example one a dead driver left).

    The handle can ``ask``/``tell``, list the system's ``pids()`` and ``shutdown()`` it (which
    also kills survivors by pid and removes its scratch directory). Raises
    :class:`~runic.actors.AttachError` if no system listens there, or if this process cannot
    read the system's secret (only its user can join it).
    """
    host = check_bind_host(host, allow_remote)
    _install_patches(host)
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
    scratch = scratch_path(admin_port)
    try:
        secret = auth.read_secret(scratch)
    except (OSError, ValueError) as exc:
        raise AttachError(
            f"cannot join the actor system on port {admin_port}: its secret could not be read "
            f"({exc}). Only the user who started it can join it; if it was started with "
            f"scratch_root= or $RUNIC_SCRATCH_ROOT, set $RUNIC_SCRATCH_ROOT to that directory"
        ) from exc
    before = _child_pids(os.getpid())
    with _start_lock:
        auth.use_secret(secret)
        asys = ActorSystem(BASE, {"Admin Port": admin_port}, transientUnique=True)
    new = _child_pids(os.getpid()) - before
    if new:  # the old admin vanished in between and thespian started a new one: undo that
        asys.shutdown()
        for pid in new:
            _reap(pid)
        raise AttachError(f"the actor system on port {admin_port} stopped while attaching to it")
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
    interrupted = False
    for handle in list(_live):
        if handle.owned and os.getpid() == handle._creator_pid:
            try:
                if interrupted:
                    handle.kill()
                else:
                    handle.shutdown()
            except KeyboardInterrupt:  # a second Ctrl-C at exit: kill the rest, no waiting
                interrupted = True
            except Exception:  # noqa: BLE001 - at exit, keep going
                log.exception("shutting down %r at exit failed", handle)
