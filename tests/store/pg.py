"""Throwaway PostgreSQL servers for the tests: ``initdb`` and ``postgres`` from the installed
server binaries, run as an unprivileged user in a temporary directory, on a free loopback port.

Decisions:

* The server is started with ``postgres -D`` directly (not ``pg_ctl start``), as a child of the
  test process in a session of its own: the test knows its pid and its process group, so it can
  stop it (SIGINT, PostgreSQL's fast shutdown), or kill every process of that server at once
  (``killpg`` of its own group: the "kill -9 the primary" of the failover tests), and nothing is
  left behind re-parented to init.
* initdb refuses to run as root, and so does the server: when the tests run as root, every
  server command runs as ``postgres`` (the user Debian's package creates), else ``nobody``,
  through ``setuid`` in the child; the temporary directory is given to that user.
* ``fsync=on`` (the default, stated): the durability tests mean what they say.
* Authentication: ``trust`` on the Unix socket (in the temporary directory; replication uses
  it), ``scram-sha-256`` over TCP with the superuser's password :data:`PASSWORD`, so a wrong
  password is a real authentication failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

BIN = Path(os.environ.get("RUNIC_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "runic"
PASSWORD = "runic-test-pw"


def available() -> str | None:
    """``None`` if the server binaries are here, else why the PostgreSQL tests are skipped."""
    missing = [name for name in ("initdb", "postgres", "pg_ctl", "pg_basebackup") if not (BIN / name).exists()]
    if missing:
        return (f"PostgreSQL server binaries not found in {BIN} ({', '.join(missing)}): install the "
                "Debian package postgresql-15 (.ci/run does), or set RUNIC_PG_BIN")
    return None


def _account() -> tuple[int, int] | None:
    """``(uid, gid)`` to run the server as, or ``None`` when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root, and there is neither a 'postgres' nor a 'nobody' user to run PostgreSQL as")


def _demote(account: tuple[int, int] | None) -> Callable[[], None] | None:
    if account is None:
        return None
    uid, gid = account

    def preexec() -> None:
        os.setgid(gid)
        os.setgroups([])
        os.setuid(uid)

    return preexec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One PostgreSQL server (a data directory, a port, a process) under ``root``."""

    def __init__(self, root: Path, name: str, account: tuple[int, int] | None) -> None:
        self.root = root
        self.name = name
        self.account = account
        self.dir = root / name
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "server.log"
        self.dir.mkdir(mode=0o700)
        self._own(self.dir)

    # -- helpers

    def _own(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, *self.account)

    def run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[bytes]:
        """Run a server program as the server's user; raise with its output if it fails."""
        done = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=self.dir, preexec_fn=_demote(self.account),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stdout.decode(errors='replace')}")
        return done

    def dsn(self, dbname: str = "postgres", **extra: Any) -> str:
        """A TCP connection string (password authentication)."""
        parts = {"host": "127.0.0.1", "port": self.port, "user": USER, "password": PASSWORD,
                 "dbname": dbname, **extra}
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def url(self, dbname: str = "postgres") -> str:
        """The same as :meth:`dsn`, as a ``postgresql://`` URL (one word on a command line)."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, dbname: str = "postgres") -> Any:
        """An autocommit superuser connection (the caller closes it)."""
        import psycopg

        return psycopg.connect(self.dsn(dbname), autocommit=True)

    @property
    def node(self) -> str:
        return f"127.0.0.1:{self.port}"

    def configure(self, **settings: Any) -> None:
        lines = [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()]
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n# runic tests\n" + "\n".join(lines) + "\n")

    def base_settings(self) -> dict[str, Any]:
        return {"listen_addresses": "127.0.0.1", "port": self.port, "unix_socket_directories": str(self.dir),
                "fsync": "on", "max_connections": 200, "shared_buffers": "32MB", "wal_level": "replica",
                "max_wal_senders": 5, "hot_standby": "on", "logging_collector": "off",
                "log_min_messages": "warning", "dynamic_shared_memory_type": "posix"}

    # -- life cycle

    def initdb(self) -> None:
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        self._own(pwfile)
        self.run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "-E", "UTF8",
                 "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions")
        pwfile.unlink()
        self.configure(**self.base_settings())

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it accepts connections."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen([str(BIN / "postgres"), "-D", str(self.data)], cwd=self.dir,
                                         preexec_fn=_demote(self.account), start_new_session=True,
                                         stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL {self.name} exited at start: {self.log_tail()}")
            done = subprocess.run([str(BIN / "pg_isready"), "-h", str(self.dir), "-p", str(self.port), "-t", "1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL {self.name} did not accept connections in {timeout} s: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT); SIGKILL of the whole server if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL every process of this server (its own process group), and reap the postmaster."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        # the backends are the postmaster's children (re-parented to init once it died): wait
        # until the group is empty so the port and the data directory are free
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    def promote(self) -> None:
        self.run("pg_ctl", "promote", "-D", str(self.data), "-w", "-t", "60")

    def standby_of(self, primary: "Server", application_name: str = "s1") -> None:
        """Make this (uninitialised) server a streaming standby of ``primary``."""
        self.run("pg_basebackup", "-h", str(primary.dir), "-p", str(primary.port), "-U", USER,
                 "-D", str(self.data), "-X", "stream", "-c", "fast")
        signal_file = self.data / "standby.signal"
        signal_file.touch()
        self._own(signal_file)
        settings = self.base_settings()
        settings["primary_conninfo"] = (f"host={primary.dir} port={primary.port} user={USER} "
                                        f"application_name={application_name}")
        self.configure(**settings)


class Cluster:
    """The servers of a test session, all under one temporary directory, removed at the end."""

    def __init__(self) -> None:
        self.account = _account()
        self.root = Path(tempfile.mkdtemp(prefix="runic-pg-"))
        os.chmod(self.root, 0o755)
        self.servers: list[Server] = []

    def server(self, name: str) -> Server:
        s = Server(self.root, name, self.account)
        self.servers.append(s)
        return s

    def close(self) -> None:
        for s in self.servers:
            with contextlib.suppress(Exception):
                s.stop(10)
            with contextlib.suppress(Exception):
                s.kill()
        shutil.rmtree(self.root, ignore_errors=True)


class Proxy:
    """A loopback TCP proxy in front of a server that can lose a connection at the worst time:
    after the server answered (so after it committed) and before the client heard the answer.

    ``drop_next_answer()`` arms it: the next bytes any server sends through it are thrown away
    and both sides of that connection are closed, as when a network dies during ``COMMIT``.
    Runs on threads of the test process; :meth:`close` stops them.
    """

    def __init__(self, port: int) -> None:
        import threading

        self.target = port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.armed = threading.Event()
        self.dropped = 0
        self.closing = False
        self.socks: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def node(self) -> str:
        return f"127.0.0.1:{self.port}"

    def drop_next_answer(self) -> None:
        self.armed.set()

    def _accept(self) -> None:
        import threading

        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [client, server]
            for src, dst, answers in ((client, server, False), (server, client, True)):
                t = threading.Thread(target=self._pump, args=(src, dst, answers), daemon=True)
                self.threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if answers and self.armed.is_set():
                    self.armed.clear()
                    self.dropped += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        """Stop: ``shutdown`` wakes the threads blocked in ``accept``/``recv`` (``close`` alone
        would not), then they are joined."""
        self.closing = True
        for s in [self.listener, *self.socks]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        for t in self.threads:
            t.join(10)
            assert not t.is_alive(), "a proxy thread did not stop"
