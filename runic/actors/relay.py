"""The relay: log records and ``print()`` output of every actor process reach the driver.

Steps, hooks and runic itself log and print inside actor processes (worker hosts, the store,
the runner). Without the relay those records went to files in the system's scratch directory,
deleted at shutdown. With it:

* **Logs.** In every process of the system the root logger has exactly two handlers: a
  :class:`RelayHandler`, which sends each record straight to the driver, and an append-only
  handler on ``<scratch>/runic.log`` (diagnostics, removed with the system). The driver
  re-emits each record with ``logging.getLogger(record.name).handle(record)``, under the same
  logger name and level, when that logger is enabled for the level in the driver — so the
  driver's handlers, ``logging.basicConfig``, pytest's ``caplog`` and ``logger.setLevel``
  apply as if the code had run in the driver, and a record is handled once, by the driver.

  Two things make that hold in forked processes (:func:`install_actor_logging`, run right
  after the admin's fork): the loggers inherited from the driver (every module imported
  before the system started holds one) lose the driver's handlers, which wrote into the
  driver's streams or pytest's capture from the wrong process; and thespian's own root logger
  for actor processes (``ThespianLogForwarder``, which sends records through thespian's
  transport to its logger process, unsafely from threads other than the actor's) is replaced
  by that same inherited root logger (:func:`install`), so loggers created before and after the
fork all end at it. The root level is the
  system's level (see ``runic.actors.logconf``); loggers keep the levels the driver gave them.
* **stdout/stderr.** ``sys.stdout`` and ``sys.stderr`` of every process of the system are
  line-buffered text streams whose lines are sent to the driver and written to *its*
  ``sys.stdout``/``sys.stderr`` (looked up at each write, so ``capsys`` and redirections
  work), unprefixed: a step prints exactly what it would print in-process. Output written to
  the file descriptors directly (C code, subprocesses) still goes to ``stdio.log`` in the
  scratch directory.

**Channel.** A Unix ``SOCK_SEQPACKET`` socket, ``<scratch>/relay.sock``, in the ``0700``
scratch directory (only this user, and root, can connect; the server also checks the peer's
uid with ``SO_PEERCRED``). Messages are msgpack maps of plain values — never pickle: a record
travels as its attributes, with the message already formatted and the traceback as text.
Each message is one packet (reliable, ordered, never split), at most :data:`MAX_MESSAGE` bytes:
output is sent in chunks of that size, and an oversized record keeps the first 15,000
characters of its message and traceback (the scratch ``runic.log`` has it whole).

**Failure.** A client that cannot send (the driver is gone or does not read for
:data:`SEND_TIMEOUT` s) drops the connection and retries a second later; meanwhile output goes
to the process's own file descriptors (``stdio.log``) and records only to ``runic.log``. No
step ever fails because the relay is down.

**Shutdown.** The driver stops its relay (:meth:`RelayServer.close`) only after every process
of the system has exited, and first reads each connection to its end: nothing sent is lost.

Threads: the server runs one daemon thread in the driver (``runic-relay-<port>``) that
accepts, reads and re-emits; clients send from whatever thread logs or prints, under a
per-process lock.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import selectors
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgpack

from . import private_fds

__all__ = [
    "install",
    "install_actor_logging",
    "relay_this_process",
    "RELAY_FILE",
    "MAX_MESSAGE",
    "SEND_TIMEOUT",
    "RelayServer",
    "RelayClient",
    "RelayHandler",
    "install_stdio",
    "record_to_dict",
]

log = logging.getLogger(__name__)

RELAY_FILE = "relay.sock"
MAX_MESSAGE = 60_000
SEND_TIMEOUT = 5.0
RETRY_SECONDS = 1.0
_TRUNCATE = 15_000  # characters kept of each long field of an oversized record
_RECV = 1 << 18

#: LogRecord attributes that travel (everything else is dropped)
_RECORD_FIELDS = (
    "name", "levelno", "levelname", "pathname", "filename", "module", "lineno", "funcName",
    "created", "msecs", "relativeCreated", "thread", "threadName", "processName", "process",
    "exc_text", "stack_info", "taskName", "actorAddress",
)


def record_to_dict(record: logging.LogRecord, formatter: logging.Formatter | None = None) -> dict:
    """The plain-value form of a record: message formatted, traceback as text."""
    out: dict[str, Any] = {}
    for key in _RECORD_FIELDS:
        value = record.__dict__.get(key)
        if value is None or isinstance(value, (str, int, float, bool)):
            out[key] = value
        else:
            out[key] = str(value)
    try:
        out["msg"] = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the record
        out["msg"] = f"{record.msg!r} % {record.args!r}"
    out["args"] = None
    if record.exc_info and not out.get("exc_text"):
        out["exc_text"] = (formatter or logging.Formatter()).formatException(record.exc_info)
    return out


# ------------------------------------------------------------------------------------- client


class RelayClient:
    """One process's connection to the driver's relay (reconnects after a fork)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._pid = -1
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._retry_at = 0.0

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()  # a thread of the parent may have held the old one
        if self._sock is not None:
            try:
                self._sock.close()  # our copy only; the parent's connection is untouched
            except OSError:
                pass
        self._sock = None
        self._retry_at = 0.0
        self._pid = os.getpid()

    def send(self, message: dict) -> bool:
        """Send one message; ``False`` if the relay is unreachable (the caller falls back)."""
        if self._pid != os.getpid():
            self._reset_after_fork()
        payload = msgpack.packb(message, use_bin_type=True)
        if len(payload) > MAX_MESSAGE:
            return False
        with self._lock:
            sock = self._sock
            if sock is None:
                if time.monotonic() < self._retry_at:
                    return False
                try:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    sock.settimeout(SEND_TIMEOUT)
                    sock.connect(self.path)
                except OSError:
                    if sock is not None:
                        sock.close()
                    self._retry_at = time.monotonic() + RETRY_SECONDS
                    return False
                self._sock = sock
            try:
                sock.send(payload)
                return True
            except OSError:
                sock.close()
                self._sock = None
                self._retry_at = time.monotonic() + RETRY_SECONDS
                return False


class RelayHandler(logging.Handler):
    """A ``logging`` handler that sends records to the driver.

    ``skip_own=True`` (how thespian's logger process is configured) skips the records created
    in the process running the handler: there they are thespian's own ("ActorSystem Logging
    Shutdown"); records of other processes only reach it from thespian's forwarding, which
    runic replaces (see the module docs).
    """

    def __init__(self, path: str, level: int | str = logging.NOTSET, skip_own: bool = False) -> None:
        super().__init__(level)
        self.client = RelayClient(path)
        self.skip_own = skip_own

    def emit(self, record: logging.LogRecord) -> None:
        if self.skip_own and record.process == os.getpid():
            return
        try:
            fields = record_to_dict(record, self.formatter)
            if len(msgpack.packb(fields, use_bin_type=True)) > MAX_MESSAGE - 1024:
                for key in ("msg", "exc_text", "stack_info"):  # a huge record: keep its head
                    if isinstance(fields.get(key), str) and len(fields[key]) > _TRUNCATE:
                        fields[key] = fields[key][:_TRUNCATE] + " [... cut by the log relay]"
            self.client.send({"t": "log", "r": fields})
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


class _RelayRaw(io.RawIOBase):
    """Raw byte sink behind a relayed ``sys.stdout``/``sys.stderr``."""

    def __init__(self, client: RelayClient, kind: str, fallback_fd: int) -> None:
        super().__init__()
        self.client = client
        self.kind = kind
        self.fallback_fd = fallback_fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fallback_fd

    def isatty(self) -> bool:
        return False

    def write(self, b: Any) -> int:
        data = bytes(b)
        step = MAX_MESSAGE - 64
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            if not self.client.send({"t": self.kind, "b": chunk}):
                try:
                    os.write(self.fallback_fd, chunk)
                except OSError:
                    pass
        return len(data)


def install_stdio(path: str | os.PathLike) -> None:
    """Make ``sys.stdout``/``sys.stderr`` of this process line-buffered streams to the relay."""
    client = RelayClient(path)
    for name, kind, fd in (("stdout", "out", 1), ("stderr", "err", 2)):
        raw = _RelayRaw(client, kind, fd)
        stream = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
        setattr(sys, name, stream)


# ------------------------------------------------------------------------ logging in actor processes

_actor_root: logging.Logger | None = None
_installed = False


def install_actor_logging(relay_path: str | None, log_file: str | None, level: int) -> None:
    """In a process just forked for a system: log only to the relay and the scratch log file."""
    global _actor_root
    from .logconf import append_handler

    handlers: list[logging.Handler] = []
    if relay_path is not None:
        to_driver = RelayHandler(relay_path)
        to_driver.addFilter(_not_thespian_banner)
        handlers.append(to_driver)
    if log_file is not None:
        try:
            handlers.append(append_handler(log_file))
        except OSError:
            pass
    root = logging.getLogger()
    for logger in list(root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers:
            # the driver's handlers write where the driver writes: drop them; a logger that does
            # not propagate gets the relay instead, so its records still reach the driver
            logger.handlers = [] if logger.propagate else list(handlers)
    root.handlers = list(handlers)
    root.setLevel(level)
    _actor_root = root


LEVEL_ENV = "RUNIC_SYSTEM_LOG_LEVEL"  # the system's level, for processes exec'd by its actors


def relay_this_process() -> bool:
    """Send this process's logs and ``print()`` output to the driver of its actor system.

    For processes an actor starts with ``exec`` (a ``multiprocessing`` *spawn* or *forkserver*
    child, a Python subprocess): they inherit the environment, not the set-up. Call it first
    thing in such a process (e.g. as a pool initializer). Returns ``False`` (and changes
    nothing) outside an actor system or when its relay is gone.
    """
    scratch = os.environ.get("RUNIC_SCRATCH_DIR")
    if not scratch:
        return False
    path = Path(scratch) / RELAY_FILE
    if not path.exists():
        return False
    try:
        level = int(os.environ.get(LEVEL_ENV, logging.WARNING))
    except ValueError:
        level = logging.WARNING
    install_actor_logging(str(path), str(Path(scratch) / "runic.log"), level)
    install_stdio(path)
    return True


def _not_thespian_banner(record: logging.LogRecord) -> bool:
    """thespian's admin logs "++++ Actor System ... started" / "---- Actor System shutdown" at
    INFO on the root logger at every start and stop: kept in runic.log, not sent to the driver."""
    if record.name == "root" and record.levelno < logging.WARNING and isinstance(record.msg, str):
        return not record.msg.startswith(("++++ Actor System", "---- Actor System"))
    return True


def _actor_root_logger(original: Any) -> Any:
    def make(to_addr: Any = None, transport: Any = None, logLevel: int = 0) -> logging.Logger:  # noqa: N803
        if _actor_root is None:  # a system runic did not start: thespian's own forwarding
            return original(to_addr, transport, logLevel)
        return _actor_root  # the inherited root, already set up: every logger ends there

    return make


def install() -> None:
    """Replace thespian's root logger of actor processes with runic's (idempotent; see module docs)."""
    global _installed
    if _installed:
        return
    from thespian.system import multiprocCommon

    multiprocCommon.ThespianLogForwarder = _actor_root_logger(multiprocCommon.ThespianLogForwarder)
    _installed = True


# ------------------------------------------------------------------------------------- server


class RelayServer:
    """The driver's end: accepts the system's processes and re-emits what they send."""

    def __init__(self, path: Path, name: str = "runic-relay") -> None:

        self.path = Path(path)
        self.name = name
        self.received = 0
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        private_fds.register_private_socket(self._listener)
        self._listener.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        private_fds.register_private_fd(self._wake_r)
        private_fds.register_private_fd(self._wake_w)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._conns: dict[socket.socket, dict[str, Any]] = {}
        self._stop_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                timeout = None if self._stop_at is None else max(0.0, self._stop_at - time.monotonic())
                for key, _ in self._sel.select(timeout):
                    obj = key.fileobj
                    if obj is self._listener:
                        self._accept()
                    elif obj == self._wake_r:
                        try:
                            os.read(self._wake_r, 512)
                        except OSError:
                            pass
                    else:
                        self._read(obj)  # type: ignore[arg-type]
                if self._stop_at is not None and (not self._conns or time.monotonic() >= self._stop_at):
                    return
        except Exception:  # noqa: BLE001 - the relay must not take the driver down
            log.exception("the log relay of %s stopped", self.name)
        finally:
            self._teardown()

    def _accept(self) -> None:

        try:
            conn, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", creds)
        except OSError:
            uid = -1
        if uid != os.getuid():
            conn.close()
            return
        conn.setblocking(False)
        private_fds.register_private_socket(conn)
        self._conns[conn] = {}
        self._sel.register(conn, selectors.EVENT_READ, None)

    def _drop(self, conn: socket.socket) -> None:

        decoders = self._conns.pop(conn, {})
        for kind, dec in decoders.items():
            tail = dec.decode(b"", final=True)
            if tail:
                self._write(kind, tail)
        try:
            self._sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        private_fds.unregister_private_socket(conn)
        conn.close()

    def _read(self, conn: socket.socket) -> None:
        for _ in range(64):  # bounded, so one chatty process cannot starve the others
            try:
                data = conn.recv(_RECV)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(conn)
                return
            if not data:
                self._drop(conn)
                return
            self.received += 1
            try:
                msg = msgpack.unpackb(data, raw=False)
                self._dispatch(conn, msg)
            except Exception:  # noqa: BLE001 - one bad message must not stop the relay
                log.debug("ignoring a malformed relay message", exc_info=True)

    def _dispatch(self, conn: socket.socket, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        kind = msg.get("t")
        if kind == "log":
            record = msg.get("r")
            if isinstance(record, dict):
                reemit(record)
        elif kind in ("out", "err"):
            data = msg.get("b")
            if isinstance(data, bytes):
                decoders = self._conns.setdefault(conn, {})
                dec = decoders.get(kind)
                if dec is None:
                    dec = decoders[kind] = codecs.getincrementaldecoder("utf-8")(errors="replace")
                text = dec.decode(data)
                if text:
                    self._write(kind, text)

    @staticmethod
    def _write(kind: str, text: str) -> None:
        stream = sys.stdout if kind == "out" else sys.stderr
        if stream is None:
            return
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing more to do
            pass

    def _teardown(self) -> None:

        for conn in list(self._conns):
            self._drop(conn)
        private_fds.unregister_private_socket(self._listener)
        self._sel.close()
        self._listener.close()
        for fd in (self._wake_r, self._wake_w):
            private_fds.unregister_private_fd(fd)
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.path.unlink()
        except OSError:
            pass

    # -- the driver's API -------------------------------------------------------------------------

    def close(self, timeout: float = 2.0) -> None:
        """Read every connection to its end (at most ``timeout`` s), then stop. Idempotent.

        Call it once the system's processes have exited: their connections are then closed
        and everything they sent is still buffered in the kernel, ready to be read.
        """
        if self._stop_at is None:
            self._stop_at = time.monotonic() + timeout
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass
        if self._thread is not threading.current_thread():
            self._thread.join(timeout + 1.0)


def reemit(fields: dict) -> None:
    """Hand a relayed record to the driver's ``logging`` (if its logger is enabled for the level)."""
    name = fields.get("name") or "root"
    levelno = fields.get("levelno")
    if not isinstance(levelno, int):
        return
    logger = logging.getLogger() if name == "root" else logging.getLogger(str(name))
    if not logger.isEnabledFor(levelno):
        return
    record = logging.makeLogRecord(fields)
    logger.handle(record)
